"""From measured calibration runs to an :class:`EfficiencyProfile`, and whole-model predictions.

Steps: attribute profiled node times to kernels (:mod:`attribute`), fit each category's curves
and overhead on kernel times (:mod:`fit`), then look at whole models. A kernel inside an
unprofiled network run does not cost what it cost alone or under the profiler: per-category
scales and a per-kernel gap, fitted on the calibration networks' measured medians
(:mod:`network_fit`), say by how much; the gap is added to every category's overhead. Both are
numbers for the device, never a per-model correction. The remaining scatter of whole-model errors
is ``device_sigma``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

import estimator
from estimator.calibration.attribute import Attribution, KernelPoint, prepared
from estimator.calibration.collect import CalibRun
from estimator.calibration.dispersion import fit_dispersion
from estimator.calibration.fit import CategoryFit, FitOptions, fit_all
from estimator.calibration.kernel_fit import fit_correction
from estimator.calibration.network_fit import fit_network, network_terms
from estimator.device import device_context
from estimator.engine.uncertainty import P95, Z95
from estimator.errors import InputError
from estimator.host import provenance_fingerprint
from estimator.kernelmodel.model import KernelModel
from estimator.partition import KernelPlan, load_rules
from estimator.predictor import ModelTotals, predict_models
from estimator.registry.models import (
    CategoryProfile,
    EfficiencyProfile,
    Hardware,
    KernelCategory,
    MeanStd,
    NetworkFit,
    Provenance,
)
from estimator.zoo.family import family_of

PROFILE_RUNTIME = "onnxruntime-cpu"


@dataclass(frozen=True, slots=True)
class WholeModel:
    """A calibration network: its kernel plan and its measured whole-run latency (s)."""

    name: str
    plan: KernelPlan
    measured: float
    attribution: Attribution | None = None
    #: Median, 90th and 99th percentile of the timed runs (s) and their number: the run-to-run
    #: dispersion (NaN / 0 when unknown).
    median: float = float("nan")
    p90: float = float("nan")
    p99: float = float("nan")
    runs: int = 0


@dataclass(slots=True)
class Calibration:
    profile: EfficiencyProfile
    fits: dict[KernelCategory, CategoryFit]
    #: Per-kernel time added to every overhead from whole-model runs (s).
    gap: float
    #: log(measured / predicted) of each whole model used, after the gap.
    model_residuals: dict[str, float] = field(default_factory=dict)
    #: The learned shape correction of the curves (None: too few measured kernels, or off).
    kernel_model: KernelModel | None = None


def whole_model(
    run: CalibRun,
    statistic: str = "median",
    att: Attribution | None = None,
    nchwc_block: int | None = None,
) -> WholeModel:
    """``statistic``: 'median' (wall time, the default), 'p10' (wall) or 'cpu' (median thread CPU
    time, contention-free with one intra-op thread). ``nchwc_block``: the device's blocked
    layout, as the plan is partitioned for it."""
    figures = {"median": run.median_ms, "p10": run.p10_ms, "cpu": run.cpu_median_ms}
    if statistic not in figures:
        raise InputError(f"whole-run statistic must be one of {', '.join(figures)}")
    ms = figures[statistic]
    name = run.zoo_name or run.model_name
    return WholeModel(
        name,
        prepared(run.model_path, nchwc_block).plan,
        ms * 1e-3,
        att,
        median=run.median_ms * 1e-3,
        p90=run.p90_ms * 1e-3,
        p99=run.p99_ms * 1e-3,
        runs=run.runs,
    )


def build_profile(
    fits: dict[KernelCategory, CategoryFit],
    *,
    threads: int,
    device_sigma: float,
    gap_us: float,
    n_measurements: int,
    source: str,
    runtime: str = PROFILE_RUNTIME,
    dtype: str = "fp32",
    layout_reorders: bool = False,
    network_fit: NetworkFit | None = None,
) -> EfficiencyProfile:
    cats: dict[KernelCategory, CategoryProfile] = {}
    for cat, f in fits.items():
        ov = f.profile.overhead_us
        cats[cat] = f.profile.model_copy(
            update={"overhead_us": MeanStd(mean=ov.mean + gap_us, std=ov.std, n=ov.n)}
        )
    return EfficiencyProfile(
        runtime=runtime,
        dtype=dtype,
        threads=threads,
        calibrated=True,
        device_sigma=device_sigma,
        categories=cats,
        network_fit=network_fit,
        provenance=Provenance(
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            tool_version=estimator.__version__,
            machine_fingerprint=provenance_fingerprint(),
            n_measurements=n_measurements,
            fit_r2={str(c): round(float(f.r2), 6) for c, f in fits.items() if math.isfinite(f.r2)},
            source=source,
            layout_reorders=layout_reorders,
        ),
    )


def predict_totals(
    plans: Sequence[KernelPlan],
    hw: Hardware,
    profile: EfficiencyProfile,
    threads: int,
    kernel_model: KernelModel | None = None,
) -> ModelTotals:
    """What :func:`estimator.estimate` returns for ``plans`` on ``hw`` under ``profile`` and its
    ``kernel_model`` (the one predictor; categories the profile lacks come from the prior)."""
    ctx = device_context(
        hw, runtime=PROFILE_RUNTIME, threads=threads, profile=profile, kernel_model=kernel_model
    )
    return predict_models(plans, ctx)


def calibrate(
    points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    hw: Hardware,
    threads: int,
    *,
    opts: FitOptions | None = None,
    use_network_fit: bool = True,
    source: str = "",
    kernel_model: bool = True,
    seed: int = 0,
    score: bool = True,
) -> Calibration:
    """Fit curves on ``points``, then (``kernel_model``) their learned shape correction on the
    same points; gap and device_sigma from ``models`` (whole runs) under both. ``score=False``:
    the correction carries no held-out error table (refits, which nobody ships)."""
    o = opts or FitOptions()
    # Like the network fit, the profiler's per-node cost comes from whole runs: without
    # ``use_network_fit`` the kernels are priced as profiled.
    offset = profiler_offset(models) if use_network_fit else 0.0
    points = without_profiler(points, offset, o.profiler_min_share)
    fits = fit_all(points, o)
    src = source or f"calibration on {hw.id}: {len(points)} kernels, {len(models)} networks"
    # The device's layout reorders are kernels of the measured plans (load_dataset partitions
    # them for its blocked layout), so the profile prices them and says so.
    layout = load_rules(PROFILE_RUNTIME).nchwc_block(hw.simd_bits) is not None
    base = build_profile(
        fits,
        threads=threads,
        device_sigma=0.0,
        gap_us=0.0,
        n_measurements=len(points),
        source=src,
        layout_reorders=layout,
    )
    km = (
        fit_correction(
            points,
            hw,
            base,
            threads,
            runtime=PROFILE_RUNTIME,
            seed=seed,
            min_points=o.kernel_model_min_points,
            score=score,
        )
        if kernel_model and fits
        else None
    )
    gap = 0.0
    resid: dict[str, float] = {}
    sigma = 0.0
    plans = [m.plan for m in models]
    net: NetworkFit | None = None
    if models and use_network_fit:
        ctx = device_context(
            hw, runtime=PROFILE_RUNTIME, threads=threads, profile=base, kernel_model=km
        )
        floor = -min((f.profile.overhead_us.mean for f in fits.values()), default=0.0) * 1e-6
        net = fit_network(
            network_terms(plans, ctx),
            np.array([m.measured for m in models]),
            prior_log_sd=o.network_prior_log_sd,
            gap_floor=floor,
            gap_prior_s=o.network_gap_prior_us * 1e-6,
            families=[family_of(m.name) for m in models],
        ).model_copy(update={"profiler_offset_us": offset * 1e6})
        gap = net.gap_us * 1e-6

    def final(sigma: float) -> EfficiencyProfile:
        return build_profile(
            fits,
            threads=threads,
            device_sigma=sigma,
            gap_us=gap * 1e6,
            n_measurements=len(points) + len(models),
            source=src,
            layout_reorders=layout,
            network_fit=net,
        )

    if models:
        # Residuals of exactly what the shipped profile will predict (the gap is in its
        # overheads), through the same predictor as every estimate.
        pred = predict_totals(plans, hw, final(0.0), threads, km)
        r, rel_kvar = log_errors(models, pred.mean, pred.kernel_var)
        resid = {m.name: float(x) for m, x in zip(models, r, strict=True)}
        # Whole-model scatter the kernel variances do not already explain, as a predictive
        # scale for a network outside the fit.
        dof = max(len(models) - (1 if use_network_fit else 0), 1)
        sigma = scatter_sigma(r, rel_kvar, dof)
    profile = final(sigma)
    disp = fit_dispersion(models)
    if disp is not None:
        profile = profile.model_copy(update={"dispersion": disp})
    return Calibration(profile, fits, gap, resid, km)


def profiler_offset(models: Sequence[WholeModel]) -> float:
    """What the profiler adds per timed node (s): the median over ``models`` of (sum of their
    profiled node times - whole unprofiled run) / profiled nodes, 0 if not positive.

    Every measured kernel is a profiled node time, and onnxruntime's profiler pays a fixed cost
    per node (timestamps, one event record; more with a thread pool to join) that an unprofiled
    run does not: on small networks the profiled nodes add up to 1.3-1.9x the run. The cost is the
    same for a 2 us Reshape and a 2 ms convolution, so it is a per-node offset, not a scale, and
    it is measured on the device and thread count being calibrated."""
    per_node = [
        (a.profiled_us * 1e-6 - m.measured) / a.profiled_nodes
        for m in models
        if (a := m.attribution) is not None and a.profiled_nodes > 0 and m.measured > 0
    ]
    if not per_node:
        return 0.0
    return max(float(np.median(per_node)), 0.0)


def without_profiler(
    points: Sequence[KernelPoint], offset: float, min_share: float
) -> list[KernelPoint]:
    """``points`` with the profiler's per-node ``offset`` (s) taken out of each time, never
    below ``min_share`` of the profiled time."""
    if offset <= 0:
        return list(points)
    return [replace(p, t=max(p.t - offset * p.nodes, p.t * min_share)) for p in points]


def scatter_sigma(
    log_resid: Sequence[float] | NDArray[np.float64],
    rel_kvar: Sequence[float] | NDArray[np.float64],
    dof: int,
) -> float:
    """``device_sigma`` from whole-model log errors: their scatter, widened for being estimated
    from ``dof`` of them (:func:`predictive_factor`), less what the kernel variances
    (``rel_kvar``, relative to each total) already explain."""
    r = np.asarray(log_resid, dtype=np.float64)
    if r.size == 0:
        return 0.0
    scatter = float(np.sum(r * r)) / max(dof, 1) * predictive_factor(max(dof, 1)) ** 2
    return math.sqrt(max(scatter - float(np.mean(rel_kvar)), 0.0))


def held_out_predictions(
    points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    hw: Hardware,
    threads: int,
    *,
    groups: Sequence[str] | None = None,
    opts: FitOptions | None = None,
    use_network_fit: bool = True,
    kernel_model: bool = True,
    progress: Callable[[WholeModel, float], None] | None = None,
    on_refit: Callable[[Calibration, list[int]], None] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per network: predicted total (s) and kernel variance (s^2) from a fit that leaves out the
    network's group: the kernels (``points`` of their attributions) and whole runs of every
    network sharing its ``groups`` label (None: each network is its own group). ``progress``
    gets each network and its prediction as it is made; ``on_refit`` each refit and the indices
    of the networks it predicts (for breakdowns of what it got wrong)."""
    labels = [m.name for m in models] if groups is None else list(groups)
    if len(labels) != len(models):
        raise InputError(f"{len(models)} networks but {len(labels)} group labels")
    total = np.zeros(len(models))
    kv = np.zeros(len(models))
    for g in dict.fromkeys(labels):
        held = [i for i, lab in enumerate(labels) if lab == g]
        others = [m for lab, m in zip(labels, models, strict=True) if lab != g]
        atts = [models[i].attribution for i in held]
        own = {a.model for a in atts if a is not None}
        pts = [p for p in points if p.model not in own]
        cal = calibrate(
            pts,
            others,
            hw,
            threads,
            opts=opts,
            use_network_fit=use_network_fit,
            kernel_model=kernel_model,
            score=False,
        )
        # The calibrated profile already carries the gap in its overheads.
        pred = predict_totals([models[i].plan for i in held], hw, cal.profile, threads,
                              cal.kernel_model)  # fmt: skip
        if on_refit is not None:
            on_refit(cal, held)
        for k, i in enumerate(held):
            total[i] = float(pred.mean[k])
            kv[i] = float(pred.kernel_var[k])
            if progress is not None:
                progress(models[i], total[i])
    return total, kv


