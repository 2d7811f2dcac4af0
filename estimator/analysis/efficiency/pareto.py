"""Pareto transfer (seed 001, section 5.4): is one device's latency-accuracy Pareto set the
Pareto set of another? Precision = share of the source's set that is Pareto on the target,
recall = share of the target's set the source found, F1 their harmonic mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError


def pareto_set(latency: NDArray[np.float64], accuracy: NDArray[np.float64]) -> frozenset[int]:
    """Models no other model beats: none is at least as fast and as accurate and better in one."""
    out = set()
    for i in range(latency.size):
        dominated = (latency <= latency[i]) & (accuracy >= accuracy[i])
        dominated &= (latency < latency[i]) | (accuracy > accuracy[i])
        if not np.any(dominated):
            out.add(i)
    return frozenset(out)


@dataclass(frozen=True)
class ParetoTransferResult:
    models: tuple[str, ...]
    devices: tuple[str, ...]
    sets: tuple[frozenset[int], ...]
    #: devices x devices (source row, target column).
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    f1: NDArray[np.float64]
    #: Registry type of each device.
    types: tuple[str, ...] = ()

    def tiers(self) -> dict[str, tuple[int, float, float, float]]:
        """ "source->target" type -> (pairs, mean precision, mean recall, mean F1)."""
        groups: dict[str, list[tuple[int, int]]] = {}
        for i, a in enumerate(self.types):
            for j, b in enumerate(self.types):
                if i != j:
                    groups.setdefault(f"{a}->{b}", []).append((i, j))
        return {
            name: (
                len(ij),
                float(np.mean([self.precision[i, j] for i, j in ij])),
                float(np.mean([self.recall[i, j] for i, j in ij])),
                float(np.mean([self.f1[i, j] for i, j in ij])),
            )
            for name, ij in sorted(groups.items())
        }

    def off_diagonal(self, m: NDArray[np.float64]) -> NDArray[np.float64]:
        return m[~np.eye(len(self.devices), dtype=bool)]

    def to_dict(self) -> dict[str, object]:
        d = len(self.devices)
        return {
            "pareto_sets": {
                n: sorted(self.models[i] for i in s)
                for n, s in zip(self.devices, self.sets, strict=True)
            },
            "mean_precision": float(np.mean(self.off_diagonal(self.precision))),
            "mean_recall": float(np.mean(self.off_diagonal(self.recall))),
            "mean_f1": float(np.mean(self.off_diagonal(self.f1))),
            "tiers": {
                k: {"pairs": n, "precision": pr, "recall": rc, "f1": f}
                for k, (n, pr, rc, f) in self.tiers().items()
            },
            "pairs": [
                {
                    "source": self.devices[i],
                    "target": self.devices[j],
                    "precision": float(self.precision[i, j]),
                    "recall": float(self.recall[i, j]),
                    "f1": float(self.f1[i, j]),
                }
                for i in range(d)
                for j in range(d)
                if i != j
            ],
        }


def pareto_transfer(
    table: EfficiencyTable, types: tuple[str, ...] | None = None
) -> ParetoTransferResult:
    """``types``: the tier of each device (default: looked up in the registry)."""
    from estimator.analysis.efficiency.sources import device_type

    if not table.has("accuracy"):
        raise InputError("Pareto transfer needs an accuracy column")
    acc = table.column("accuracy")
    bad = [m for m, a in zip(table.models, acc, strict=True) if not np.isfinite(a)]
    if bad:
        raise InputError(f"Pareto transfer: model {bad[0]!r} has no accuracy")
    sets = tuple(pareto_set(table.latency_ms[:, j], acc) for j in range(len(table.devices)))
    d = len(sets)
    p, r, f = np.ones((d, d)), np.ones((d, d)), np.ones((d, d))
    for i in range(d):
        for j in range(d):
            both = len(sets[i] & sets[j])
            p[i, j] = both / len(sets[i])
            r[i, j] = both / len(sets[j])
            f[i, j] = 2 * p[i, j] * r[i, j] / (p[i, j] + r[i, j]) if both else 0.0
    kinds = types if types is not None else tuple(device_type(n) for n in table.devices)
    return ParetoTransferResult(table.models, table.devices, sets, p, r, f, kinds)
