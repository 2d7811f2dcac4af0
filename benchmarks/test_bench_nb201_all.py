"""NAS speed: all 15,625 NAS-Bench-201 networks on one device through the batch API (<= 10 s).

Each round starts cold (block tables and builders dropped), so the time includes building the
networks' kernels, not only the engine call. Fitting a device (k = 50) must stay interactive.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from estimator.transfer import estimate_nb201, fit, nb201_fast, nb201_kernel_set, prior_for

TARGET_S = 10.0
N_ARCHS = 15_625
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _cold_all() -> int:
    nb201_fast._table.cache_clear()
    nb201_fast._builder.cache_clear()
    est = estimate_nb201("gtx-1080-ti", None, runtime="pytorch-eager", batch=1)
    assert bool(np.all(est.latency_ms > 0))
    return len(est.names)


def test_bench_all_nb201_one_device(benchmark: Any) -> None:
    estimate_nb201("gtx-1080-ti", [ALL_NONE])  # compile or load the numba kernels
    start = time.perf_counter()
    n = benchmark.pedantic(_cold_all, rounds=3, iterations=1)
    per_round = (time.perf_counter() - start) / 3
    assert n == N_ARCHS
    assert per_round <= TARGET_S, f"{per_round:.2f} s for {N_ARCHS} archs"
    benchmark.extra_info["archs_per_s"] = round(N_ARCHS / per_round)


def test_bench_fewshot_fit_k50(benchmark: Any) -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(None)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(ks), size=50, replace=False)
    truth = estimate_nb201("gtx-1080-ti", [ks.names[i] for i in pick]).latency_ms * 3.0
    sub = ks.subset(pick)

    def run() -> float:
        return float(fit(hw, prior, sub, truth).theta.sum())

    start = time.perf_counter()
    benchmark.pedantic(run, rounds=5, iterations=1)
    per_fit = (time.perf_counter() - start) / 5
    assert per_fit < 1.0, f"{per_fit:.3f} s per fit"
