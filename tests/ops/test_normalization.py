"""Softmax and normalization conventions, worked out by hand."""

from __future__ import annotations

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), DType.FLOAT32, is_const=const)


def test_softmax_and_log_softmax() -> None:
    # [2,10]: 5 per element = 100
    for op in ("Softmax", "LogSoftmax"):
        c = cost_of(Node("n", op, (t("x", 2, 10),), (t("y", 2, 10),), {"axis": 1}))
        assert (c.flops, c.bytes_read, c.bytes_written) == (100, 80, 80)


def test_batch_norm_inference() -> None:
    # X [2,3,4,4] = 96 elements: 2 per element = 192; params scale+bias = 6 (running stats are
    # buffers); read (96 + 4*3)*4 = 432
    ins = (t("x", 2, 3, 4, 4), *(t(n, 3, const=True) for n in ("s", "b", "m", "v")))
    c = cost_of(Node("n", "BatchNormalization", ins, (t("y", 2, 3, 4, 4),)))
    assert (c.flops, c.params, c.bytes_read, c.bytes_written) == (192, 6, 432, 384)


def test_layer_norm_scale_and_bias() -> None:
    # X [2,5,8] = 80: (5 stats + 1 scale + 1 bias) * 80 = 560; params 8 + 8 = 16
    ins = (t("x", 2, 5, 8), t("s", 8, const=True), t("b", 8, const=True))
    c = cost_of(Node("n", "LayerNormalization", ins, (t("y", 2, 5, 8),), {"axis": 2}))
    assert (c.flops, c.params) == (560, 16)


def test_layer_norm_without_bias() -> None:
    # (5 + 1) * 80 = 480; params 8
    ins = (t("x", 2, 5, 8), t("s", 8, const=True))
    c = cost_of(Node("n", "LayerNormalization", ins, (t("y", 2, 5, 8),), {"axis": 2}))
    assert (c.flops, c.params) == (480, 8)


def test_rms_norm() -> None:
    # (3 + 1 scale) * 80 = 320; params 8
    ins = (t("x", 2, 5, 8), t("s", 8, const=True))
    c = cost_of(Node("n", "RMSNormalization", ins, (t("y", 2, 5, 8),), {"axis": 2}))
    assert (c.flops, c.params) == (320, 8)


def test_group_norm() -> None:
    # X [2,6,4,4] = 192: 7 * 192 = 1344; params 6 + 6 = 12
    ins = (t("x", 2, 6, 4, 4), t("s", 6, const=True), t("b", 6, const=True))
    c = cost_of(Node("n", "GroupNormalization", ins, (t("y", 2, 6, 4, 4),), {"num_groups": 3}))
    assert (c.flops, c.params) == (1344, 12)


def test_instance_norm() -> None:
    # X [1,4,5,5] = 100: 7 * 100 = 700; params 4 + 4 = 8
    ins = (t("x", 1, 4, 5, 5), t("s", 4, const=True), t("b", 4, const=True))
    c = cost_of(Node("n", "InstanceNormalization", ins, (t("y", 1, 4, 5, 5),)))
    assert (c.flops, c.params) == (700, 8)


def test_lp_norm() -> None:
    # [3,4] = 12: 3 per element = 36
    assert cost_of(Node("n", "LpNormalization", (t("x", 3, 4),), (t("y", 3, 4),))).flops == 36
