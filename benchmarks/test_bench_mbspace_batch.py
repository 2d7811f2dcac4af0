"""Issue 20's batch target: 1,000 weight-stripped MobileNet-style ONNX networks
(:mod:`estimator.zoo.mbspace`) estimated in <= 10 s on 2 cores, by working each distinct node
out once across the networks (:mod:`estimator.frontends.onnx_memo`).

The files are written once into a temporary folder; each round starts with cold caches (node
memo, parsed plans, device contexts), so it times reading, parsing, partitioning and pricing all
1,000 files plus the engine call. Two routes: ``estimate_many`` (batch estimation) and
``resolve_references`` (what a few-shot fit and its predictions run on the query set).
"""

from __future__ import annotations

from typing import Any

import pytest

from estimator.estimate import clear_caches, estimate_many
from estimator.frontends import onnx_memo
from estimator.transfer import resolve_references

N_NETS = 1_000
LIMIT_S = 10.0
HW = "xeon-6-vm-2vcpu"
RUNTIME = "onnxruntime-cpu"


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from estimator.zoo.mbspace import write_space

    folder = tmp_path_factory.mktemp("mbspace")
    return [str(p) for _, p in write_space(folder, N_NETS, seed=0, weights=False)]


def _cold() -> tuple[tuple[()], dict[str, Any]]:
    onnx_memo.clear()
    clear_caches()
    return (), {}


def test_bench_estimate_1000_mbspace_onnx(benchmark: Any, space: list[str]) -> None:
    estimate_many(space[:2], HW, runtime=RUNTIME)  # engine code loaded outside the timing
    out = benchmark.pedantic(
        lambda: estimate_many(space, HW, runtime=RUNTIME), setup=_cold, rounds=3
    )
    assert len(out.names) == N_NETS and bool((out.latency_ms > 0).all())
    benchmark.extra_info["nets_per_s"] = round(N_NETS / benchmark.stats.stats.median)
    assert benchmark.stats.stats.median <= LIMIT_S


def test_bench_resolve_1000_mbspace_onnx(benchmark: Any, space: list[str]) -> None:
    models = benchmark.pedantic(
        lambda: resolve_references(space, runtime=RUNTIME), setup=_cold, rounds=3
    )
    assert len(models) == N_NETS and models.counts.shape[0] == N_NETS
    benchmark.extra_info["unique_kernels"] = int(models.counts.shape[1])
    assert benchmark.stats.stats.median <= LIMIT_S
