"""FRM (seed 000): the geometric mean of a model's FLOPs, latency and memory ratios against a
baseline model on the same device, and the test that the baseline does not matter.

Changing the baseline from b to b' divides every FRM on a device by the same number (b's FRM
against b'), so rankings on each device, and every rank correlation between devices, stay as
they were: seed 000's "ratio of ratios" invariance. :func:`baseline_invariance` checks it on the
data rather than assuming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.ranks import ranks, spearman
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError

#: The ratios FRM can combine, in the seed's order.
COMPONENTS: tuple[str, ...] = ("flops", "latency_ms", "memory_mb")


@dataclass(frozen=True)
class FrmResult:
    models: tuple[str, ...]
    devices: tuple[str, ...]
    baseline: str
    #: The ratios that went into the geometric mean (flops, latency_ms, memory_mb).
    components: tuple[str, ...]
    #: Ratios FRM would use that the table lacks (named, never taken as 1).
    missing: tuple[str, ...]
    #: models x devices.
    frm: NDArray[np.float64]
    #: models x devices, 1 = most efficient.
    ranks: NDArray[np.float64]

    def to_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline,
            "components": list(self.components),
            "missing": list(self.missing),
            "devices": list(self.devices),
            "models": [
                {"model": m, "frm": dict(zip(self.devices, row.tolist(), strict=True))}
                for m, row in zip(self.models, self.frm, strict=True)
            ],
        }


def _usable(table: EfficiencyTable, column: str) -> bool:
    return table.has(column) and bool(np.all(np.isfinite(table.column(column))))


def frm(table: EfficiencyTable, baseline: str | None = None) -> FrmResult:
    """FRM of every model on every device against ``baseline`` (default: the first model)."""
    base = baseline if baseline is not None else table.models[0]
    if base not in table.models:
        raise InputError(f"baseline {base!r} is not a model of {table.source or 'the table'}")
    b = table.models.index(base)
    used = tuple(c for c in COMPONENTS if _usable(table, c))
    missing = tuple(c for c in COMPONENTS if c not in used)
    logs = np.zeros(table.latency_ms.shape)
    for c in used:
        v = table.column(c)
        ratio = v / v[b] if v.ndim == 1 else v / v[b][None, :]
        if np.any(ratio <= 0):
            raise InputError(f"FRM: column '{c}' has a non-positive value")
        logs += np.log(ratio if ratio.ndim == 2 else ratio[:, None])
    values = np.exp(logs / len(used))
    r = np.column_stack([ranks(values[:, j]) for j in range(values.shape[1])])
    return FrmResult(table.models, table.devices, base, used, missing, values, r)


@dataclass(frozen=True)
class InvarianceResult:
    baselines: tuple[str, ...]
    #: Largest change of any model's rank on any device between two baselines.
    max_rank_change: float
    #: Largest change of any device-pair Spearman of FRM between two baselines.
    max_spearman_change: float

    @property
    def invariant(self) -> bool:
        return self.max_rank_change == 0.0 and self.max_spearman_change < 1e-9

    def to_dict(self) -> dict[str, object]:
        return {
            "baselines": list(self.baselines),
            "max_rank_change": self.max_rank_change,
            "max_spearman_change": self.max_spearman_change,
            "invariant": self.invariant,
        }


def device_spearman(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """devices x devices Spearman of the columns of ``values`` (models x devices)."""
    d = values.shape[1]
    out = np.ones((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            out[i, j] = out[j, i] = spearman(values[:, i], values[:, j])
    return out


def baseline_invariance(
    table: EfficiencyTable, baselines: Sequence[str] | None = None
) -> InvarianceResult:
    """FRM ranks and cross-device rank correlations under each baseline (default: every model),
    and how much they move."""
    names = tuple(baselines) if baselines is not None else table.models
    results = [frm(table, b) for b in names]
    ref = results[0]
    ref_rho = device_spearman(ref.frm)
    rank_change = max(float(np.max(np.abs(r.ranks - ref.ranks))) for r in results)
    rho_change = max(float(np.max(np.abs(device_spearman(r.frm) - ref_rho))) for r in results)
    return InvarianceResult(names, rank_change, rho_change)