def held_out_residuals(
    points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    hw: Hardware,
    threads: int,
    *,
    use_network_fit: bool = True,
    kernel_model: bool = True,
    groups: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per network: held-out log(measured / predicted) and kernel variance relative to the
    prediction. In-sample residuals are too small (each network's kernels helped fit the curves
    that predict it), so a sigma from them gives intervals that miss unseen networks too often.
    ``groups`` (e.g. block families) are held out whole, as :func:`held_out_predictions` does."""
    total, kv = held_out_predictions(
        points,
        models,
        hw,
        threads,
        groups=groups,
        use_network_fit=use_network_fit,
        kernel_model=kernel_model,
    )
    return log_errors(models, total, kv)


def log_errors(
    models: Sequence[WholeModel], total: NDArray[np.float64], kvar: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per network: log(measured / predicted total) and kernel variance relative to the total
    squared, the two inputs of :func:`scatter_sigma`."""
    return np.log(np.array([m.measured for m in models]) / total), kvar / total**2


def predictive_factor(dof: int) -> float:
    """Widening of a scale estimated from ``dof`` residuals, for the 95% interval of a new one.

    A new network's log error divided by a scale estimated from ``dof`` others follows Student's
    t with ``dof`` degrees of freedom, not a normal: with 13 calibration networks the 95% quantile
    is 2.16, not 1.96. Scaling sigma by the quantile ratio lets the engine keep its normal-based
    interval (see docs/calibration.md, "How wide the interval is")."""
    return float(sps.t.ppf(P95, dof) / Z95)


def peak_excess(points: Sequence[KernelPoint], quantile: float = 0.9) -> float:
    """How far measured kernels exceed the registry peak: the ``quantile`` of achieved / peak
    FLOP/s over compute-bound kernels (> 1 means hardware.json's peak is too low, and the curves,
    capped at 1, will over-predict the fastest kernels)."""
    ratios = [p.t_compute / p.t for p in points if p.compute_bound and p.t > 0]
    return float(np.quantile(ratios, quantile)) if ratios else float("nan")
