"""Few-shot transfer: fit a handful of device scales to measured model latencies (MAP + Laplace).

A device nobody can reach has a datasheet (peaks, bandwidths) and a device-type prior
(efficiency curves, per-kernel overheads). A few measured model latencies pin down how far the
real device sits from that prior. Per kernel k of category c, with its prior compute and memory
times ``tc``, ``tm`` and overhead ``o`` (exactly the engine's terms)::

    t_k = exp(a_t[c]) * max(tc * exp(-a_c[c]), tm * exp(-a_m[c])) + o * exp(a_o[c])

where each ``a`` is a sum of the parameters that apply to c (global compute, memory and
overhead scales, plus per-category time scales). The MAP estimate minimises::

    sum_i (log T_i(theta) - log y_i)^2 / sigma_i^2 + sum_j (theta_j - mu_j)^2 / tau_j^2

with ``mu = 0`` (the prior itself) and widths ``tau`` derived from the priors file (the relative
spread of its curves and overheads, and its ``device_sigma``): data, not code. The max is kept
exact; the Jacobian follows the branch each kernel takes. The posterior covariance is the
inverse Gauss-Newton Hessian at the optimum (Laplace), so predictive intervals shrink as the
number of measurements k grows, and k = 0 returns the prior unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.stats import t as student_t

import estimator
from estimator.device import DeviceContext, device_context
from estimator.engine import combine_terms, ideal_terms, kernel_terms
from estimator.engine.kernel_set import KernelSet
from estimator.engine.layout import CATEGORIES
from estimator.engine.pack import DeviceArrays, KernelArrays
from estimator.errors import InputError
from estimator.predictor import device_columns, predict_models
from estimator.registry.models import (
    CategoryProfile,
    EfficiencyCurve,
    EfficiencyProfile,
    Hardware,
    KernelCategory,
    MeanStd,
    Provenance,
)
from estimator.zoo.nb201_reference import Semantics

Kind = Literal["compute", "memory", "overhead", "time"]
KINDS: tuple[str, ...] = ("compute", "memory", "overhead", "time")
#: What the fitted scales multiply: the prior's terms (efficiency curves and overheads), or the
#: ideal roofline (FLOPs / peak, bytes / bandwidth at efficiency 1, no overhead).
Base = Literal["prior", "roofline"]
BASES: tuple[str, ...] = ("prior", "roofline")

#: Relative per-model error assumed for the log-latency residuals (model misfit + run-to-run
#: noise) when fitting. A fit hyper-parameter, not a device number; callers may override it.
DEFAULT_SIGMA = 0.05
#: Weight (in observations) of ``sigma`` when the residual scale used for intervals is
#: re-estimated from the fit's own residuals: with few points sigma stays near the default,
#: with many the residuals decide.
SIGMA_PSEUDO_COUNT = 5


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One fitted log-scale: ``kind`` says which term it multiplies, ``categories`` where."""

    name: str
    kind: Kind
    #: None: every category.
    categories: tuple[KernelCategory, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"parameter {self.name!r}: kind {self.kind!r} not in {KINDS}")


_C = KernelCategory
DEFAULT_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("compute", "compute"),
    ParamSpec("memory", "memory"),
    ParamSpec("overhead", "overhead"),
    # conv efficiency departs from the prior per conv kind (3x3 vs 1x1 kernels of a library)
    ParamSpec("compute_conv_dense", "compute", (_C.CONV_DENSE,)),
    ParamSpec("compute_conv_pointwise", "compute", (_C.CONV_POINTWISE,)),
    ParamSpec("conv_dense", "time", (_C.CONV_DENSE,)),
    ParamSpec("conv_pointwise", "time", (_C.CONV_POINTWISE,)),
    ParamSpec("pooling", "time", (_C.POOLING,)),
    ParamSpec("elementwise", "time", (_C.ELEMENTWISE,)),
    ParamSpec("normalization", "time", (_C.NORMALIZATION,)),
)


def _lognormal_sd(cv: float) -> float:
    """sd of log X for a lognormal X with coefficient of variation ``cv``."""
    return float(np.sqrt(np.log1p(cv * cv)))


