"""Statistics against independent computations (numpy, a hand-rolled binomial, a closed form)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estimator.measure.stats import (
    MIN_REPEATS_FOR_CI95,
    median_ci,
    repeats_for_precision,
    summarize,
)


def _binom_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), by direct summation of C(n, i) / 2**n."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def _direct_median_ci(x: np.ndarray, conf: float = 0.95) -> tuple[float, float, float]:
    """Order-statistic CI by brute force: r = smallest with CDF(r) >= a/2, s - 1 = smallest with
    CDF(s - 1) >= 1 - a/2; interval [x_(r), x_(s)] (1-based), coverage CDF(s-1) - CDF(r-1)."""
    n = len(x)
    a = 1 - conf
    r = next(k for k in range(n + 1) if _binom_cdf(k, n) >= a / 2)
    s = next(k for k in range(n + 1) if _binom_cdf(k, n) >= 1 - a / 2) + 1
    r, s = max(r, 1), min(s, n)
    cov = _binom_cdf(s - 1, n) - (_binom_cdf(r - 1, n) if r >= 1 else 0.0)
    xs = np.sort(x)
    return float(xs[r - 1]), float(xs[s - 1]), cov


def test_summary_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(mean=0.0, sigma=0.3, size=137)
    s = summarize(x, batch=8)
    assert s.n == 137
    assert s.mean_ms == pytest.approx(np.mean(x))
    assert s.std_ms == pytest.approx(np.std(x, ddof=1))
    assert s.min_ms == np.min(x) and s.max_ms == np.max(x)
    for q, got in ((50, s.p50_ms), (90, s.p90_ms), (95, s.p95_ms), (99, s.p99_ms)):
        assert got == pytest.approx(np.percentile(x, q, method="linear"))
    assert s.cv == pytest.approx(np.std(x, ddof=1) / np.mean(x))
    # throughput = batch / median in seconds
    assert s.throughput_sps == pytest.approx(8 / (np.median(x) / 1000))


def test_small_hand_example() -> None:
    # samples 1..5 ms: mean 3, sample sd sqrt(10/4) = 1.5811, median 3,
    # P90 by linear interpolation at rank 0.9*4 = 3.6 -> 4 + 0.6*(5-4) = 4.6
    s = summarize(np.array([5.0, 1.0, 4.0, 2.0, 3.0]), batch=2)
    assert s.mean_ms == 3.0
    assert s.std_ms == pytest.approx(math.sqrt(2.5))
    assert s.p50_ms == 3.0
    assert s.p90_ms == pytest.approx(4.6)
    assert s.throughput_sps == pytest.approx(2 / 0.003)  # 666.67 samples/s
    # n = 5: no pair of order statistics reaches 95%; [min, max] covers 1 - 2/32 = 0.9375
    assert (s.median_ci95_low_ms, s.median_ci95_high_ms) == (1.0, 5.0)
    assert s.median_ci_coverage == pytest.approx(1 - 2 / 32)


@pytest.mark.parametrize("n", [6, 10, 20, 37, 100, 501])
def test_median_ci_matches_direct_binomial(n: int) -> None:
    x = np.random.default_rng(n).exponential(size=n)
    lo, hi, cov = median_ci(x)
    dlo, dhi, dcov = _direct_median_ci(x)
    assert (lo, hi) == (dlo, dhi)
    assert cov == pytest.approx(dcov)
    assert cov >= 0.95


def test_median_ci_n20_known_ranks() -> None:
    # Textbook value: for n = 20 the 95% interval is [x_(6), x_(15)], coverage 0.9586
    x = np.arange(1.0, 21.0)
    lo, hi, cov = median_ci(x)
    assert (lo, hi) == (6.0, 15.0)
    assert cov == pytest.approx(0.9586, abs=1e-4)


def test_repeats_for_precision_normal_closed_form() -> None:
    # Normal(m=10, sd=1): f(m) = 1/(sd*sqrt(2*pi)); n = (1.96*0.5/(f*0.02*m))**2
    # = (0.98 * 2.5066 / 0.2)**2 = 150.9
    x = np.random.default_rng(7).normal(10.0, 1.0, size=20000)
    expected = (1.959964 * 0.5 * math.sqrt(2 * math.pi) / (0.02 * 10.0)) ** 2
    got = repeats_for_precision(x)
    assert got is not None
    assert got == pytest.approx(expected, rel=0.1)


def test_repeats_for_precision_edges() -> None:
    assert repeats_for_precision(np.array([1.0, 2.0])) is None
    assert repeats_for_precision(np.full(50, 3.0)) == MIN_REPEATS_FOR_CI95
    # a tight sample needs only the floor
    tight = np.random.default_rng(0).normal(100.0, 0.01, size=200)
    assert repeats_for_precision(tight) == MIN_REPEATS_FOR_CI95


def test_repeats_for_precision_delivers_its_promise() -> None:
    # Lognormal(0, 0.3) latencies: true median 1, f(1) = 1/(0.3*sqrt(2*pi)), so the closed form is
    # n = (0.98 * 0.3 * sqrt(2*pi) / 0.02)**2 = 1358. Estimate n from a 300-sample pilot, then check
    # that samples of that size put the median within +/-2% of the truth about 95% of the time.
    rng = np.random.default_rng(11)
    n = repeats_for_precision(rng.lognormal(0.0, 0.3, size=300))
    assert n is not None
    assert n == pytest.approx(1358, rel=0.3)
    medians = np.median(rng.lognormal(0.0, 0.3, size=(400, n)), axis=1)
    hit = float(np.mean(np.abs(medians - 1.0) <= 0.02))
    assert 0.88 <= hit <= 0.995
