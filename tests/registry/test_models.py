"""Hardware methods and efficiency curves, checked against hand arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from estimator.errors import InputError, RegistryError
from estimator.registry import EfficiencyCurve, Hardware, KernelCategory


def synthetic(typ: str = "cpu", per_core: float | None = 15.0) -> Hardware:
    doc: dict[str, Any] = {
        "id": "synth",
        "vendor": "Test",
        "model": "Synthetic 4-core",
        "type": typ,
        "cores": 4,
        "threads": 8,
        "base_clock_ghz": 1.0,
        "boost_clock_ghz": 2.0,
        "peak_gflops": {"fp32": {"gflops": 100.0, "derivation": "4 x 25"}},
        "memory": {
            "dram_bandwidth_gbs": 40.0,
            "per_core_bandwidth_gbs": per_core,
            "derivation": "test",
        },
        "caches": [
            {
                "level": 1,
                "size_kib": 32,
                "shared": False,
                "bandwidth_gbs": 100.0,
                "derivation": "t",
            },
            {
                "level": 3,
                "size_kib": 8192,
                "shared": True,
                "bandwidth_gbs": 300.0,
                "derivation": "t",
            },
            {"level": 2, "size_kib": 256, "shared": False, "derivation": "unknown bw"},
        ],
        "sources": ["test"],
    }
    return Hardware.model_validate(doc)


def test_peak_flops_scales_linearly_with_cores_in_use() -> None:
    hw = synthetic()
    assert hw.peak_flops("fp32", 1) == pytest.approx(25e9)  # 100 GFLOP/s x 1/4 cores
    assert hw.peak_flops("fp32", 3) == pytest.approx(75e9)  # x 3/4
    assert hw.peak_flops("fp32", 8) == pytest.approx(100e9)  # SMT threads add no units
    assert hw.peak_flops("fp32") == pytest.approx(100e9)
    assert hw.peak_flops("float32", 2) == pytest.approx(50e9)  # IR dtype spelling accepted


def test_gpu_peak_ignores_host_threads() -> None:
    hw = synthetic("gpu")
    assert hw.peak_flops("fp32", 1) == pytest.approx(100e9)
    assert hw.dram_bandwidth(1) == pytest.approx(40e9)


def test_unknown_dtype_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="no peak for dtype 'fp16'; available: fp32"):
        synthetic().peak_flops("fp16")
    assert issubclass(RegistryError, InputError)


def test_dram_bandwidth_per_core_cap() -> None:
    hw = synthetic()
    assert hw.dram_bandwidth(1) == pytest.approx(15e9)  # 1 x 15 < 40
    assert hw.dram_bandwidth(2) == pytest.approx(30e9)  # 2 x 15 < 40
    assert hw.dram_bandwidth(3) == pytest.approx(40e9)  # min(40, 45)
    assert hw.dram_bandwidth() == pytest.approx(40e9)


def test_dram_bandwidth_linear_without_per_core() -> None:
    hw = synthetic(per_core=None)
    assert hw.dram_bandwidth(1) == pytest.approx(10e9)  # 40 x 1/4
    assert hw.dram_bandwidth(16) == pytest.approx(40e9)


def test_cache_bandwidth_private_adds_up_shared_does_not() -> None:
    hw = synthetic()
    assert hw.cache_bandwidth(1, 2) == pytest.approx(200e9)  # 2 cores x 100 GB/s
    assert hw.cache_bandwidth(1) == pytest.approx(400e9)  # 4 cores x 100
    assert hw.cache_bandwidth(3, 1) == pytest.approx(300e9)  # shared: aggregate figure
    assert hw.cache_bandwidth(2, 1) is None  # unknown bandwidth
    assert hw.cache_bandwidth(4) is None  # no such level
    assert hw.cache_capacity_bytes(1, 2) == pytest.approx(2 * 32 * 1024)
    assert hw.cache_capacity_bytes(3, 2) == pytest.approx(8192 * 1024)


def test_models_are_frozen() -> None:
    hw = synthetic()
    with pytest.raises(ValidationError):
        hw.cores = 8


CURVE = EfficiencyCurve(knots_log10=[3, 5, 7], mean=[0.1, 0.3, 0.7], std=[0.05, 0.1, 0.2])


def test_curve_interpolates_linearly_in_log_space() -> None:
    m, s = CURVE.evaluate(4.0)  # halfway between knots 3 and 5
    assert m == pytest.approx(0.2)  # (0.1 + 0.3) / 2
    assert s == pytest.approx(0.075)  # (0.05 + 0.1) / 2
    m, s = CURVE.evaluate(6.5)  # 3/4 of the way from 5 to 7
    assert m == pytest.approx(0.3 + 0.75 * 0.4)  # 0.6
    assert s == pytest.approx(0.1 + 0.75 * 0.1)  # 0.175


def test_curve_clamps_outside_knots() -> None:
    assert CURVE.evaluate(0.0) == pytest.approx((0.1, 0.05))
    assert CURVE.evaluate(12.0) == pytest.approx((0.7, 0.2))


def test_curve_vectorised() -> None:
    m, s = CURVE.evaluate(np.array([2.0, 3.0, 4.0, 8.0]))
    np.testing.assert_allclose(m, [0.1, 0.1, 0.2, 0.7])
    np.testing.assert_allclose(s, [0.05, 0.05, 0.075, 0.2])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"knots_log10": [3, 3, 5]}, "strictly increasing"),
        ({"knots_log10": [5, 4, 6]}, "strictly increasing"),
        ({"mean": [0.1, 0.2]}, "knots have 3"),
        ({"mean": [0.1, 0.0, 0.3]}, "greater than 0"),
        ({"mean": [0.1, 1.2, 0.3]}, "less than or equal to 1"),
        ({"std": [0.1, -0.1, 0.1]}, "greater than or equal to 0"),
        ({"n": [1, 2]}, "knots have 3"),
    ],
)
def test_curve_validation(kwargs: dict[str, Any], fragment: str) -> None:
    base: dict[str, Any] = {"knots_log10": [3, 4, 5], "mean": [0.1, 0.2, 0.3], "std": [0, 0, 0]}
    with pytest.raises(ValidationError, match=fragment):
        EfficiencyCurve.model_validate({**base, **kwargs})


def test_kernel_categories_match_contract() -> None:
    assert [c.value for c in KernelCategory] == [
        "conv_dense",
        "conv_depthwise",
        "conv_pointwise",
        "conv_grouped",
        "gemm",
        "attention",
        "elementwise",
        "reduction",
        "pooling",
        "normalization",
        "data_movement",
        "other",
    ]
