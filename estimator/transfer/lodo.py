"""Leave-one-device-out: learn the meta-prior without the device being scored, then score it.

For each scored device d:

1. every other device of d's group (device type, runtime) is fitted well once (all its pool
   rows, datasheet prior, every level): :func:`training_fit`;
2. the interval scale is learned out of sample from the other devices only (of every group,
   so that one scale is learned from many devices): each other device e is fitted at a few k
   under the meta-prior of its group learned without d and e, and its query-set errors give
   the standardized residuals (:func:`estimator.transfer.metaprior.interval_scale_from`);
3. the meta-prior learned from the other devices of d's group (with that interval scale) shrinks
   d's few-shot fits; the level is chosen per fit (:func:`estimator.transfer.levels.fit_selected`).

d's latencies enter only step 3's fits on its own k points and the scoring on its query set:
``test_lodo_never_reads_the_held_out_column`` replaces them with noise and checks that the
prior d is fitted under does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from estimator.engine.kernel_set import KernelSet
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.fewshot import DEFAULT_PARAMS, DEFAULT_SIGMA, FewShotFit, fit
from estimator.transfer.levels import LEVELS, Level, Select, fit_level, fit_selected
from estimator.transfer.metaprior import (
    Z95,
    MetaPrior,
    TrainingDevice,
    build,
    interval_scale_from,
    offset_sigma_from,
)

#: k values and draws of the inner (interval-scale) folds.
INNER_KS: tuple[int, ...] = (5, 10, 20)
INNER_DRAWS = 2
#: Fewest other devices of the scored device's group whose inner fits set its interval
#: calibration; with fewer, every other device's do.
MIN_GROUP_DEVICES = 2
METHOD = (
    "empirical Bayes over training devices fitted on all their pool rows (datasheet prior): "
    "mu = mean theta, tau^2 = (scatter + posterior variances + NU0 * datasheet tau^2) / (n + NU0); "
    "device offset sd and interval scale learned on the training devices' query sets (of the "
    "device's group when it has 2 or more), each fitted under a prior learned without it"
)


@dataclass(frozen=True)
class DeviceData:
    """One device's measured networks, with the pool/query split used to fit and score it."""

    name: str
    hw: Hardware
    #: The device type's datasheet prior, labelled with the runtime the device ran.
    prior: EfficiencyProfile
    models: KernelSet
    y: NDArray[np.float64]
    pool: NDArray[np.int64]
    query: NDArray[np.int64]
    #: FLOPs per network (the baseline ranking).
    flops: NDArray[np.float64]
    quantum_ms: float | None = None
    batch: int = 1
    threads: int | None = None
    source: str = ""
    #: Assumed relative error per measurement in the fits.
    sigma: float = DEFAULT_SIGMA

    @property
    def group(self) -> tuple[str, str]:
        """(device type, runtime): devices that share a meta-prior."""
        return (self.hw.type, self.prior.runtime)


@dataclass(frozen=True)
class Trained:
    """A training device's well-determined fit at every level."""

    device: TrainingDevice
    group: tuple[str, str]


def training_fit(d: DeviceData, levels: Sequence[Level] = LEVELS) -> Trained:
    """Fit every level on all of ``d``'s pool rows under the datasheet prior."""
    sub = d.models.subset(d.pool)
    theta: dict[str, dict[str, float]] = {}
    var: dict[str, dict[str, float]] = {}
    rsig: dict[str, float] = {}
    for lv in levels:
        f = fit_level(
            lv, d.hw, d.prior, sub, d.y[d.pool], quantum_ms=d.quantum_ms, threads=d.threads,
            sigma=d.sigma,
        )  # fmt: skip
        theta[lv.name] = dict(zip(lv.names, f.theta.tolist(), strict=True))
        var[lv.name] = dict(zip(lv.names, np.diag(f.cov).tolist(), strict=True))
        rsig[lv.name] = float(f.rms_log_residual)
    dev = TrainingDevice(
        name=d.name,
        hardware=d.hw.id,
        source=d.source,
        runtime=d.prior.runtime,
        batch=d.batch,
        n_measurements=int(d.pool.size),
        theta=theta,
        variance=var,
        residual_sigma=rsig,
    )
    return Trained(dev, d.group)


def learn_meta(
    trained: Sequence[Trained],
    prior: EfficiencyProfile,
    group: tuple[str, str],
    levels: Sequence[Level] = LEVELS,
    interval_scale: float = 1.0,
    interval_note: str = "",
    offset_sigma: float = 0.0,
) -> MetaPrior | None:
    """The meta-prior of ``group`` from the training fits of that group (None if none)."""
    mine = [t.device for t in trained if t.group == group]
    if not mine:
        return None
    tau0 = {
        lv.name: dict(zip(lv.names, lv.datasheet_tau(prior).tolist(), strict=True)) for lv in levels
    }
    return build(
        group[0], group[1], mine, tau0, METHOD, interval_scale, interval_note, offset_sigma
    )


