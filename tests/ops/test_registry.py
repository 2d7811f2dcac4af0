"""Coverage of the vocabulary, the unknown-op fallback, and parameter selection."""

from __future__ import annotations

import pytest

from estimator.ir import KNOWN_OPS, DType, Node, TensorInfo
from estimator.ops import cost_of, param_tensors, registered_ops, rule_for


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype, is_const=const)


@pytest.mark.parametrize("op", sorted(KNOWN_OPS))
def test_every_known_op_has_a_rule(op: str) -> None:
    assert rule_for(op) is not None, f"{op} is in the IR vocabulary but has no cost rule"


def test_no_rule_outside_the_vocabulary() -> None:
    assert registered_ops() <= KNOWN_OPS


def test_unknown_op_is_memory_traffic_only() -> None:
    # in: [1,2,3] fp32 (24 B) + const [4] fp16 (8 B) = 32 B; out: [1,2,3] (24 B)
    node = Node(
        "n",
        "com.microsoft.FusedConv",
        (t("x", 1, 2, 3), t("w", 4, dtype=DType.FLOAT16, const=True)),
        (t("y", 1, 2, 3),),
    )
    c = cost_of(node)
    assert (c.flops, c.macs, c.params, c.bytes_read, c.bytes_written) == (0, 0, 0, 32, 24)
    assert c.modeled is False
    assert not node.known


SAMPLES = [
    Node(
        "c",
        "Conv",
        (t("x", 1, 2, 5), t("w", 3, 2, 3, const=True), t("b", 3, const=True)),
        (t("y", 1, 3, 3),),
    ),
    Node(
        "g",
        "Gemm",
        (t("a", 2, 3), t("b", 4, 3, const=True), t("c", 4, const=True)),
        (t("y", 2, 4),),
        {"transB": 1},
    ),
    Node("m", "MatMul", (t("w", 5, 2, const=True), t("a", 2, 3)), (t("y", 5, 3),)),
    Node(
        "bn",
        "BatchNormalization",
        (t("x", 1, 3, 2), *(t(n, 3, const=True) for n in "sbmv")),
        (t("y", 1, 3, 2),),
    ),
    Node("ln", "LayerNormalization", (t("x", 2, 4), t("s", 4, const=True)), (t("y", 2, 4),)),
    Node("p", "PRelu", (t("x", 2, 4), t("s", 4, const=True)), (t("y", 2, 4),)),
    Node("e", "Gather", (t("e", 10, 4, const=True), t("i", 3, dtype=DType.INT64)), (t("y", 3, 4),)),
    Node(
        "l",
        "LSTM",
        (
            t("x", 2, 1, 3),
            t("w", 1, 8, 3, const=True),
            t("r", 1, 8, 2, const=True),
            t("b", 1, 16, const=True),
        ),
        (t("y", 2, 1, 1, 2),),
    ),
]


@pytest.mark.parametrize("node", SAMPLES, ids=lambda n: n.op)
def test_params_match_selected_tensors(node: Node) -> None:
    # The analysis deduplicates through param_tensors, so both views must agree.
    selected = param_tensors(node)
    assert selected, "every sample has parameters"
    assert cost_of(node).params == sum(x.numel for x in selected)
    assert all(x.is_const for x in selected)


def test_batch_norm_running_stats_are_not_parameters() -> None:
    names = {x.name for x in param_tensors(SAMPLES[3])}
    assert names == {"s", "b"}