def prior_widths(prior: EfficiencyProfile, params: Sequence[ParamSpec]) -> NDArray[np.float64]:
    """tau per parameter, read off the prior: median relative spread of what it scales."""
    out = np.empty(len(params))
    for i, p in enumerate(params):
        cats = [c for c in (p.categories or tuple(prior.categories)) if c in prior.categories]
        if not cats:
            raise InputError(f"parameter {p.name!r}: the prior has none of its categories")
        cvs: list[float] = []
        for c in cats:
            cp = prior.categories[c]
            if p.kind == "compute":
                cvs.extend(s / m for s, m in zip(cp.compute.std, cp.compute.mean, strict=True))
            elif p.kind == "memory":
                cvs.extend(s / m for s, m in zip(cp.memory.std, cp.memory.mean, strict=True))
            elif p.kind == "overhead":
                if cp.overhead_us.mean > 0:
                    cvs.append(cp.overhead_us.std / cp.overhead_us.mean)
            else:
                cvs.append(prior.device_sigma)
        out[i] = _lognormal_sd(float(np.median(cvs))) if cvs else _lognormal_sd(1.0)
    return out


# --------------------------------------------------------------------------- per-kernel terms


@dataclass(frozen=True, slots=True)
class BaseTerms:
    """Prior compute time, memory time and overhead [s] of each unique kernel, and the roofs at
    efficiency 1 (a scaled efficiency is clamped at 1, as in the profile the fit becomes)."""

    tc: NDArray[np.float64]
    tm: NDArray[np.float64]
    o: NDArray[np.float64]
    category: NDArray[np.int32]
    tc_ideal: NDArray[np.float64]
    tm_ideal: NDArray[np.float64]


def base_terms(k: KernelArrays, dev: DeviceArrays, base: Base = "prior") -> BaseTerms:
    """The engine's own per-kernel terms (:func:`estimator.engine.kernel_terms`), split apart.

    ``base="roofline"``: the ideal roofs themselves and no overhead, so one time scale is the
    one-parameter FLOPs-and-bytes model (the smallest of :data:`estimator.transfer.LEVELS`)."""
    tc0, tm0 = ideal_terms(k, dev)
    if base == "roofline":
        return BaseTerms(tc0, tm0, np.zeros_like(tc0), k.category.copy(), tc0, tm0)
    if base != "prior":
        raise InputError(f"base {base!r} not in {BASES}")
    tc, tm, o = kernel_terms(k, dev)
    return BaseTerms(tc, tm, o, k.category.copy(), tc0, tm0)


def _apply_matrix(params: Sequence[ParamSpec], kind: str) -> NDArray[np.float64]:
    """(n_categories x n_params) 0/1: which parameters of ``kind`` act on each category."""
    m = np.zeros((len(CATEGORIES), len(params)))
    for j, p in enumerate(params):
        if p.kind != kind:
            continue
        for i, c in enumerate(CATEGORIES):
            if p.categories is None or c in p.categories:
                m[i, j] = 1.0
    return m


