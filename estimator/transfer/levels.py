"""Nested parameter sets, and the choice among them by the evidence of the k points.

Ten scales are not identified from ten latencies on every search space: on a space whose
latency is FLOPs-and-bytes-bound the extra terms fit noise, and the fit ranks below FLOPs.
So the fit is a ladder, smallest first:

- ``roofline``: one scale on the ideal roofline ``max(F / peak, B / bandwidth)`` summed over the
  kernels (no overhead, no efficiency curves): the FLOPs-and-bytes model;
- ``scale``: one scale on the prior's whole kernel times (the prior's ranking);
- ``cmo``: compute, memory and overhead scales on the prior's terms;
- ``full``: ``cmo`` plus per-conv compute scales and per-category time scales
  (:data:`estimator.transfer.DEFAULT_PARAMS`).

:func:`fit_selected` fits every level and keeps the richest unless a smaller one's
leave-one-out log error on the k points is lower by more than the noise of that comparison
(``select="loo"``, the default), or the level whose Laplace evidence is highest
(``select="evidence"``). Each level's prior is the meta-learned one of the device type when
given (:mod:`estimator.transfer.metaprior`), else the datasheet widths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from estimator.engine.kernel_set import KernelSet
from estimator.errors import InputError
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.fewshot import (
    DEFAULT_PARAMS,
    DEFAULT_SIGMA,
    Base,
    FewShotFit,
    ParamSpec,
    fit,
    prior_widths,
)
from estimator.transfer.metaprior import MetaPrior
from estimator.zoo.nb201_reference import Semantics

Select = Literal["loo", "evidence"]
#: Prior width (log units) of a level's one free scale when no meta-prior is given: the ideal
#: roofline is 10-1000x faster than a real device, so its scale is left to the data.
FREE_TAU = 5.0
#: Below this many points the leave-one-out error cannot rank levels: the richest level is
#: used, held by its prior.
MIN_SELECT = 3
#: Standard errors by which a smaller level's leave-one-out error must beat the richest's.
SWITCH_Z = 2.0


@dataclass(frozen=True, slots=True)
class Level:
    """One parameter set of the ladder: its name, what it scales and its parameters."""

    name: str
    base: Base
    params: tuple[ParamSpec, ...]
    #: True: the datasheet gives no width for this level's scale (FREE_TAU instead).
    free: bool = False

    def datasheet_tau(self, prior: EfficiencyProfile) -> NDArray[np.float64]:
        if self.free:
            return np.full(len(self.params), FREE_TAU)
        return prior_widths(prior, self.params)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


_TIME = (ParamSpec("scale", "time"),)
LEVELS: tuple[Level, ...] = (
    Level("roofline", "roofline", _TIME, free=True),
    Level("scale", "prior", _TIME),
    Level("cmo", "prior", DEFAULT_PARAMS[:3]),
    Level("full", "prior", DEFAULT_PARAMS),
)
LEVEL_NAMES: tuple[str, ...] = tuple(lv.name for lv in LEVELS)


def level(name: str) -> Level:
    for lv in LEVELS:
        if lv.name == name:
            return lv
    raise InputError(f"level {name!r} not in {', '.join(LEVEL_NAMES)}")


def fit_level(
    lv: Level,
    hw: Hardware,
    prior: EfficiencyProfile,
    models: KernelSet,
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    meta: MetaPrior | None = None,
    batch: int = 1,
    quantum_ms: float | None = None,
    sigma: float = DEFAULT_SIGMA,
    threads: int | None = None,
    source: str = "few-shot transfer",
    nb201_semantics: Semantics | None = None,
) -> FewShotFit:
    """One level's MAP fit, under the meta-prior of the type (for models run at ``batch``)
    when given."""
    mu: NDArray[np.float64] | None = None
    tau = lv.datasheet_tau(prior)
    residual_sigma: float | None = None
    scale = 1.0
    offset = 0.0
    if meta is not None and lv.name in meta.levels:
        lp = meta.level_prior(lv.name, batch)
        mu, tau = lp.vectors(lv.names)
        residual_sigma = lp.residual_sigma
        scale = lp.interval_scale
        offset = lp.offset_sigma
    return fit(
        hw,
        prior,
        models,
        latencies_ms,
        threads=threads,
        params=lv.params,
        sigma=sigma,
        quantum_ms=quantum_ms,
        source=source,
        nb201_semantics=nb201_semantics,
        base=lv.base,
        mu=mu,
        tau=tau,
        level=lv.name,
        residual_sigma=residual_sigma,
        interval_scale=scale,
        offset_sigma=offset,
    )


def _choose(fits: Mapping[str, FewShotFit], scores: Mapping[str, float], select: Select) -> str:
    """The richest level, unless a smaller one is better by more than the noise of the
    comparison: for ``loo``, the mean paired difference of squared LOO errors must exceed
    SWITCH_Z standard errors (the k points are few, so an unpaired minimum would switch on
    noise); for ``evidence``, the best evidence wins."""
    names = list(fits)
    richest = names[-1]
    if select == "evidence":
        return min(names, key=lambda n: (scores[n], names.index(n)))
    r_rich = fits[richest].loo_residuals ** 2
    best, best_score = richest, scores[richest]
    for n in names[:-1]:
        d = r_rich - fits[n].loo_residuals ** 2
        se = float(np.std(d, ddof=1) / np.sqrt(d.size))
        if float(np.mean(d)) > SWITCH_Z * se and scores[n] < best_score:
            best, best_score = n, scores[n]
    return best


@dataclass(frozen=True, slots=True)
class Selection:
    """Every level's fit and the one chosen."""

    chosen: FewShotFit
    fits: Mapping[str, FewShotFit]
    #: level -> criterion value (LOO RMS log error, lower is better; or -log evidence).
    scores: Mapping[str, float]
    criterion: Select


def fit_selected(
    hw: Hardware,
    prior: EfficiencyProfile,
    models: KernelSet,
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    levels: Sequence[Level] = LEVELS,
    meta: MetaPrior | None = None,
    select: Select = "loo",
    batch: int = 1,
    quantum_ms: float | None = None,
    sigma: float = DEFAULT_SIGMA,
    threads: int | None = None,
    source: str = "few-shot transfer",
    nb201_semantics: Semantics | None = None,
) -> Selection:
    """Fit each of ``levels`` and choose one by the k points' own evidence (module docstring).

    With fewer than :data:`MIN_SELECT` points the last (richest) level is chosen: a
    leave-one-out error of one or two points says nothing about ranking, and the (meta-)prior
    holds the rich level's scales. Ties go to the smaller level.
    """
    if select not in ("loo", "evidence"):
        raise InputError(f"select {select!r} not in ('loo', 'evidence')")
    if not levels:
        raise InputError("no levels to choose from")
    y = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
    fits = {
        lv.name: fit_level(
            lv,
            hw,
            prior,
            models,
            y,
            meta=meta,
            batch=batch,
            quantum_ms=quantum_ms,
            sigma=sigma,
            threads=threads,
            source=source,
            nb201_semantics=nb201_semantics,
        )
        for lv in levels
    }
    if select == "loo":
        scores = {n: f.loo_rms for n, f in fits.items()}
    else:
        scores = {n: -f.log_evidence for n, f in fits.items()}
    name = levels[-1].name
    if y.size >= MIN_SELECT:
        name = _choose(fits, scores, select)
    chosen = fits[name]
    chosen = replace(chosen, source=f"{source} (level {name} chosen by {select})")
    return Selection(chosen, fits, scores, select)
