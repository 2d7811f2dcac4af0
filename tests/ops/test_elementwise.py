"""Elementwise arithmetic and activation conventions (table in docs/design/cost_model.md)."""

from __future__ import annotations

import pytest

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype, is_const=const)


def test_add_broadcast_counts_output_elements() -> None:
    # [2,3] + const [3] -> [2,3]: 6 FLOPs; read (6+3)*4 = 36, written 24; the stored [3] float
    # operand is a bias: 3 params
    c = cost_of(Node("n", "Add", (t("a", 2, 3), t("b", 3, const=True)), (t("y", 2, 3),)))
    assert (c.flops, c.macs, c.params, c.bytes_read, c.bytes_written) == (6, 0, 3, 36, 24)


def test_scalar_constant_is_not_a_parameter() -> None:
    # x * 0.5 (GELU's scalar): 6 FLOPs, the one-element constant is not learned
    c = cost_of(Node("n", "Mul", (t("a", 2, 3), t("h", const=True)), (t("y", 2, 3),)))
    assert (c.flops, c.params) == (6, 0)


@pytest.mark.parametrize(
    "op", ["Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater", "And", "Or", "Xor"]
)
def test_binary_ops_one_flop_per_output(op: str) -> None:
    # [4,5] op [4,5]: 20 FLOPs
    assert cost_of(Node("n", op, (t("a", 4, 5), t("b", 4, 5)), (t("y", 4, 5),))).flops == 20


def test_variadic_sum_max_and_mean() -> None:
    # 3 operands of [4]: Sum/Max/Min fold with 2 ops per element = 8; Mean 2 adds + 1 div = 12
    ins = (t("a", 4), t("b", 4), t("c", 4))
    for op in ("Sum", "Max", "Min"):
        assert cost_of(Node("n", op, ins, (t("y", 4),))).flops == 8
    assert cost_of(Node("n", "Mean", ins, (t("y", 4),))).flops == 12
    # a single operand is a copy: no FLOPs, still traffic (16 B in, 16 B out)
    c = cost_of(Node("n", "Sum", (t("a", 4),), (t("y", 4),)))
    assert (c.flops, c.bytes_read, c.bytes_written) == (0, 16, 16)


def test_where_one_flop_per_output() -> None:
    # cond bool [4] (4 B) + x [4] + y [4] -> 4 FLOPs; read 4 + 16 + 16 = 36
    c = cost_of(
        Node("n", "Where", (t("c", 4, dtype=DType.BOOL), t("x", 4), t("y", 4)), (t("o", 4),))
    )
    assert (c.flops, c.bytes_read, c.bytes_written) == (4, 36, 16)


# Per-element constants from the table in docs/design/cost_model.md, written out independently.
ACTIVATION_TABLE = {
    "Relu": 1,
    "LeakyRelu": 2,
    "Elu": 4,
    "Selu": 5,
    "Celu": 7,
    "Clip": 2,
    "Sigmoid": 4,
    "HardSigmoid": 4,
    "HardSwish": 5,
    "Silu": 5,
    "Mish": 5,
    "Erf": 1,
    "Tanh": 1,
    "Exp": 1,
    "Log": 1,
    "Sqrt": 1,
    "Reciprocal": 1,
    "Abs": 1,
    "Neg": 1,
    "Sin": 1,
    "Cos": 1,
    "Floor": 1,
    "Ceil": 1,
    "Round": 1,
    "Sign": 1,
    "Not": 1,
    "Softplus": 3,
    "Softsign": 3,
}


@pytest.mark.parametrize(("op", "per_element"), sorted(ACTIVATION_TABLE.items()))
def test_activation_conventions(op: str, per_element: int) -> None:
    # [2,3,5] = 30 elements
    c = cost_of(Node("n", op, (t("x", 2, 3, 5),), (t("y", 2, 3, 5),)))
    assert c.flops == 30 * per_element
    assert (c.macs, c.params, c.bytes_read, c.bytes_written) == (0, 0, 120, 120)


def test_gelu_forms() -> None:
    # erf form 5 per element, tanh form 9 per element; 30 elements
    x, y = t("x", 2, 3, 5), t("y", 2, 3, 5)
    assert cost_of(Node("n", "Gelu", (x,), (y,), {"approximate": "none"})).flops == 150
    assert cost_of(Node("n", "Gelu", (x,), (y,), {"approximate": "tanh"})).flops == 270
    assert cost_of(Node("n", "Gelu", (x,), (y,))).flops == 150


def test_prelu_slope_is_a_parameter() -> None:
    # X [1,3,2,2] (12 elements), slope [3,1,1]: 2*12 = 24 FLOPs, params 3
    c = cost_of(
        Node("n", "PRelu", (t("x", 1, 3, 2, 2), t("s", 3, 1, 1, const=True)), (t("y", 1, 3, 2, 2),))
    )
    assert (c.flops, c.params) == (24, 3)