@dataclass(frozen=True, slots=True)
class _Model:
    base: BaseTerms
    A: dict[str, NDArray[np.float64]]  # kind -> (n_kernels x n_params)

    @classmethod
    def build(cls, base: BaseTerms, params: Sequence[ParamSpec]) -> _Model:
        return cls(base, {kd: _apply_matrix(params, kd)[base.category] for kd in KINDS})

    def kernel_times(
        self, theta: NDArray[np.float64], jac: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """Kernel times under log-scales ``theta``: each roof scaled (never faster than at
        efficiency 1), then the engine's roofline (:func:`estimator.engine.combine_terms`)."""
        a = {kd: m @ theta for kd, m in self.A.items()}
        b = self.base
        c_raw = b.tc * np.exp(a["time"] - a["compute"])
        m_raw = b.tm * np.exp(a["time"] - a["memory"])
        c_free = c_raw > b.tc_ideal
        m_free = m_raw > b.tm_ideal
        c = np.where(c_free, c_raw, b.tc_ideal)
        mm = np.where(m_free, m_raw, b.tm_ideal)
        ov = b.o * np.exp(a["overhead"])
        t, _ = combine_terms(c, mm, ov)
        if not jac:
            return t, None
        comp = c > mm  # the branch _combine takes, whatever binds
        dc = c[:, None] * (self.A["time"] - self.A["compute"]) * c_free[:, None]
        dm = mm[:, None] * (self.A["time"] - self.A["memory"]) * m_free[:, None]
        d = np.where(comp[:, None], dc, dm) + ov[:, None] * self.A["overhead"]
        return t, d


# --------------------------------------------------------------------------- the fit


@dataclass(frozen=True)
class FewShotFit:
    """A fitted device: MAP log-scales, their Laplace covariance and how to use them."""

    hardware: str
    runtime: str
    dtype: str
    threads: int
    params: tuple[ParamSpec, ...]
    theta: NDArray[np.float64]
    cov: NDArray[np.float64]
    prior_tau: NDArray[np.float64]
    #: Residual sd of log latency used for intervals (>= the fit's ``sigma``).
    sigma: float
    k: int
    prior: EfficiencyProfile
    hw: Hardware
    ctx: DeviceContext
    #: RMS of log residuals on the calibration set (NaN for k = 0).
    rms_log_residual: float = float("nan")
    #: Average gradient of log T over the calibration models (for device_sigma).
    mean_grad: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    source: str = "few-shot transfer"
    #: What NAS-Bench-201 arch strings meant in the measurements (None: none were NB201).
    nb201_semantics: Semantics | None = None
    #: What the scales multiply (:data:`BASES`).
    base: Base = "prior"
    #: Prior mean of theta (0: the datasheet prior; a meta-learned prior moves it).
    prior_mu: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: Name of the parameter set (a :data:`estimator.transfer.LEVELS` name, or "custom").
    level: str = "custom"
    #: Leave-one-out log residuals on the k points (linearised at the MAP: r_i / (1 - h_ii)).
    loo_residuals: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: Laplace log marginal likelihood of the k points (up to a data-only constant).
    log_evidence: float = float("nan")
    #: Multiplier of the predictive sd, learned out of sample (1: none).
    interval_scale: float = 1.0
    #: sd of the log error every model of the device shares beyond the parameter uncertainty
    #: (a device-level offset the k points cannot reveal), learned out of sample (0: none).
    offset_sigma: float = 0.0

    @property
    def scales(self) -> dict[str, float]:
        """Parameter name -> fitted multiplicative scale exp(theta)."""
        return {p.name: float(np.exp(t)) for p, t in zip(self.params, self.theta, strict=True)}

    @property
    def loo_rms(self) -> float:
        """RMS leave-one-out log error on the calibration points (NaN below k = 2)."""
        r = self.loo_residuals
        return float(np.sqrt(np.mean(r**2))) if r.size >= 2 else float("nan")

    def predict(self, models: KernelSet) -> tuple[NDArray[np.float64], ...]:
        """(mean, low, high) latency in ms of each model: what :func:`estimator.estimate`
        returns under the fitted profile (:meth:`to_profile`), through the one predictor."""
        ctx = device_context(
            self.hw,
            runtime=self.runtime,
            dtype=self.dtype,
            threads=self.threads,
            profile=self.profile,
        )
        totals = predict_models(models, ctx)
        lo, hi = totals.interval()
        return totals.mean * 1e3, lo * 1e3, hi * 1e3

    @cached_property
    def profile(self) -> EfficiencyProfile:
        """The fit as an efficiency profile (computed once)."""
        return self.to_profile()

    @property
    def is_prior(self) -> bool:
        """True when nothing moved the datasheet prior (k = 0 and no meta-learned mean)."""
        return self.k == 0 and self.base == "prior" and not np.any(self.theta)

    def parameter_variance(self) -> float:
        """Variance of log latency of a typical model from the parameters' posterior: g'Σg
        with g the mean gradient over the calibration models (k = 0: the widest scale)."""
        g = self.mean_grad
        if self.k == 0:
            # no models to take a typical sensitivity from: a model driven by the widest
            # scale alone bounds it
            return float(np.max(np.diag(self.cov))) if self.cov.size else 0.0
        return float(g @ self.cov @ g) if g.size else 0.0

    @property
    def dof(self) -> int:
        """Degrees of freedom of the residual scale: the k points plus the prior's
        ``SIGMA_PSEUDO_COUNT`` pseudo-observations (scaled-inverse-chi^2 posterior)."""
        return self.k + SIGMA_PSEUDO_COUNT

    def predictive_sigma(self) -> float:
        """sd of log latency of a typical model: the out-of-sample residual scale, the
        parameter uncertainty and the shared device-level offset (``offset_sigma``), times the
        interval scale (the last two learned out of sample on other devices) and times
        t_dof(0.975) / z(0.975): with sigma^2 estimated from :attr:`dof` observations the
        predictive distribution is a Student-t, whose 95% interval the lognormal one then is."""
        t_ratio = float(student_t.ppf(0.975, self.dof) / student_t.ppf(0.975, np.inf))
        var = self.sigma**2 + self.parameter_variance() + self.offset_sigma**2
        return float(self.interval_scale * t_ratio * np.sqrt(var))

    def to_profile(self) -> EfficiencyProfile:
        """The fit as an efficiency profile the estimator loads like any other.

        Curves keep the prior's knots; means are scaled (clamped to 1, the physical maximum),
        std is the posterior sd of the scale. device_sigma = :meth:`predictive_sigma`; an
        unmoved prior returns the prior's numbers. The ``roofline`` base writes flat curves
        at 1/scale and zero overhead (its source line says so).
        """
        cats: dict[KernelCategory, CategoryProfile] = {}
        mats = {kd: _apply_matrix(self.params, kd) for kd in KINDS}
        for ci, cat in enumerate(CATEGORIES):
            cp = self.prior.categories.get(cat)
            if cp is None:
                continue
            if self.is_prior:
                cats[cat] = cp
                continue
            vc = mats["compute"][ci] - mats["time"][ci]
            vm = mats["memory"][ci] - mats["time"][ci]
            vo = mats["overhead"][ci]
            if self.base == "roofline":
                compute, memory = _flat_curve(cp.compute), _flat_curve(cp.memory)
                over = 0.0
            else:
                compute, memory, over = cp.compute, cp.memory, cp.overhead_us.mean
            cats[cat] = CategoryProfile(
                compute=_scaled_curve(compute, float(vc @ self.theta), _sd(vc, self.cov), self.k),
                memory=_scaled_curve(memory, float(vm @ self.theta), _sd(vm, self.cov), self.k),
                overhead_us=MeanStd(
                    mean=over * float(np.exp(vo @ self.theta)),
                    std=over * float(np.exp(vo @ self.theta)) * _sd(vo, self.cov),
                    n=self.k,
                ),
            )
        device_sigma = self.prior.device_sigma if self.is_prior else self.predictive_sigma()
        level = "" if self.level == "custom" else f" level={self.level}"
        if self.base == "roofline":
            level += " (one scale on the ideal roofline; per-kernel overhead not modelled: 0)"
        return EfficiencyProfile(
            runtime=self.runtime,
            dtype=self.dtype,
            threads=self.threads,
            calibrated=self.k > 0,
            device_sigma=device_sigma,
            categories=cats,
            provenance=Provenance(
                date=datetime.now(UTC).date().isoformat(),
                tool_version=estimator.__version__,
                machine_fingerprint={"hardware": self.hardware},
                n_measurements=self.k,
                fit_r2={},
                source=f"{self.source}: k={self.k}{level}, "
                + ", ".join(f"{n}={v:.3g}" for n, v in self.scales.items()),
                nb201_semantics=self.nb201_semantics,
                layout_reorders=self.ctx.nchwc_block is not None,
            ),
        )


def _sd(v: NDArray[np.float64], cov: NDArray[np.float64]) -> float:
    return float(np.sqrt(max(float(v @ cov @ v), 0.0)))


def _flat_curve(c: EfficiencyCurve) -> EfficiencyCurve:
    """The prior's knots at efficiency 1 (the ideal roof), std 0."""
    return EfficiencyCurve(
        knots_log10=list(c.knots_log10),
        mean=[1.0] * len(c.mean),
        std=[0.0] * len(c.mean),
        n=list(c.n),
    )


def _scaled_curve(c: EfficiencyCurve, log_scale: float, sd: float, k: int) -> EfficiencyCurve:
    mean = [min(1.0, m * float(np.exp(log_scale))) for m in c.mean]
    return EfficiencyCurve(
        knots_log10=list(c.knots_log10),
        mean=mean,
        std=[m * sd for m in mean],
        n=[k] * len(mean),
    )


def _starts(
    model: _Model,
    counts: sp.csr_matrix,
    y_s: NDArray[np.float64],
    params: Sequence[ParamSpec],
    mu: NDArray[np.float64],
) -> list[NDArray[np.float64]]:
    """Starting points: the prior, and the prior with all time put on overheads, on the
    roofline terms, or on one time scale (each scaled to the measured median).

    Kernels sitting on one side of the max give no gradient for the other side's scale, so a
    device whose overhead is 5x the prior's is not reached from the prior alone; a time scale
    at the efficiency-1 clamp has no gradient at all until moved off it.
    """
    out = [mu.copy()]
    b = model.base
    t0, _ = model.kernel_times(mu)
    at_mu = np.asarray(counts @ t0).reshape(-1)
    over_only = np.asarray(counts @ b.o).reshape(-1)
    roof_only = np.asarray(counts @ np.maximum(b.tc, b.tm)).reshape(-1)
    for kind, total in (("overhead", over_only), ("compute", roof_only), ("time", at_mu)):
        idx = [j for j, p in enumerate(params) if p.kind == kind and p.categories is None]
        if not idx or not np.all(total > 0):
            continue
        shift = float(np.log(np.median(y_s / total)))
        x0 = mu.copy()
        if kind == "compute":
            x0[idx[0]] -= shift
            mem = [j for j, p in enumerate(params) if p.kind == "memory" and p.categories is None]
            if mem:
                x0[mem[0]] -= shift
        else:
            x0[idx[0]] += shift
        out.append(x0)
    return out


def fit(
    hw: Hardware,
    prior: EfficiencyProfile,
    models: KernelSet,
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    threads: int | None = None,
    params: Sequence[ParamSpec] = DEFAULT_PARAMS,
    sigma: float = DEFAULT_SIGMA,
    quantum_ms: float | None = None,
    source: str = "few-shot transfer",
    nb201_semantics: Semantics | None = None,
    base: Base = "prior",
    mu: Sequence[float] | NDArray[np.float64] | None = None,
    tau: Sequence[float] | NDArray[np.float64] | None = None,
    level: str = "custom",
    residual_sigma: float | None = None,
    interval_scale: float = 1.0,
    offset_sigma: float = 0.0,
) -> FewShotFit:
    """MAP fit of ``params`` to the measured ``latencies_ms`` of ``models`` (one per model).

    ``quantum_ms``: resolution of the measurements (1.0 for whole milliseconds): each point's
    sigma is at least half a quantum over its latency, so a 3 ms phone reading counts less than
    a 30 ms one. ``mu``/``tau``: prior mean and width of theta (default: 0 and the widths read
    off the priors file; a meta-learned prior passes its own). ``residual_sigma``: the residual
    scale the interval assumes before seeing data (default ``sigma``), updated by the
    leave-one-out residuals of the k points; ``offset_sigma`` (a log error shared by every model
    of the device) adds to the predictive variance and ``interval_scale`` multiplies the sd.
    With no models the prior comes back (theta = mu, cov = diag(tau^2)).
    """
    y = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
    if y.shape[0] != len(models):
        raise InputError(f"{len(models)} models but {y.shape[0]} latencies")
    if y.size and (not np.all(np.isfinite(y)) or np.any(y <= 0)):
        raise InputError("latencies must be positive finite numbers (ms)")
    n_threads = hw.cores if threads is None else threads
    ctx = device_context(
        hw, runtime=prior.runtime, dtype=prior.dtype, threads=n_threads, profile=prior
    )
    params = tuple(params)
    tau_v = prior_widths(prior, params) if tau is None else np.asarray(tau, dtype=np.float64)
    mu_v = np.zeros(len(params)) if mu is None else np.asarray(mu, dtype=np.float64)
    if tau_v.shape != (len(params),) or mu_v.shape != (len(params),) or np.any(tau_v <= 0):
        raise InputError(f"prior mean/width: one per parameter ({len(params)}), widths > 0")
    s0 = sigma if residual_sigma is None else float(residual_sigma)
    common = {
        "hardware": hw.id,
        "runtime": prior.runtime,
        "dtype": prior.dtype,
        "threads": n_threads,
        "params": params,
        "prior_tau": tau_v,
        "prior_mu": mu_v,
        "sigma": max(s0, sigma),
        "k": int(y.size),
        "prior": prior,
        "hw": hw,
        "ctx": ctx,
        "source": source,
        "nb201_semantics": nb201_semantics,
        "base": base,
        "level": level,
        "interval_scale": float(interval_scale),
        "offset_sigma": float(offset_sigma),
    }
    model = _Model.build(base_terms(device_columns(models.kernels, ctx), ctx.arrays, base), params)
    counts: sp.csr_matrix = models.counts
    if y.size == 0:
        return FewShotFit(
            theta=mu_v.copy(),
            cov=np.diag(tau_v**2),
            mean_grad=np.zeros(len(params)),
            **common,  # type: ignore[arg-type]
        )
    s_i = np.full(y.shape, sigma)
    if quantum_ms:
        s_i = np.maximum(s_i, 0.5 * quantum_ms / y)
    log_y = np.log(y * 1e-3)

    def residuals(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        t, _ = model.kernel_times(theta)
        total = np.asarray(counts @ t).reshape(-1)
        return np.concatenate([(np.log(total) - log_y) / s_i, (theta - mu_v) / tau_v])

    def jacobian(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        t, d = model.kernel_times(theta, jac=True)
        assert d is not None
        total = np.asarray(counts @ t).reshape(-1)
        jd = np.asarray(counts @ d) / (total * s_i)[:, None]
        return np.vstack([jd, np.diag(1.0 / tau_v)])

    best: tuple[float, NDArray[np.float64]] | None = None
    for x0 in _starts(model, counts, y * 1e-3, params, mu_v):
        res = least_squares(residuals, x0, jac=jacobian, method="trf", x_scale="jac")
        if best is None or float(res.cost) < best[0]:
            best = (float(res.cost), res.x)
    assert best is not None
    cost, theta = best
    t, d = model.kernel_times(theta, jac=True)
    assert d is not None
    total = np.asarray(counts @ t).reshape(-1)
    resid = np.log(total) - log_y
    rms = float(np.sqrt(np.mean(resid**2)))
    grad = np.asarray(counts @ d) / total[:, None]
    # Leave-one-out residuals, linearised at the MAP: r_i / (1 - h_ii) with h the hat matrix
    # of the whitened data rows (prior rows included in the normal matrix).
    jw = np.vstack([grad / s_i[:, None], np.diag(1.0 / tau_v)])
    info = jw.T @ jw
    inv = np.asarray(np.linalg.pinv(info), dtype=np.float64)
    jd_w = grad / s_i[:, None]
    h = np.einsum("ij,jk,ik->i", jd_w, inv, jd_w)
    loo = resid / np.clip(1.0 - h, 1e-3, None)
    # Laplace log evidence (constants of the data alone dropped): -cost - 1/2 log det(info)
    # - sum log tau; comparable across parameter sets fitted to the same points.
    sign, logdet = np.linalg.slogdet(info)
    log_ev = -cost - 0.5 * logdet - float(np.sum(np.log(tau_v))) if sign > 0 else -np.inf
    # Residual scale for the intervals: posterior mean of sigma^2 under a scaled-inv-chi^2
    # prior worth SIGMA_PSEUDO_COUNT observations at s0, updated by the out-of-sample (LOO)
    # residuals, which do not shrink with the parameters the way in-sample ones do.
    r_oos = loo if y.size >= 2 else resid
    s_hat = float(
        np.sqrt((np.sum(r_oos**2) + SIGMA_PSEUDO_COUNT * s0**2) / (y.size + SIGMA_PSEUDO_COUNT))
    )
    s_hat = max(s_hat, sigma)
    jd = grad / (s_i * (s_hat / sigma))[:, None]
    j = np.vstack([jd, np.diag(1.0 / tau_v)])
    cov = np.asarray(np.linalg.pinv(j.T @ j), dtype=np.float64)
    common["sigma"] = s_hat
    return FewShotFit(
        theta=theta,
        cov=cov,
        rms_log_residual=rms,
        mean_grad=grad.mean(axis=0),
        loo_residuals=loo,
        log_evidence=float(log_ev),
        **common,  # type: ignore[arg-type]
    )
