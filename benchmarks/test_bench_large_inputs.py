"""The large inputs of issue 15, at their targets: a 100,000-node graph is costed in <= 5 s and
estimated with ``--hw`` in <= 10 s; a 1,000,000-row latency CSV is read in <= 10 s, streamed.

The graph is a chain of Relu nodes listed backwards (the worst case of the old quadratic sort);
the CSV holds 1,000 distinct NAS-Bench-201 networks, 1,000 rows each, in the long layout.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from estimator.analysis import analyze_graph
from estimator.estimate import estimate
from estimator.loading import load_model
from estimator.transfer import read_measurement_columns

N_NODES = 100_000
COST_LIMIT_S = 5.0
ESTIMATE_LIMIT_S = 10.0
N_ROWS = 1_000_000
N_ARCHS = 1_000
CSV_LIMIT_S = 10.0
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


@pytest.fixture(scope="module")
def big_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = ["x", *(f"t{i}" for i in range(1, N_NODES)), "y"]
    nodes = [
        helper.make_node("Relu", [names[i]], [names[i + 1]], name=f"r{i}") for i in range(N_NODES)
    ]
    graph = helper.make_graph(
        nodes[::-1],
        "reversed_chain_100k",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
    )
    path = tmp_path_factory.mktemp("big") / "chain_100k.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_cost_a_100k_node_graph(benchmark: Any, big_chain: Path) -> None:
    cost = benchmark.pedantic(lambda: analyze_graph(load_model(big_chain)), rounds=2)
    assert len(cost.nodes) == N_NODES and cost.flops == N_NODES * 16
    assert benchmark.stats.stats.median <= COST_LIMIT_S


def test_estimate_a_100k_node_graph_on_a_device(benchmark: Any, big_chain: Path) -> None:
    est = benchmark.pedantic(lambda: estimate(str(big_chain), hw="i7-12700K"), rounds=2)
    assert est.latency_ms > 0
    assert benchmark.stats.stats.median <= ESTIMATE_LIMIT_S


def _arch(ops: tuple[str, ...]) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    archs = [_arch(o) for o in itertools.islice(itertools.product(OPS, repeat=6), N_ARCHS)]
    path = tmp_path_factory.mktemp("csv") / "latencies_1e6.csv"
    with path.open("w") as f:
        f.write("model,latency_ms,batch\n")
        for i in range(N_ROWS):
            f.write(f"{archs[i % N_ARCHS]},{1.0 + (i % 97) / 10:.2f},1\n")
    return path


def test_read_a_million_row_latency_csv(benchmark: Any, big_csv: Path) -> None:
    cols = benchmark.pedantic(lambda: read_measurement_columns(big_csv), rounds=2)
    assert len(cols) == N_ROWS and len({id(r) for r in cols.refs}) == N_ARCHS
    assert benchmark.stats.stats.median <= CSV_LIMIT_S
