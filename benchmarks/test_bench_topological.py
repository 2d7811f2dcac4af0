"""Ordering a graph whose nodes are listed backwards (issue 15: the old sort rescanned the pending
list once per round, so 20k nodes took more than 60 s and 4k took 6 s).

A chain of 20,000 Relu nodes saved in reverse order is the worst case for a rescanning sort and an
ordinary one for Kahn's algorithm. The sort alone must stay well under a second; the whole
``load_model`` + ``analyze_graph`` of the same file is measured too, so a quadratic step elsewhere
in the frontend would show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from estimator.analysis import analyze_graph
from estimator.frontends.onnx_frontend import _topological
from estimator.loading import load_model

N_NODES = 20_000
SORT_LIMIT_S = 0.25
LOAD_AND_COST_LIMIT_S = 10.0


def _reversed_chain(n: int) -> onnx.ModelProto:
    names = ["x", *(f"t{i}" for i in range(1, n)), "y"]
    nodes = [helper.make_node("Relu", [names[i]], [names[i + 1]], name=f"r{i}") for i in range(n)]
    graph = helper.make_graph(
        nodes[::-1],
        "reversed_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def reversed_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[onnx.ModelProto, Path]:
    model = _reversed_chain(N_NODES)
    path = tmp_path_factory.mktemp("topo") / "reversed_chain.onnx"
    onnx.save(model, path)
    return model, path


def test_sort_20k_reverse_listed_nodes(
    benchmark: Any, reversed_model: tuple[onnx.ModelProto, Path]
) -> None:
    nodes = list(reversed_model[0].graph.node)
    order = benchmark.pedantic(_topological, args=(nodes, {"x"}, "bench"), rounds=5)
    assert order == list(range(N_NODES - 1, -1, -1))  # exactly the chain, first node first
    assert benchmark.stats.stats.median <= SORT_LIMIT_S


def test_load_and_cost_20k_reverse_listed_nodes(
    benchmark: Any, reversed_model: tuple[onnx.ModelProto, Path]
) -> None:
    path = reversed_model[1]

    def load_and_cost() -> Any:
        return analyze_graph(load_model(path))

    cost = benchmark.pedantic(load_and_cost, rounds=3)
    assert len(cost.nodes) == N_NODES
    assert cost.flops == N_NODES * 16  # one max(x, 0) per element per Relu
    assert benchmark.stats.stats.median <= LOAD_AND_COST_LIMIT_S
