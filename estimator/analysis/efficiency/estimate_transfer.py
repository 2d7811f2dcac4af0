"""Estimate transfer: the project's answer to seed 000's "measure 1 device, predict 105".

Two ways to know a target device's ranking without measuring every model there:

* **rank transfer**: measure every model on a source device and keep its ranking (scored by the
  Spearman of source against target latencies; for k >= 1, the source latencies times one scale,
  the geometric mean of target/source over the k shots, give a MAPE too);
* **the estimator**: the target's registry description with its type's documented prior
  (k = 0), or a few-shot fit on k target measurements (:func:`estimator.transfer.fit`).

Both are scored on the same query models; the k shots are drawn (seeded) from the pool models
and never scored. Each k > 0 is averaged over ``draws`` draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.ranks import geomean, spearman
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError


@dataclass(frozen=True)
class TargetTransfer:
    device: str
    hardware: str
    #: k -> mean over draws of Spearman / MAPE of the estimator on the query models.
    estimator_spearman: dict[int, float]
    estimator_mape: dict[int, float]
    #: source device -> Spearman of its latencies against this target's (query models).
    source_spearman: dict[str, float]
    #: k -> MAPE of the best source's latencies scaled by the k shots (k >= 1).
    scaled_source_mape: dict[int, float]

    @property
    def best_source(self) -> str:
        return max(self.source_spearman, key=lambda s: self.source_spearman[s])

    @property
    def median_source_spearman(self) -> float:
        return float(np.median(list(self.source_spearman.values())))


@dataclass(frozen=True)
class EstimateTransferResult:
    shots: tuple[int, ...]
    draws: int
    n_pool: int
    n_query: int
    targets: tuple[TargetTransfer, ...]
    #: Devices the estimator could not be run for, with the reason.
    skipped: dict[str, str]

    def beats(self, k: int, against: str = "best") -> int:
        """Targets where the estimator at k ranks better than the best (or median) source."""
        n = 0
        for t in self.targets:
            ref = (
                t.source_spearman[t.best_source]
                if against == "best"
                else (t.median_source_spearman)
            )
            n += t.estimator_spearman[k] > ref
        return n

    def to_dict(self) -> dict[str, object]:
        return {
            "shots": list(self.shots),
            "draws": self.draws,
            "pool": self.n_pool,
            "query": self.n_query,
            "skipped": self.skipped,
            "targets": [
                {
                    "device": t.device,
                    "hardware": t.hardware,
                    "estimator_spearman": {str(k): v for k, v in t.estimator_spearman.items()},
                    "estimator_mape": {str(k): v for k, v in t.estimator_mape.items()},
                    "best_source": t.best_source,
                    "best_source_spearman": t.source_spearman[t.best_source],
                    "median_source_spearman": t.median_source_spearman,
                    "source_spearman": t.source_spearman,
                    "scaled_source_mape": {str(k): v for k, v in t.scaled_source_mape.items()},
                }
                for t in self.targets
            ],
            "estimator_beats_best_source": {str(k): self.beats(k) for k in self.shots},
            "estimator_beats_median_source": {str(k): self.beats(k, "median") for k in self.shots},
        }


def _mape(pred: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(pred - y) / y))


def estimate_transfer(
    table: EfficiencyTable,
    *,
    shots: Sequence[int] = (0, 5, 10),
    draws: int = 5,
    seed: int = 0,
    pool: Sequence[int] | None = None,
    query: Sequence[int] | None = None,
) -> EstimateTransferResult:
    """``pool``/``query``: model indices shots are drawn from / scored on (default: every model
    for both; shots drawn from the query are left out of that draw's score)."""
    from estimator.transfer import column_setup, fit, prior_for, resolve_references

    if len(table.devices) < 2:
        raise InputError("estimate transfer needs at least two devices")
    n = len(table.models)
    pool_i = np.arange(n) if pool is None else np.asarray(pool, dtype=np.int64)
    query_i = np.arange(n) if query is None else np.asarray(query, dtype=np.int64)
    ks = tuple(sorted(set(shots)))
    if any(k < 0 for k in ks) or (ks and ks[-1] > pool_i.size):
        raise InputError(f"shots must be between 0 and the {pool_i.size} pool models, got {ks}")
    lat = table.latency_ms
    rng = np.random.default_rng(seed)
    targets: list[TargetTransfer] = []
    skipped: dict[str, str] = {}
    for j, dev in enumerate(table.devices):
        try:
            setup = column_setup(dev, lat[:, j])
            hw, prior = prior_for(setup.hardware, setup.runtime)
            models = resolve_references(
                list(table.models),
                runtime=setup.runtime,
                batch=setup.batch,
                semantics=setup.semantics,
            )
        except InputError as exc:
            skipped[dev] = str(exc)
            continue
        y = lat[:, j]
        rho: dict[int, float] = {}
        mape: dict[int, float] = {}
        scaled: dict[int, float] = {}
        src_rho = {
            table.devices[s]: spearman(lat[query_i, s], y[query_i])
            for s in range(len(table.devices))
            if s != j
        }
        best = table.devices.index(max(src_rho, key=lambda s: src_rho[s]))
        for k in ks:
            r, m, sm = [], [], []
            for _ in range(draws if k else 1):
                pick = rng.choice(pool_i, size=k, replace=False) if k else pool_i[:0]
                scored = np.setdiff1d(query_i, pick)
                f = fit(hw, prior, models.subset(pick), y[pick], quantum_ms=setup.quantum_ms)
                mean = f.predict(models.subset(scored))[0]
                r.append(spearman(mean, y[scored]))
                m.append(_mape(mean, y[scored]))
                if k:
                    scale = float(geomean(y[pick] / lat[pick, best]))
                    sm.append(_mape(scale * lat[scored, best], y[scored]))
            rho[k], mape[k] = float(np.mean(r)), float(np.mean(m))
            if k:
                scaled[k] = float(np.mean(sm))
        targets.append(TargetTransfer(dev, setup.hardware, rho, mape, src_rho, scaled))
    if not targets:
        raise InputError(
            "estimate transfer: no device of the table is a registry device ("
            + "; ".join(f"{d}: {why}" for d, why in skipped.items())
            + ")"
        )
    return EstimateTransferResult(
        ks, draws, int(pool_i.size), int(query_i.size), tuple(targets), skipped
    )