def _rho(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(spearmanr(a, b).statistic)


def zscores(lo: NDArray[np.float64], hi: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray:
    """Standardized log errors of ``y`` under lognormal 95% intervals [lo, hi]."""
    return np.asarray(_log_error(lo, hi, y) / _log_sd(lo, hi), dtype=np.float64)


def _log_sd(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.float64]:
    """The log-space sd of lognormal 95% intervals [lo, hi]."""
    return np.asarray((np.log(hi) - np.log(lo)) / (2 * Z95), dtype=np.float64)


def _log_error(
    lo: NDArray[np.float64], hi: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log(y) minus the log-space centre of [lo, hi]."""
    return np.asarray(np.log(y) - 0.5 * (np.log(hi) + np.log(lo)), dtype=np.float64)


def _draws(d: DeviceData, k: int, n: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    if k == 0:
        return [np.zeros(0, np.int64)]
    return [rng.choice(d.pool, size=k, replace=False) for _ in range(n)]


def _selected(
    d: DeviceData, pick: NDArray[np.int64], meta: MetaPrior | None, levels: Sequence[Level],
    select: Select,
) -> FewShotFit:  # fmt: skip
    return fit_selected(
        d.hw,
        d.prior,
        d.models.subset(pick),
        d.y[pick],
        levels=levels,
        meta=meta,
        select=select,
        batch=d.batch,
        quantum_ms=d.quantum_ms,
        threads=d.threads,
    ).chosen


@dataclass(frozen=True)
class IntervalCalibration:
    """What widens a scored device's intervals, learned on other devices only."""

    scale: float
    offset_sigma: float
    note: str


def _inner_errors(
    e: DeviceData, meta: MetaPrior, levels: Sequence[Level], select: Select,
    rng: np.random.Generator,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float]]:  # fmt: skip
    """(log error, interval sd, parameter variance ḡΣḡ) of each inner few-shot fit of ``e`` on
    its query set (interval scale 1, no offset: the meta-prior is learned without them)."""
    q = e.models.subset(e.query)
    out = []
    for k in INNER_KS:
        for pick in _draws(e, k, INNER_DRAWS, rng):
            f = _selected(e, pick, meta, levels, select)
            _, lo, hi = f.predict(q)
            s = _log_sd(lo, hi)
            err = _log_error(lo, hi, e.y[e.query])
            par = f.parameter_variance()
            out.append((err, s, par))
    return out


def learned_interval_scale(
    scored: DeviceData,
    others: Sequence[DeviceData],
    trained: dict[str, Trained],
    levels: Sequence[Level] = LEVELS,
    select: Select = "loo",
    seed: int = 0,
) -> IntervalCalibration:
    """How ``scored``'s intervals widen, learned on ``others`` only.

    Each other device e is fitted at k in :data:`INNER_KS` under a prior learned without e
    (and without ``scored``). From its query errors: the device-level offset sd
    (:func:`offset_sigma_from`: the shared error its parameter uncertainty misses), then the
    interval scale (:func:`interval_scale_from`) of the errors standardized by
    sqrt(interval sd^2 + offset^2). Both come from the devices of ``scored``'s group (device
    type, runtime) when at least :data:`MIN_GROUP_DEVICES` of them give inner fits, since the
    model's misfit is a property of the device type; else from every other device.
    """
    rng = np.random.default_rng(seed)
    per: dict[str, tuple[tuple[str, str], list[tuple[NDArray, NDArray, float]]]] = {}
    for e in others:
        rest = [trained[x.name] for x in others if x.name != e.name]
        meta = learn_meta(rest, e.prior, e.group, levels)
        if meta is None:
            continue
        per[e.name] = (e.group, _inner_errors(e, meta, levels, select, rng))
    if not per:
        return IntervalCalibration(1.0, 0.0, "no other devices: interval scale 1, no offset")
    same = [n for n, (g, _) in per.items() if g == scored.group]
    names = same if len(same) >= MIN_GROUP_DEVICES else list(per)
    where = f"group {scored.group[0]}/{scored.group[1]}" if names is same else "all groups"
    fits = [per[n][1] for n in names]
    off = offset_sigma_from(
        [[float(np.mean(err)) for err, _, _ in fs] for fs in fits],
        [[par for _, _, par in fs] for fs in fits],
    )
    z = [np.concatenate([err / np.sqrt(s**2 + off**2) for err, s, _ in fs]) for fs in fits]
    c = interval_scale_from(z)
    before = np.concatenate([err / s for fs in fits for err, s, _ in fs])
    inside = float(np.mean(np.abs(before) <= Z95))
    note = (
        f"learned on {', '.join(names)} ({where}; k in {list(INNER_KS)}, {INNER_DRAWS} draws "
        f"each): 95% coverage {inside:.3f} before, device offset sd {off:.3f}, scale {c:.3f}"
    )
    return IntervalCalibration(c, off, note)


@dataclass
class DeviceResult:
    """Per-k scores of one held-out device (lists are per draw)."""

    name: str
    hardware: str
    group: tuple[str, str]
    flops_rho: float
    training_devices: list[str]
    interval_scale: float
    rho: dict[int, list[float]] = field(default_factory=dict)
    #: sd of the device-level offset its intervals assume (learned on other devices).
    offset_sigma: float = 0.0
    mape: dict[int, list[float]] = field(default_factory=dict)
    coverage: dict[int, list[float]] = field(default_factory=dict)
    level: dict[int, list[str]] = field(default_factory=dict)
    #: Today's fit: the fixed 10-parameter set under the datasheet prior.
    base_rho: dict[int, list[float]] = field(default_factory=dict)
    base_mape: dict[int, list[float]] = field(default_factory=dict)
    base_coverage: dict[int, list[float]] = field(default_factory=dict)
    flops_mape: dict[int, list[float]] = field(default_factory=dict)


def score_device(
    d: DeviceData,
    meta: MetaPrior | None,
    ks: Sequence[int],
    draws: int,
    seed: int,
    levels: Sequence[Level] = LEVELS,
    select: Select = "loo",
    baseline: bool = True,
) -> DeviceResult:
    """Few-shot fits of ``d`` at each k (seeded draws from its pool), scored on its query."""
    yq = d.y[d.query]
    q = d.models.subset(d.query)
    res = DeviceResult(
        d.name,
        d.hw.id,
        d.group,
        _rho(d.flops[d.query], yq),
        [t.name for t in meta.training_devices] if meta else [],
        meta.interval_scale if meta else 1.0,
        offset_sigma=meta.offset_sigma if meta else 0.0,
    )
    rng = np.random.default_rng(seed)
    for k in ks:
        for key in ("rho", "mape", "coverage", "level", "base_rho", "base_mape"):
            getattr(res, key)[k] = []
        res.base_coverage[k], res.flops_mape[k] = [], []
        for pick in _draws(d, k, draws, rng):
            f = _selected(d, pick, meta, levels, select)
            mean, lo, hi = f.predict(q)
            res.rho[k].append(_rho(mean, yq))
            res.mape[k].append(float(np.mean(np.abs(mean - yq) / yq)))
            res.coverage[k].append(float(np.mean((yq >= lo) & (yq <= hi))))
            res.level[k].append(f.level)
            if baseline:
                b = fit(
                    d.hw,
                    d.prior,
                    d.models.subset(pick),
                    d.y[pick],
                    params=DEFAULT_PARAMS,
                    quantum_ms=d.quantum_ms,
                    threads=d.threads,
                )
                bm, blo, bhi = b.predict(q)
                res.base_rho[k].append(_rho(bm, yq))
                res.base_mape[k].append(float(np.mean(np.abs(bm - yq) / yq)))
                res.base_coverage[k].append(float(np.mean((yq >= blo) & (yq <= bhi))))
            if k:
                scale = float(np.exp(np.mean(np.log(d.y[pick]) - np.log(d.flops[pick]))))
                res.flops_mape[k].append(float(np.mean(np.abs(scale * d.flops[d.query] - yq) / yq)))
    return res


def prior_for_device(
    d: DeviceData,
    training: Sequence[DeviceData],
    trained: dict[str, Trained],
    levels: Sequence[Level] = LEVELS,
    select: Select = "loo",
    seed: int = 0,
) -> MetaPrior | None:
    """The meta-prior ``d`` is fitted under: learned on ``training`` (never ``d``)."""
    others = [e for e in training if e.name != d.name]
    if not any(e.group == d.group for e in others):
        return None
    cal = learned_interval_scale(d, others, trained, levels, select, seed)
    return learn_meta(
        [trained[e.name] for e in others], d.prior, d.group, levels, cal.scale, cal.note,
        cal.offset_sigma,
    )  # fmt: skip


def leave_one_device_out(
    devices: Sequence[DeviceData],
    ks: Sequence[int],
    draws: int,
    seed: int = 0,
    *,
    scored: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
    levels: Sequence[Level] = LEVELS,
    select: Select = "loo",
    baseline: bool = True,
) -> list[DeviceResult]:
    """Score each device of ``scored`` (default: all) under a prior learned on ``training``
    (default: all) minus itself."""
    train = [d for d in devices if training is None or d.name in training]
    trained = {d.name: training_fit(d, levels) for d in train}
    out = []
    for i, d in enumerate(devices):
        if scored is not None and d.name not in scored:
            continue
        meta = prior_for_device(d, train, trained, levels, select, seed)
        out.append(score_device(d, meta, ks, draws, seed + i, levels, select, baseline))
    return out
