"""Copies, gathers, views and Resize: zero FLOPs (except Resize) and exact traffic."""

from __future__ import annotations

import pytest

from estimator.ir import VIEW_OPS, DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype, is_const=const)


def i64(name: str, *shape: int) -> TensorInfo:
    return t(name, *shape, dtype=DType.INT64, const=True)


@pytest.mark.parametrize(
    ("op", "ins", "outs", "read", "written"),
    [
        # Concat [1,2,3] + [1,4,3] -> [1,6,3]: (6 + 12)*4 = 72 in, 72 out
        ("Concat", (t("a", 1, 2, 3), t("b", 1, 4, 3)), (t("y", 1, 6, 3),), 72, 72),
        # Split [1,6,3] -> 2 x [1,3,3]: 72 in, 2*36 out
        ("Split", (t("a", 1, 6, 3),), (t("y", 1, 3, 3), t("z", 1, 3, 3)), 72, 72),
        # Slice [10,4] with int64 starts/ends/axes [1] each (3*8 B) -> [5,4]: 160 + 24, 80
        ("Slice", (t("a", 10, 4), i64("s", 1), i64("e", 1), i64("x", 1)), (t("y", 5, 4),), 184, 80),
        # Transpose [2,3,4]: 96 in, 96 out
        ("Transpose", (t("a", 2, 3, 4),), (t("y", 4, 3, 2),), 96, 96),
        # Pad [2,2] with int64 pads [4] -> [4,4]: 16 + 32 = 48 in, 64 out
        ("Pad", (t("a", 2, 2), i64("p", 4)), (t("y", 4, 4),), 48, 64),
        # Cast float32 [10] -> float16: 40 in, 20 out
        ("Cast", (t("a", 10),), (t("y", 10, dtype=DType.FLOAT16),), 40, 20),
        # Expand [1,3] with int64 shape [2] -> [4,3]: 12 + 16 = 28 in, 48 out
        ("Expand", (t("a", 1, 3), i64("s", 2)), (t("y", 4, 3),), 28, 48),
        # Tile [2,3] with int64 repeats [2] -> [4,6]: 24 + 16 = 40 in, 96 out
        ("Tile", (t("a", 2, 3), i64("r", 2)), (t("y", 4, 6),), 40, 96),
        # DepthToSpace [1,8,2,2] -> [1,2,4,4]: 128 in, 128 out
        ("DepthToSpace", (t("a", 1, 8, 2, 2),), (t("y", 1, 2, 4, 4),), 128, 128),
    ],
)
def test_copies(
    op: str, ins: tuple[TensorInfo, ...], outs: tuple[TensorInfo, ...], read: int, written: int
) -> None:
    c = cost_of(Node("n", op, ins, outs))
    assert (c.flops, c.macs, c.params, c.bytes_read, c.bytes_written) == (0, 0, 0, read, written)
    assert c.modeled


def test_gather_embedding_reads_rows_not_table() -> None:
    # table [1000,16] const, ids int64 [2,5] -> [2,5,16] (160 floats = 640 B)
    # read = 640 (gathered rows) + 10*8 (ids) = 720, not the 64000 B table; params 16000
    ins = (t("e", 1000, 16, const=True), t("ids", 2, 5, dtype=DType.INT64))
    c = cost_of(Node("n", "Gather", ins, (t("y", 2, 5, 16),), {"axis": 0}))
    assert (c.flops, c.params, c.bytes_read, c.bytes_written) == (0, 16000, 720, 640)


def test_gather_from_activation_has_no_params() -> None:
    ins = (t("x", 4, 16), t("ids", 2, dtype=DType.INT64, const=True))
    c = cost_of(Node("n", "Gather", ins, (t("y", 2, 16),), {"axis": 0}))
    assert (c.params, c.bytes_read) == (0, 2 * 16 * 4 + 16)


@pytest.mark.parametrize("op", sorted(VIEW_OPS))
def test_views_cost_nothing(op: str) -> None:
    ins = (t("a", 2, 3, 4), i64("shape", 2))
    c = cost_of(Node("n", op, ins, (t("y", 6, 4),)))
    assert (c.flops, c.macs, c.params, c.bytes_read, c.bytes_written) == (0, 0, 0, 0, 0)
    assert c.modeled


@pytest.mark.parametrize(
    ("mode", "per_output"),
    [("nearest", 0), ("linear", 7), ("cubic", 31)],  # 2 resized axes: 2*4-1, 2*16-1
)
def test_resize(mode: str, per_output: int) -> None:
    # [1,3,4,4] -> [1,3,8,8] = 192 outputs
    c = cost_of(Node("n", "Resize", (t("x", 1, 3, 4, 4),), (t("y", 1, 3, 8, 8),), {"mode": mode}))
    assert c.flops == 192 * per_output
    assert (c.bytes_read, c.bytes_written) == (192, 768)


def test_resize_linear_one_axis() -> None:
    # [1,2,5] -> [1,2,10] linear: one resized axis, 2 taps: 2*2-1 = 3 per output * 20 = 60
    c = cost_of(Node("n", "Resize", (t("x", 1, 2, 5),), (t("y", 1, 2, 10),), {"mode": "linear"}))
    assert c.flops == 60
