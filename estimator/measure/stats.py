"""Summary statistics of a latency sample, with an honest interval on the median.

Latency distributions are skewed and heavy-tailed (a context switch adds milliseconds), so the
median is the figure of merit and its confidence interval must not assume normality: the interval
here comes from order statistics and the binomial distribution, valid for any continuous
distribution. See docs/design/measurement.md for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from scipy import stats as sps

#: Percentile method shared by every percentile we report (numpy's default, "linear").
PERCENTILE_METHOD: Final = "linear"
#: Smallest sample for which the order-statistic interval [min, max] reaches 95% coverage
#: (coverage of [x_(1), x_(n)] is 1 - 2 * 0.5**n; n = 6 gives 0.969, n = 5 gives 0.938).
MIN_REPEATS_FOR_CI95 = 6


@dataclass(frozen=True)
class LatencySummary:
    """Every statistic the CLI reports for one run; times in milliseconds."""

    n: int
    batch: int
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    cv: float
    throughput_sps: float
    median_ci95_low_ms: float
    median_ci95_high_ms: float
    median_ci_coverage: float
    repeats_for_2pct: int | None

    @property
    def median_ms(self) -> float:
        return self.p50_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: np.ndarray, q: float) -> float:
    return float(np.percentile(samples, q, method=PERCENTILE_METHOD))


def median_ci(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Distribution-free interval ``[x_(r), x_(s)]`` (1-based order statistics) for the median.

    The number of observations below the true median is Binomial(n, 1/2). With
    ``r = F^-1(alpha/2)`` (smallest r with CDF(r) >= alpha/2) and ``s = F^-1(1 - alpha/2) + 1``,
    the coverage ``P(r <= B <= s - 1) = CDF(s - 1) - CDF(r - 1)`` is at least ``1 - alpha``.
    Returns (low, high, achieved coverage); for tiny samples the interval is [min, max] and the
    coverage falls below ``confidence`` (it is reported, not hidden).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("median_ci needs at least one sample")
    alpha = 1.0 - confidence
    r = max(int(sps.binom.ppf(alpha / 2, n, 0.5)), 1)
    s = min(int(sps.binom.ppf(1 - alpha / 2, n, 0.5)) + 1, n)
    coverage = float(sps.binom.cdf(s - 1, n, 0.5) - sps.binom.cdf(r - 1, n, 0.5))
    return float(x[r - 1]), float(x[s - 1]), coverage


def repeats_for_precision(samples: np.ndarray, rel_halfwidth: float = 0.02) -> int | None:
    """Repeats needed so the 95% CI of the median is within ``+/- rel_halfwidth`` of it.

    Asymptotically the sample median has standard error ``sqrt(p(1-p)/n) / f(m)`` with p = 1/2 and
    ``f(m)`` the density at the median, so the half-width is ``1.96 * 0.5 / (f(m) sqrt(n))``.
    Solving ``half-width <= rel * m`` gives ``n >= (0.98 / (f(m) * rel * m))**2``. ``f(m)`` comes
    from a Gaussian kernel density estimate (scipy, Scott's bandwidth) of the sample. Never less
    than :data:`MIN_REPEATS_FOR_CI95`. None when the sample is too small to estimate a density.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 3:
        return None
    m = float(np.median(x))
    if m <= 0.0:
        return None
    if float(np.ptp(x)) == 0.0:
        return MIN_REPEATS_FOR_CI95
    try:
        density = float(sps.gaussian_kde(x)(m)[0])
    except (np.linalg.LinAlgError, ValueError):
        return None
    if not math.isfinite(density) or density <= 0.0:
        return None
    z = float(sps.norm.ppf(0.975))
    n_needed = (z * 0.5 / (density * rel_halfwidth * m)) ** 2
    return max(math.ceil(n_needed), MIN_REPEATS_FOR_CI95)


def summarize(samples_ms: np.ndarray, batch: int = 1) -> LatencySummary:
    """All reported statistics of one run; ``std`` is the sample standard deviation (ddof=1)."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("summarize needs at least one sample")
    mean = float(np.mean(x))
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    p50 = percentile(x, 50)
    lo, hi, cov = median_ci(x)
    return LatencySummary(
        n=int(x.size),
        batch=batch,
        mean_ms=mean,
        std_ms=std,
        min_ms=float(np.min(x)),
        max_ms=float(np.max(x)),
        p50_ms=p50,
        p90_ms=percentile(x, 90),
        p95_ms=percentile(x, 95),
        p99_ms=percentile(x, 99),
        cv=std / mean if mean > 0 else float("nan"),
        throughput_sps=batch / (p50 / 1e3) if p50 > 0 else float("inf"),
        median_ci95_low_ms=lo,
        median_ci95_high_ms=hi,
        median_ci_coverage=cov,
        repeats_for_2pct=repeats_for_precision(x),
    )
