"""Engine speed: run by ``make bench`` (pytest-benchmark). Targets from the design:

* >= 10 million kernel estimates per second (1e6 synthetic kernels in <= 0.1 s);
* estimate() of an already-parsed ResNet-50 (plan cached) in <= 2 ms.

Every njit function is compiled with ``cache=True``; the warm-up calls below load (or build) the
cached machine code so the timed rounds measure the steady state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from estimator.engine import KernelArrays, pack_device, run_kernels, run_models
from estimator.engine.layout import CATEGORIES
from estimator.estimate import estimate, prepare
from estimator.registry.loader import load_hardware, load_profile

N_KERNELS = 1_000_000
HW = "i7-12700K"


@pytest.fixture(scope="module")
def kernels() -> KernelArrays:
    rng = np.random.default_rng(0)
    b = 10 ** rng.uniform(3, 9, N_KERNELS)
    return KernelArrays.build(
        10 ** rng.uniform(3, 11, N_KERNELS),
        b,
        b,
        rng.integers(0, len(CATEGORIES), N_KERNELS),
        np.zeros(N_KERNELS),
    )


@pytest.fixture(scope="module")
def device() -> Any:
    hw = load_hardware(HW)
    return pack_device(hw, load_profile(hw, "onnxruntime-cpu", "fp32", hw.cores), hw.cores)


def test_engine_throughput(benchmark: Any, kernels: KernelArrays, device: Any) -> None:
    run_kernels(kernels, device)  # warm-up: load the cached compiled code
    t, v, _ = benchmark.pedantic(run_kernels, args=(kernels, device), rounds=15, iterations=1)
    assert np.all(t > 0) and np.all(v >= 0)
    rate = N_KERNELS / benchmark.stats["min"]
    print(f"\nengine: {rate / 1e6:.1f} M kernels/s (best of 15)")
    assert rate >= 10e6


def test_batched_models_throughput(benchmark: Any, kernels: KernelArrays, device: Any) -> None:
    offsets = np.arange(0, N_KERNELS + 1, 100, dtype=np.int64)  # 10,000 models of 100 kernels
    run_models(offsets, kernels, device)
    mean, _ = benchmark.pedantic(
        run_models, args=(offsets, kernels, device), rounds=15, iterations=1
    )
    assert mean.shape == (N_KERNELS // 100,)
    rate = N_KERNELS / benchmark.stats["min"]
    print(f"\nbatched: {rate / 1e6:.1f} M kernels/s, {rate / 100:.0f} models/s (best of 15)")
    assert rate >= 10e6


@pytest.mark.slow
def test_estimate_parsed_resnet50(benchmark: Any) -> None:
    from estimator import zoo

    graph = zoo.graph("resnet50")
    prepare(graph)  # parse, cost and partition once: cached for this Graph object
    estimate(graph, HW)  # warm-up
    e = benchmark.pedantic(estimate, args=(graph, HW), rounds=200, iterations=1)
    assert e.latency_ms > 0 and len(e.kernels) > 50
    print(f"\nresnet50 estimate: median {benchmark.stats['median'] * 1e3:.3f} ms")
    assert benchmark.stats["median"] <= 2e-3
