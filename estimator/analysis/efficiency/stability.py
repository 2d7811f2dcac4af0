"""Stability (seed 000, analysis 1): do FRM rankings hold across devices better than latency
rankings? Spearman and Kendall over every device pair, the coefficient of variation of each
model across devices, and a Mann-Whitney U test of the two.

Caveat the seed did not state, printed by the renderer: FRM's FLOPs ratio is the same number on
every device, so part of FRM's stability is built in; the per-pair table shows how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from estimator.analysis.efficiency.frm import frm
from estimator.analysis.efficiency.ranks import kendall, spearman
from estimator.analysis.efficiency.table import EfficiencyTable


@dataclass(frozen=True)
class MetricStability:
    metric: str
    #: One value per unordered device pair (in ``StabilityResult.pairs`` order).
    spearman: NDArray[np.float64]
    kendall: NDArray[np.float64]
    #: One value per model: std / mean of the metric across devices.
    cv: NDArray[np.float64]

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "mean_spearman": float(np.mean(self.spearman)),
            "mean_kendall": float(np.mean(self.kendall)),
            "mean_cv": float(np.mean(self.cv)),
            "spearman": self.spearman.tolist(),
            "kendall": self.kendall.tolist(),
            "cv": self.cv.tolist(),
        }


@dataclass(frozen=True)
class MannWhitney:
    what: str
    alternative: str
    u: float
    p: float

    def to_dict(self) -> dict[str, object]:
        return {"what": self.what, "alternative": self.alternative, "U": self.u, "p": self.p}


@dataclass(frozen=True)
class StabilityResult:
    models: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    latency: MetricStability
    frm: MetricStability
    baseline: str
    #: FRM's pair correlations higher than latency's (alternative "greater").
    rho_test: MannWhitney
    #: FRM's per-model CVs lower than latency's (alternative "less").
    cv_test: MannWhitney

    def to_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline,
            "pairs": [list(p) for p in self.pairs],
            "latency": self.latency.to_dict(),
            "frm": self.frm.to_dict(),
            "mann_whitney_rho": self.rho_test.to_dict(),
            "mann_whitney_cv": self.cv_test.to_dict(),
        }


def _metric(name: str, values: NDArray[np.float64]) -> MetricStability:
    d = values.shape[1]
    rho = [spearman(values[:, i], values[:, j]) for i in range(d) for j in range(i + 1, d)]
    tau = [kendall(values[:, i], values[:, j]) for i in range(d) for j in range(i + 1, d)]
    cv = np.std(values, axis=1) / np.mean(values, axis=1)
    return MetricStability(name, np.asarray(rho), np.asarray(tau), cv)


def stability(table: EfficiencyTable, baseline: str | None = None) -> StabilityResult:
    """Needs at least two devices; the U tests need at least one pair (any p with one)."""
    f = frm(table, baseline)
    lat = _metric("latency_ms", table.latency_ms)
    fr = _metric("frm", f.frm)
    d = len(table.devices)
    pairs = tuple((table.devices[i], table.devices[j]) for i in range(d) for j in range(i + 1, d))
    u1 = stats.mannwhitneyu(fr.spearman, lat.spearman, alternative="greater")
    u2 = stats.mannwhitneyu(fr.cv, lat.cv, alternative="less")
    return StabilityResult(
        table.models,
        pairs,
        lat,
        fr,
        f.baseline,
        MannWhitney(
            "pairwise Spearman, FRM vs latency", "greater", float(u1.statistic), float(u1.pvalue)
        ),
        MannWhitney("per-model CV, FRM vs latency", "less", float(u2.statistic), float(u2.pvalue)),
    )
