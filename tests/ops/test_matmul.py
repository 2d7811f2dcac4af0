"""Gemm, MatMul and Einsum counts, worked out by hand."""

from __future__ import annotations

import pytest

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of
from estimator.ops.matmul import parse_einsum


def t(name: str, *shape: int, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), DType.FLOAT32, is_const=const)


def node(op: str, ins: tuple[TensorInfo, ...], out: TensorInfo, **attrs: object) -> Node:
    return Node("n", op, ins, (out,), dict(attrs))


def test_gemm_linear_with_bias() -> None:
    # torch Linear(5 -> 4) on [3,5]: A [3,5], B [4,5] transB, C [4]
    # MACs = 3*5*4 = 60; FLOPs = 120 + 12 bias adds = 132; params = 20 + 4 = 24
    # read = (15 + 20 + 4) * 4 = 156; written = 12*4 = 48
    c = cost_of(
        node(
            "Gemm",
            (t("a", 3, 5), t("b", 4, 5, const=True), t("c", 4, const=True)),
            t("y", 3, 4),
            transB=1,
        )
    )
    assert (c.macs, c.flops, c.params, c.bytes_read, c.bytes_written) == (60, 132, 24, 156, 48)


def test_gemm_trans_a() -> None:
    # A [5,3] transA -> op(A) [3,5]; B [5,4]: MACs = 3*5*4 = 60, no bias: FLOPs 120
    c = cost_of(node("Gemm", (t("a", 5, 3), t("b", 5, 4, const=True)), t("y", 3, 4), transA=1))
    assert (c.macs, c.flops, c.params) == (60, 120, 20)


def test_gemm_rank3_a_is_batched() -> None:
    # A [2,7,5], B [4,5] transB: rows 14, MACs = 14*5*4 = 280
    c = cost_of(
        node("Gemm", (t("a", 2, 7, 5), t("b", 4, 5, const=True)), t("y", 2, 7, 4), transB=1)
    )
    assert c.macs == 280


def test_gemm_alpha_beta() -> None:
    # [3,5] x [5,4] + C[4], alpha 0.5, beta 2: 2*60 + 12 (alpha) + 12 (bias add) + 4 (beta*C)
    c = cost_of(
        node(
            "Gemm",
            (t("a", 3, 5), t("b", 5, 4, const=True), t("c", 4, const=True)),
            t("y", 3, 4),
            alpha=0.5,
            beta=2.0,
        )
    )
    assert c.flops == 148


def test_matmul_broadcast_batch() -> None:
    # [2,1,3,4] @ [5,4,6] -> batch broadcast (2,5), out [2,5,3,6]; MACs = 10*3*6*4 = 720
    c = cost_of(node("MatMul", (t("a", 2, 1, 3, 4), t("b", 5, 4, 6)), t("y", 2, 5, 3, 6)))
    assert (c.macs, c.flops, c.params) == (720, 1440, 0)


@pytest.mark.parametrize(
    ("sa", "sb", "sy", "macs"),
    [
        ((4,), (2, 4, 6), (2, 6), 2 * 6 * 4),  # 1-D a is a row vector, then dropped
        ((2, 3, 4), (4,), (2, 3), 2 * 3 * 4),  # 1-D b is a column vector
        ((4,), (4,), (), 4),  # dot product
    ],
)
def test_matmul_1d_operands(
    sa: tuple[int, ...], sb: tuple[int, ...], sy: tuple[int, ...], macs: int
) -> None:
    c = cost_of(node("MatMul", (t("a", *sa), t("b", *sb)), t("y", *sy)))
    assert c.macs == macs


def test_matmul_const_operand_is_a_parameter() -> None:
    # [8,16] @ W[16,32]: params = 512
    c = cost_of(node("MatMul", (t("a", 8, 16), t("w", 16, 32, const=True)), t("y", 8, 32)))
    assert (c.params, c.macs) == (512, 8 * 16 * 32)


def test_einsum_batched_matmul() -> None:
    # bij,bjk->bik on [2,3,4],[2,4,5]: MACs = 2*3*4*5 = 120
    c = cost_of(
        node("Einsum", (t("a", 2, 3, 4), t("b", 2, 4, 5)), t("y", 2, 3, 5), equation="bij,bjk->bik")
    )
    assert (c.macs, c.flops) == (120, 240)


def test_einsum_three_operands_left_to_right() -> None:
    # ij,jk,kl->il on [2,3],[3,4],[4,5]: (ij,jk -> ik) 2*3*4 = 24, then (ik,kl -> il) 2*4*5 = 40
    c = cost_of(
        node(
            "Einsum",
            (t("a", 2, 3), t("b", 3, 4), t("c", 4, 5)),
            t("y", 2, 5),
            equation="ij,jk,kl->il",
        )
    )
    assert c.macs == 64


def test_einsum_ellipsis_and_implicit_output() -> None:
    # ...ij,...jk->...ik on [6,2,3],[6,3,4]: 6*2*3*4 = 144
    c = cost_of(
        node(
            "Einsum",
            (t("a", 6, 2, 3), t("b", 6, 3, 4)),
            t("y", 6, 2, 4),
            equation="...ij,...jk->...ik",
        )
    )
    assert c.macs == 144
    # implicit output of "ij,jk" is "ik" (labels seen once, sorted): 2*3*4 = 24
    assert parse_einsum("ij,jk", (2, 2)) == (("ij", "jk"), "ik")
    c = cost_of(node("Einsum", (t("a", 2, 3), t("b", 3, 4)), t("y", 2, 4), equation="ij,jk"))
    assert c.macs == 24


def test_einsum_single_operand() -> None:
    # trace-like sum "ij->" over [3,4]: no MACs, 12 adds; transpose "ij->ji": nothing
    c = cost_of(node("Einsum", (t("a", 3, 4),), t("y"), equation="ij->"))
    assert (c.macs, c.flops) == (0, 12)
    c = cost_of(node("Einsum", (t("a", 3, 4),), t("y", 4, 3), equation="ij->ji"))
    assert (c.macs, c.flops) == (0, 0)
