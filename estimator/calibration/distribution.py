"""Is the efficiency spread what the uncertainty model assumes? Normality, heteroscedasticity,
outliers.

The estimator treats a kernel's log-time error as roughly normal with a spread that may change
with size (the curves store a std per knot). This module checks both on residuals: Shapiro-Wilk
for normality, Breusch-Pagan (squared residuals regressed on log size) and Spearman's rank
correlation of ``|residual|`` with log size for heteroscedasticity, and flags points beyond
3 standard deviations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

#: scipy's Shapiro-Wilk is exact up to this many points (larger samples are subsampled).
SHAPIRO_MAX = 5000


@dataclass(frozen=True, slots=True)
class DistributionStats:
    label: str
    n: int
    mean: float
    std: float
    skewness: float
    shapiro_w: float
    shapiro_p: float
    bp_lm: float
    bp_p: float
    spearman_rho: float
    spearman_p: float
    outliers: list[int] = field(default_factory=list)

    def normal(self, alpha: float = 0.05) -> bool:
        return not math.isnan(self.shapiro_p) and self.shapiro_p >= alpha

    def homoscedastic(self, alpha: float = 0.05) -> bool:
        """Neither Breusch-Pagan nor Spearman(|resid|, size) rejects constant spread."""
        if math.isnan(self.bp_p):
            return False
        return self.bp_p >= alpha and (math.isnan(self.spearman_p) or self.spearman_p >= alpha)


def breusch_pagan(resid: ArrayLike, x: ArrayLike) -> tuple[float, float]:
    """Breusch-Pagan LM test (Koenker's studentized form) of ``var(resid)`` depending on ``x``.

    Regress ``resid^2`` on ``[1, x]``; ``LM = n R^2`` is chi-square with 1 degree of freedom
    under constant variance. Returns (LM, p-value).
    """
    r = np.asarray(resid, dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64)
    n = r.size
    if n < 3 or float(np.ptp(xs)) == 0.0:
        return float("nan"), float("nan")
    u = r * r
    a = np.column_stack([np.ones(n), xs])
    coef, *_ = np.linalg.lstsq(a, u, rcond=None)
    fitted = a @ coef
    ss_tot = float(np.sum((u - u.mean()) ** 2))
    if ss_tot == 0.0:
        return 0.0, 1.0
    r2 = 1.0 - float(np.sum((u - fitted) ** 2)) / ss_tot
    lm = n * r2
    return lm, float(sps.chi2.sf(lm, 1))


def analyze(resid: ArrayLike, x: ArrayLike, label: str = "", seed: int = 0) -> DistributionStats:
    """All checks on one set of residuals (e.g. log efficiency minus the fitted curve)."""
    r = np.asarray(resid, dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64)
    n = int(r.size)
    nan = float("nan")
    if n == 0:
        return DistributionStats(label, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    mean = float(r.mean())
    std = float(r.std(ddof=1)) if n > 1 else 0.0
    skew = float(sps.skew(r)) if n > 2 else nan
    w = pw = nan
    if n >= 3 and std > 0:
        sample = r
        if n > SHAPIRO_MAX:
            sample = np.random.default_rng(seed).choice(r, SHAPIRO_MAX, replace=False)
        res = sps.shapiro(sample)
        w, pw = float(res.statistic), float(res.pvalue)
    lm, bp = breusch_pagan(r, xs)
    rho = prho = nan
    if n >= 3 and float(np.ptp(xs)) > 0 and float(np.ptp(np.abs(r))) > 0:
        sr = sps.spearmanr(np.abs(r), xs)
        rho, prho = float(sr.statistic), float(sr.pvalue)
    outliers = [int(i) for i in np.flatnonzero(np.abs(r - mean) > 3 * std)] if std > 0 else []
    return DistributionStats(label, n, mean, std, skew, w, pw, lm, bp, rho, prho, outliers)


def format_report(results: Sequence[DistributionStats], alpha: float = 0.05) -> str:
    """A readable report: one block per label with the verdict of each test."""
    lines: list[str] = []
    for s in results:
        if s.n < 3:
            lines.append(f"{s.label}: n={s.n}, too few points for the tests")
            continue
        normal = "normal" if s.normal(alpha) else "NOT normal"
        homo = "constant spread" if s.homoscedastic(alpha) else "spread changes with size"
        lines.append(
            f"{s.label}: n={s.n} mean={s.mean:+.3f} sd={s.std:.3f} skew={s.skewness:+.2f}\n"
            f"  Shapiro-Wilk W={s.shapiro_w:.3f} p={s.shapiro_p:.3g} -> {normal} (alpha {alpha})\n"
            f"  Breusch-Pagan LM={s.bp_lm:.2f} p={s.bp_p:.3g}; Spearman(|resid|, size) "
            f"rho={s.spearman_rho:+.2f} p={s.spearman_p:.3g} -> {homo}\n"
            f"  outliers beyond 3 sd: {len(s.outliers)}"
        )
    return "\n".join(lines)
