"""Pooling, reduction, scan and top-k conventions, worked out by hand."""

from __future__ import annotations

import pytest

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype)


def test_max_pool() -> None:
    # X [1,2,8,8], 3x3 stride 2 pad 1 -> Y [1,2,4,4] = 32 outputs; 9-1 = 8 compares each = 256
    c = cost_of(
        Node(
            "n",
            "MaxPool",
            (t("x", 1, 2, 8, 8),),
            (t("y", 1, 2, 4, 4),),
            {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1)},
        )
    )
    assert (c.flops, c.bytes_read, c.bytes_written) == (256, 512, 128)


def test_average_pool() -> None:
    # 2x2 stride 2 -> 32 outputs; 3 adds + 1 divide = 4 each = 128
    c = cost_of(
        Node(
            "n",
            "AveragePool",
            (t("x", 1, 2, 8, 8),),
            (t("y", 1, 2, 4, 4),),
            {"kernel_shape": (2, 2), "strides": (2, 2)},
        )
    )
    assert c.flops == 128


def test_global_pools() -> None:
    # X [1,2,8,8] -> [1,2,1,1]: average 1 per input element = 128; max 64-1 per channel = 126
    x, y = t("x", 1, 2, 8, 8), t("y", 1, 2, 1, 1)
    assert cost_of(Node("n", "GlobalAveragePool", (x,), (y,))).flops == 128
    assert cost_of(Node("n", "GlobalMaxPool", (x,), (y,))).flops == 126


@pytest.mark.parametrize(
    ("op", "flops"),
    [
        # [2,3,4] over axis 2 -> [2,3]: I = 24, O = 6
        ("ReduceSum", 18),  # I - O
        ("ReduceMax", 18),
        ("ReduceMin", 18),
        ("ReduceProd", 18),
        ("ReduceMean", 24),  # I - O adds + O divides
        ("ReduceL1", 42),  # I abs + (I - O) adds
        ("ReduceSumSquare", 42),
        ("ReduceL2", 48),  # I squares + (I - O) adds + O sqrt
        ("ReduceLogSumExp", 48),
        ("ArgMax", 18),
        ("ArgMin", 18),
    ],
)
def test_reductions(op: str, flops: int) -> None:
    out = t("y", 2, 3, dtype=DType.INT64 if op.startswith("Arg") else DType.FLOAT32)
    c = cost_of(Node("n", op, (t("x", 2, 3, 4),), (out,), {"axes": (2,), "keepdims": 0}))
    assert c.flops == flops
    assert c.bytes_read == 96


def test_cum_sum() -> None:
    # [3,5] along axis 1: 3 lines of 4 adds = 12
    c = cost_of(
        Node(
            "n", "CumSum", (t("x", 3, 5), t("ax", dtype=DType.INT64)), (t("y", 3, 5),), {"axis": 1}
        )
    )
    assert c.flops == 12


def test_top_k() -> None:
    # [2,10], k = 3 along axis 1: ceil(log2 3) = 2 compares per input element = 40
    outs = (t("v", 2, 3), t("i", 2, 3, dtype=DType.INT64))
    c = cost_of(Node("n", "TopK", (t("x", 2, 10), t("k", 1, dtype=DType.INT64)), outs, {"axis": 1}))
    assert c.flops == 40
    # written: 6*4 + 6*8 = 72
    assert c.bytes_written == 72
