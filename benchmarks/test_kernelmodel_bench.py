"""Kernel-model evaluation speed (``make bench``): the learned correction runs on every estimate.

Targets: ~100 kernels (one model) in well under 100 us, 1e5 kernels (a NAS batch) in < 50 ms,
with the default model size (mean head + two quantile heads) fitted on the synthetic
grouped-conv population of tests/kernelmodel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from estimator.kernelmodel.model import KernelModel, fit_kernel_model
from tests.kernelmodel._synthetic import dataset


@pytest.fixture(scope="module")
def model() -> KernelModel:
    x, y, cats, groups = dataset(3000, seed=0)
    return fit_kernel_model(x, y, categories=cats, seed=1, groups=groups)


@pytest.fixture(scope="module")
def features() -> np.ndarray[Any, np.dtype[np.float64]]:
    x = dataset(5000, seed=9)[0]
    return np.ascontiguousarray(np.tile(x, (20, 1)))  # 1e5 rows


def _best(benchmark: Any, run: Callable[[], object], rounds: int) -> float:
    if benchmark.disabled:
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
        return best
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    return float(benchmark.stats.stats.min)


def test_predict_100_kernels(benchmark: Any, model: KernelModel, features: Any) -> None:
    x = np.ascontiguousarray(features[:100])
    model.predict(x)  # warm-up: load the cached compiled code
    best = _best(benchmark, lambda: model.predict(x), 500)
    print(f"\nkernel model: 100 kernels in {best * 1e6:.1f} us ({model.n_trees} trees, best)")
    assert best < 100e-6


def test_predict_100k_kernels(benchmark: Any, model: KernelModel, features: Any) -> None:
    model.predict(features)
    best = _best(benchmark, lambda: model.predict(features), 15)
    print(f"\nkernel model: 1e5 kernels in {best * 1e3:.1f} ms (best)")
    assert best < 50e-3
