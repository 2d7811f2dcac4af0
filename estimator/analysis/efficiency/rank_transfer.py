"""Rank transfer (seed 000, analysis 2): measure on one device, keep its ranking for another.

For every ordered device pair: Spearman, Kendall, ranking flips (model pairs ordered the other
way) and top-k overlap; per tier pair (the registry types: gpu -> mobile, cpu -> gpu, ...) the
mean, worst and best of those; per target the source that ranks it best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.frm import frm
from estimator.analysis.efficiency.ranks import flips, kendall, spearman, top_k_overlap
from estimator.analysis.efficiency.sources import device_type
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError

METRICS: tuple[str, ...] = ("latency", "frm")


@dataclass(frozen=True)
class TierSummary:
    source_type: str
    target_type: str
    pairs: int
    mean_spearman: float
    min_spearman: float
    max_spearman: float
    mean_flip_fraction: float
    mean_top_k: float

    @property
    def name(self) -> str:
        return f"{self.source_type}->{self.target_type}"


@dataclass(frozen=True)
class RankTransferResult:
    metric: str
    models: tuple[str, ...]
    devices: tuple[str, ...]
    #: Registry type of each device ("unknown" for names the registry does not know).
    types: tuple[str, ...]
    k: int
    #: devices x devices (symmetric, 1 on the diagonal).
    spearman: NDArray[np.float64]
    kendall: NDArray[np.float64]
    #: devices x devices, counts of flipped model pairs.
    flips: NDArray[np.int64]
    #: devices x devices, share of the source's top k in the target's top k.
    top_k: NDArray[np.float64]
    tiers: tuple[TierSummary, ...]

    @property
    def n_pairs(self) -> int:
        n = len(self.models)
        return n * (n - 1) // 2

    def best_source(self, target: int) -> int:
        """The other device whose ranking correlates best with ``target``'s."""
        rho = self.spearman[:, target].copy()
        rho[target] = -np.inf
        return int(np.argmax(rho))

    def to_dict(self) -> dict[str, object]:
        d = len(self.devices)
        pairs = [
            {
                "source": self.devices[i],
                "target": self.devices[j],
                "spearman": float(self.spearman[i, j]),
                "kendall": float(self.kendall[i, j]),
                "flips": int(self.flips[i, j]),
                "flip_fraction": float(self.flips[i, j] / max(self.n_pairs, 1)),
                "top_k": float(self.top_k[i, j]),
            }
            for i in range(d)
            for j in range(d)
            if i != j
        ]
        return {
            "metric": self.metric,
            "models": len(self.models),
            "model_pairs": self.n_pairs,
            "k": self.k,
            "devices": [
                {"device": n, "type": t} for n, t in zip(self.devices, self.types, strict=True)
            ],
            "pairs": pairs,
            "tiers": [
                {"tiers": t.name, **{k: v for k, v in t.__dict__.items()}} for t in self.tiers
            ],
            "best_source": {self.devices[j]: self.devices[self.best_source(j)] for j in range(d)}
            if d > 1
            else {},
        }


def _values(table: EfficiencyTable, metric: str, baseline: str | None) -> NDArray[np.float64]:
    if metric == "latency":
        return table.latency_ms
    if metric == "frm":
        return frm(table, baseline).frm
    raise InputError(f"rank transfer metric must be one of {', '.join(METRICS)}, got {metric!r}")


def rank_transfer(
    table: EfficiencyTable,
    *,
    metric: str = "latency",
    k: int = 5,
    baseline: str | None = None,
    types: tuple[str, ...] | None = None,
) -> RankTransferResult:
    """``types``: the tier of each device (default: looked up in the registry)."""
    if len(table.devices) < 2:
        raise InputError("rank transfer needs at least two devices")
    if k < 1:
        raise InputError(f"top-k needs k >= 1, got {k}")
    v = _values(table, metric, baseline)
    d = len(table.devices)
    rho = np.ones((d, d))
    tau = np.ones((d, d))
    fl = np.zeros((d, d), dtype=np.int64)
    tk = np.ones((d, d))
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            if j > i:
                rho[i, j] = rho[j, i] = spearman(v[:, i], v[:, j])
                tau[i, j] = tau[j, i] = kendall(v[:, i], v[:, j])
                fl[i, j] = fl[j, i] = flips(v[:, i], v[:, j])
            tk[i, j] = top_k_overlap(v[:, i], v[:, j], k)
    kinds = types if types is not None else tuple(device_type(n) for n in table.devices)
    n_pairs = max(len(table.models) * (len(table.models) - 1) // 2, 1)
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i in range(d):
        for j in range(d):
            if i != j:
                groups.setdefault((kinds[i], kinds[j]), []).append((i, j))
    tiers = []
    for (a, b), members in sorted(groups.items()):
        r = np.array([rho[i, j] for i, j in members])
        tiers.append(
            TierSummary(
                a,
                b,
                len(members),
                float(np.mean(r)),
                float(np.min(r)),
                float(np.max(r)),
                float(np.mean([fl[i, j] / n_pairs for i, j in members])),
                float(np.mean([tk[i, j] for i, j in members])),
            )
        )
    return RankTransferResult(
        metric,
        table.models,
        table.devices,
        kinds,
        min(k, len(table.models)),
        rho,
        tau,
        fl,
        tk,
        tuple(tiers),
    )
