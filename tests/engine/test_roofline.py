"""Roofline kernels on a synthetic device: every expected time is worked out by hand.

Device: 100 GFLOP/s, DRAM 10 GB/s, L1 32 KiB at 100 GB/s, L2 1 MiB at 50 GB/s, one core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from estimator.engine import KernelArrays, pack_device, run_kernels, run_models
from estimator.engine.layout import CATEGORY_INDEX
from estimator.registry.models import EfficiencyCurve, EfficiencyProfile, Hardware, KernelCategory
from tests.engine._synthetic import category, flat_curve, hardware, profile

GEMM = CATEGORY_INDEX[KernelCategory.GEMM]
DW = CATEGORY_INDEX[KernelCategory.CONV_DEPTHWISE]
EW = CATEGORY_INDEX[KernelCategory.ELEMENTWISE]
GB = 1e9


def _run(
    flops: list[float],
    bytes_: list[float],
    ws: list[float],
    cat: list[int],
    prof: EfficiencyProfile | None = None,
    hw: Hardware | None = None,
    threads: int = 1,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    dev = pack_device(hw or hardware(), prof or profile(), threads)
    k = KernelArrays.build(flops, bytes_, ws, cat, [0] * len(flops))
    return run_kernels(k, dev)


def test_large_gemm_is_compute_bound_at_peak() -> None:
    # 1e9 FLOP / 100e9 FLOP/s = 10 ms; 1e6 B / 10e9 B/s = 0.1 ms from DRAM (ws > caches).
    t, v, bound = _run([1e9], [1e6], [1e8], [GEMM])
    assert t[0] == pytest.approx(10e-3, rel=1e-12)
    assert bound[0] == 0 and v[0] == 0.0


def test_depthwise_conv_with_many_bytes_is_memory_bound() -> None:
    # 1e6 FLOP -> 10 us compute; 1e8 B from DRAM at 10 GB/s -> 10 ms.
    t, _, bound = _run([1e6], [1e8], [1e8], [DW])
    assert t[0] == pytest.approx(10e-3, rel=1e-12)
    assert bound[0] == 1


@pytest.mark.parametrize(
    ("ws", "bw"),
    [
        (16 * 1024, 100 * GB),  # fits L1 (32 KiB)
        (512 * 1024, 50 * GB),  # fits L2 (1 MiB)
        (2 * 1024 * 1024, 10 * GB),  # DRAM
    ],
)
def test_memory_level_chosen_by_working_set(ws: float, bw: float) -> None:
    t, _, bound = _run([1.0], [1e4], [ws], [EW])
    assert bound[0] == 1
    assert t[0] == pytest.approx(1e4 / bw, rel=1e-12)


def test_private_cache_capacity_grows_with_threads() -> None:
    # 4 cores: L1 capacity 4 x 32 KiB = 128 KiB and bandwidth 4 x 100 GB/s; DRAM 10 GB/s.
    hw = hardware(cores=4, gflops=400.0)
    t, _, _ = _run([1.0], [1e4], [100 * 1024], [EW], hw=hw, threads=4)
    assert t[0] == pytest.approx(1e4 / (400 * GB), rel=1e-12)
    # threads=2: 64 KiB of L1, so 100 KiB falls to the shared L2 at 50 GB/s; peak halves.
    t2, _, _ = _run([1e9], [1.0], [100 * 1024], [GEMM], hw=hw, threads=2)
    assert t2[0] == pytest.approx(1e9 / (200 * GB), rel=1e-12)


def test_efficiency_curve_interpolates_in_log10() -> None:
    curve = EfficiencyCurve(knots_log10=[6.0, 9.0], mean=[0.2, 0.8], std=[0.0, 0.0])
    prof = profile(overrides={KernelCategory.GEMM: category(compute=curve)})
    # log10(F) = 7.5 is halfway: eta = 0.5; t = 10^7.5 / (100e9 * 0.5)
    f = 10**7.5
    t, _, _ = _run([f], [1.0], [1.0], [GEMM], prof=prof)
    assert t[0] == pytest.approx(f / (100 * GB * 0.5), rel=1e-12)
    # clamped beyond the last knot: eta = 0.8
    t, _, _ = _run([1e11], [1.0], [1.0], [GEMM], prof=prof)
    assert t[0] == pytest.approx(1e11 / (100 * GB * 0.8), rel=1e-12)


def test_uneven_knots_use_the_search_path() -> None:
    curve = EfficiencyCurve(knots_log10=[3.0, 4.0, 8.0], mean=[0.1, 0.3, 0.7], std=[0, 0, 0])
    prof = profile(overrides={KernelCategory.GEMM: category(compute=curve)})
    # log10 F = 6 lies halfway between knots 4 and 8: eta = 0.5
    t, _, _ = _run([1e6], [1.0], [1.0], [GEMM], prof=prof)
    assert t[0] == pytest.approx(1e6 / (100 * GB * 0.5), rel=1e-12)


def test_variance_by_delta_method() -> None:
    # eta_c = 0.5 +- 0.1: t = 1e9 / (100e9 * 0.5) = 20 ms; dt/deta = -t/eta -> sd = 20 ms * 0.1 /
    # 0.5 = 4 ms. Overhead 5 +- 2 us adds 5 us to the mean and (2 us)^2 to the variance.
    cat = category(compute=flat_curve(0.5, 0.1), overhead_us=5.0, overhead_std_us=2.0)
    prof = profile(overrides={KernelCategory.GEMM: cat})
    t, v, bound = _run([1e9], [1.0], [1.0], [GEMM], prof=prof)
    assert t[0] == pytest.approx(20e-3 + 5e-6, rel=1e-12)
    assert v[0] == pytest.approx((4e-3) ** 2 + (2e-6) ** 2, rel=1e-12)
    assert bound[0] == 0


def test_tiny_kernel_is_overhead_bound() -> None:
    prof = profile(overrides={KernelCategory.ELEMENTWISE: category(overhead_us=5.0)})
    # 100 FLOP -> 1 ns, 100 B from L1 -> 1 ns; overhead 5 us dominates.
    t, _, bound = _run([100.0], [100.0], [100.0], [EW], prof=prof)
    assert bound[0] == 2
    assert t[0] == pytest.approx(5e-6 + 1e-9, rel=1e-12)


def test_batched_totals_match_per_kernel_sums() -> None:
    cat = category(compute=flat_curve(0.5, 0.1), memory=flat_curve(0.8, 0.2), overhead_us=3.0)
    prof = profile(device_sigma=0.1, overrides={c: cat for c in KernelCategory})
    dev = pack_device(hardware(), prof, 1)
    rng = np.random.default_rng(1)
    n = 50
    k = KernelArrays.build(
        10 ** rng.uniform(3, 10, n),
        10 ** rng.uniform(3, 8, n),
        10 ** rng.uniform(3, 8, n),
        rng.integers(0, len(CATEGORY_INDEX), n),
        np.zeros(n),
    )
    t, v, _ = run_kernels(k, dev)
    offsets = np.array([0, 20, 20, 50], dtype=np.int64)  # the middle model is empty
    mean, var = run_models(offsets, k, dev)
    for i in range(3):
        s = slice(offsets[i], offsets[i + 1])
        m = t[s].sum()
        assert mean[i] == pytest.approx(m, rel=1e-12)
        # kernel variances only: the device term is the predictor's (tests/test_predictor.py)
        assert var[i] == pytest.approx(v[s].sum(), rel=1e-12)
    assert mean[1] == 0.0 and var[1] == 0.0


def test_missing_dtype_peak_is_nan_and_zero_work_costs_only_overhead() -> None:
    dev = pack_device(hardware(), profile(), 1)
    assert math.isnan(dev.peak[1])  # no fp16 peak on the synthetic device
    k = KernelArrays.build([0.0], [0.0], [0.0], [EW], [0])
    t, v, _ = run_kernels(k, dev)
    assert t[0] == 0.0 and v[0] == 0.0


def test_parallel_kernels_give_the_serial_answers() -> None:
    cat = category(compute=flat_curve(0.5, 0.1), memory=flat_curve(0.8, 0.2), overhead_us=3.0)
    dev = pack_device(hardware(), profile(0.05, {c: cat for c in KernelCategory}), 1)
    rng = np.random.default_rng(2)
    n = 1000
    k = KernelArrays.build(
        10 ** rng.uniform(3, 10, n),
        10 ** rng.uniform(3, 8, n),
        10 ** rng.uniform(3, 8, n),
        rng.integers(0, len(CATEGORY_INDEX), n),
        np.zeros(n),
    )
    serial = run_kernels(k, dev, parallel=False)
    par = run_kernels(k, dev, parallel=True)
    for i in range(3):
        assert np.array_equal(serial[i], par[i])
    offsets = np.arange(0, n + 1, 10, dtype=np.int64)
    for a, b in zip(
        run_models(offsets, k, dev, parallel=False),
        run_models(offsets, k, dev, parallel=True),
        strict=True,
    ):
        assert np.allclose(a, b, rtol=1e-12, atol=0)
