"""Efficiency points per category and curve, and their pooled statistics per log-size bin.

A kernel's efficiency is the share of the ideal roofline time it achieved once its fixed
overhead is removed: ``e = t_roof / (t - overhead)``, with ``t_roof`` the binding ideal roof
(``F / P`` or ``B / BW``). Compute-bound kernels (``F / P > B / BW``) describe the compute curve
against log10 FLOPs; the others the memory curve against log10 bytes. Bins pool the points of
every model: mean and variance (exactly the statistics of the union of the per-model groups),
sample size and a t-based 95% interval of the mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from estimator.calibration.attribute import KernelPoint
from estimator.registry.models import KernelCategory

COMPUTE = "compute"
MEMORY = "memory"


@dataclass(frozen=True, slots=True)
class EffPoint:
    model: str
    kernel: str
    category: KernelCategory
    curve: str
    #: log10 FLOPs (compute curve) or log10 bytes (memory curve).
    x: float
    efficiency: float


@dataclass(frozen=True, slots=True)
class BinStat:
    lo: float
    hi: float
    n: int
    mean: float
    var: float
    ci_low: float
    ci_high: float

    @property
    def center(self) -> float:
        return (self.lo + self.hi) / 2

    @property
    def std(self) -> float:
        return math.sqrt(self.var)


def efficiency_points(
    points: Iterable[KernelPoint], overhead_s: Mapping[KernelCategory, float] | None = None
) -> list[EffPoint]:
    """Efficiency of each kernel on its binding roof; kernels no slower than their overhead
    (``t <= overhead``) carry no information about efficiency and are dropped."""
    out: list[EffPoint] = []
    for p in points:
        o = (overhead_s or {}).get(p.category, 0.0)
        busy = p.t - o
        if busy <= 0:
            continue
        if p.compute_bound:
            out.append(
                EffPoint(
                    p.model, p.kernel, p.category, COMPUTE, math.log10(p.flops), p.t_compute / busy
                )
            )
        elif p.bytes > 0:
            out.append(
                EffPoint(
                    p.model, p.kernel, p.category, MEMORY, math.log10(p.bytes), p.t_memory / busy
                )
            )
    return out


def pooled(groups: Sequence[tuple[int, float, float]]) -> tuple[int, float, float]:
    """Pool (n, mean, sample variance) groups into the statistics of their union.

    Total sum of squares = within-group ``(n_i - 1) var_i`` + between-group
    ``n_i (mean_i - mean)^2``; the pooled variance divides it by ``N - 1``.
    """
    n = sum(g[0] for g in groups)
    if n == 0:
        return 0, float("nan"), float("nan")
    mean = sum(g[0] * g[1] for g in groups) / n
    if n < 2:
        return n, mean, 0.0
    ss = sum((g[0] - 1) * (g[2] if g[0] > 1 else 0.0) + g[0] * (g[1] - mean) ** 2 for g in groups)
    return n, mean, ss / (n - 1)


def mean_ci(n: int, mean: float, var: float, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean; a single point gives (mean, mean) with no width claim."""
    if n < 2:
        return mean, mean
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var / n)
    return mean - half, mean + half


def bin_edges(x: ArrayLike, step: float) -> np.ndarray:
    """Edges on multiples of ``step`` covering ``x``."""
    arr = np.asarray(x, dtype=np.float64)
    lo = math.floor(float(arr.min()) / step) * step
    hi = math.ceil(float(arr.max()) / step) * step
    if hi <= lo:
        hi = lo + step
    return np.arange(lo, hi + step / 2, step)


def bin_stats(
    x: ArrayLike, y: ArrayLike, edges: ArrayLike, groups: Sequence[str] | None = None
) -> list[BinStat]:
    """Pooled statistics of ``y`` per bin of ``x`` (bins ``[e_i, e_i+1)``, the last closed).

    ``groups`` (e.g. the model of each point) only changes how the pool is assembled, not the
    result: the statistics are those of all points in the bin.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    g = np.asarray(groups if groups is not None else [""] * xs.size)
    idx = np.clip(np.searchsorted(e, xs, side="right") - 1, 0, e.size - 2)
    out: list[BinStat] = []
    for b in range(e.size - 1):
        sel = idx == b
        if not sel.any():
            continue
        parts = []
        for name in dict.fromkeys(g[sel].tolist()):
            v = ys[sel & (g == name)]
            parts.append(
                (int(v.size), float(v.mean()), float(v.var(ddof=1)) if v.size > 1 else 0.0)
            )
        n, mean, var = pooled(parts)
        lo, hi = mean_ci(n, mean, var)
        out.append(BinStat(float(e[b]), float(e[b + 1]), n, mean, var, lo, hi))
    return out


def aggregate(
    points: Sequence[EffPoint], step: float = 0.5
) -> dict[tuple[KernelCategory, str], list[BinStat]]:
    """Bin statistics per (category, curve) on a ``step``-wide log10 grid."""
    out: dict[tuple[KernelCategory, str], list[BinStat]] = {}
    keys = dict.fromkeys((p.category, p.curve) for p in points)
    for cat, curve in keys:
        sel = [p for p in points if p.category == cat and p.curve == curve]
        xs = [p.x for p in sel]
        out[(cat, curve)] = bin_stats(
            xs, [p.efficiency for p in sel], bin_edges(xs, step), [p.model for p in sel]
        )
    return out


def format_table(stats: Mapping[tuple[KernelCategory, str], list[BinStat]]) -> str:
    """A plain-text table: one row per bin."""
    lines = [
        f"{'category':<15} {'curve':<8} {'log10 bin':<11} {'n':>5} {'mean':>8} {'std':>8} "
        f"{'95% CI of mean':>21}"
    ]
    for (cat, curve), bins in sorted(stats.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        for b in bins:
            lines.append(
                f"{cat!s:<15} {curve:<8} {b.lo:>4.1f}-{b.hi:<5.1f} {b.n:>5} {b.mean:>8.4f} "
                f"{b.std:>8.4f} [{b.ci_low:>8.4f}, {b.ci_high:>8.4f}]"
            )
    return "\n".join(lines)
