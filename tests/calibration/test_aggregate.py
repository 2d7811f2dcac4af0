"""Pooled bin statistics agree with numpy/scipy on the raw points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from estimator.calibration.aggregate import (
    COMPUTE,
    MEMORY,
    aggregate,
    bin_stats,
    efficiency_points,
    pooled,
)
from estimator.calibration.attribute import KernelPoint
from estimator.registry.models import KernelCategory


def test_pooled_equals_statistics_of_the_union() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.normal(m, s, n) for m, s, n in ((1.0, 0.1, 5), (1.4, 0.3, 12), (0.8, 0.2, 2))]
    n, mean, var = pooled([(p.size, p.mean(), p.var(ddof=1)) for p in parts])
    allv = np.concatenate(parts)
    assert n == allv.size
    assert mean == pytest.approx(allv.mean(), rel=1e-12)
    assert var == pytest.approx(allv.var(ddof=1), rel=1e-12)


def test_bin_stats_match_numpy_and_scipy() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(3, 6, 200)
    y = rng.normal(0.5, 0.1, 200)
    groups = [f"model{i % 7}" for i in range(200)]
    bins = bin_stats(x, y, [3.0, 4.0, 5.0, 6.0], groups)
    assert [b.lo for b in bins] == [3.0, 4.0, 5.0]
    for b in bins:
        sel = (x >= b.lo) & ((x < b.hi) if b.hi < 6.0 else (x <= b.hi))
        v = y[sel]
        assert b.n == v.size
        assert b.mean == pytest.approx(v.mean(), rel=1e-12)
        assert b.var == pytest.approx(v.var(ddof=1), rel=1e-12)
        lo, hi = stats.t.interval(0.95, v.size - 1, loc=v.mean(), scale=stats.sem(v))
        assert (b.ci_low, b.ci_high) == pytest.approx((lo, hi), rel=1e-10)


def test_efficiency_points_use_the_binding_roof_net_of_overhead() -> None:
    cat = KernelCategory.GEMM
    # Compute-bound: F/P = 80 us > B/BW = 10 us; measured 110 us, overhead 10 us -> e = 80/100.
    a = KernelPoint("m", "a", cat, 8e6, 2e5, 2e5, 110e-6, 80e-6, 10e-6)
    # Memory-bound: B/BW = 30 us > 5 us; measured 70 us - 10 us -> e = 30/60 = 0.5.
    b = KernelPoint("m", "b", cat, 5e5, 6e5, 6e5, 70e-6, 5e-6, 30e-6)
    # Faster than its overhead: dropped.
    c = KernelPoint("m", "c", cat, 1e3, 1e3, 1e3, 8e-6, 1e-8, 1e-8)
    pts = efficiency_points([a, b, c], {cat: 10e-6})
    assert [(p.kernel, p.curve) for p in pts] == [("a", COMPUTE), ("b", MEMORY)]
    assert pts[0].efficiency == pytest.approx(0.8)
    assert pts[0].x == pytest.approx(math.log10(8e6))
    assert pts[1].efficiency == pytest.approx(0.5)
    assert pts[1].x == pytest.approx(math.log10(6e5))
    table = aggregate(pts, step=0.5)
    assert table[(cat, COMPUTE)][0].n == 1


def test_peak_excess_flags_kernels_faster_than_the_registry_peak() -> None:
    from estimator.calibration.calibrate import peak_excess

    cat = KernelCategory.CONV_DENSE
    # Compute-bound kernels whose ideal time F/P is 100 us; measured 80 us -> 1.25x the peak.
    fast = [KernelPoint("m", f"k{i}", cat, 1e9, 1e6, 1e6, 80e-6, 100e-6, 1e-6) for i in range(10)]
    slow = [KernelPoint("m", "s", cat, 1e9, 1e6, 1e6, 200e-6, 100e-6, 1e-6)]  # 0.5x
    assert peak_excess(fast + slow, 0.9) == pytest.approx(1.25)
    assert peak_excess(slow, 0.9) == pytest.approx(0.5)
