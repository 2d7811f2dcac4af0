"""Conv and ConvTranspose counts, worked out by hand (fvcore style)."""

from __future__ import annotations

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), DType.FLOAT32, is_const=const)


def conv(
    x: TensorInfo,
    w: TensorInfo,
    y: TensorInfo,
    *extra: TensorInfo,
    op: str = "Conv",
    **attrs: object,
) -> Node:
    return Node("n", op, (x, w, *extra), (y,), dict(attrs))


def test_conv2d_grouped_strided_padded_with_bias() -> None:
    # X [2,8,10,10], W [16,4,3,3], group 2, stride 2, pad 1 -> out (10+2-3)//2+1 = 5: Y [2,16,5,5]
    # MACs = N*Cout*HoWo*(Cin/g)*kh*kw = 2*16*25*4*9 = 28800; bias adds 2*16*25 = 800
    # FLOPs = 2*28800 + 800 = 58400; params = 16*4*9 + 16 = 592
    # read = (2*8*100 + 576 + 16) * 4 = 8768 B; written = 800*4 = 3200 B
    c = cost_of(
        conv(
            t("x", 2, 8, 10, 10),
            t("w", 16, 4, 3, 3, const=True),
            t("y", 2, 16, 5, 5),
            t("b", 16, const=True),
            kernel_shape=(3, 3),
            strides=(2, 2),
            pads=(1, 1, 1, 1),
            dilations=(1, 1),
            group=2,
        )
    )
    assert (c.macs, c.flops, c.params) == (28800, 58400, 592)
    assert (c.bytes_read, c.bytes_written) == (8768, 3200)
    assert c.modeled


def test_conv2d_dilated_no_bias() -> None:
    # X [1,3,9,9], W [4,3,3,3], dilation 2 (effective kernel 5), no pad -> 5x5; Y [1,4,5,5]
    # MACs = 4*25*3*9 = 2700; no bias: FLOPs = 5400; params 108
    c = cost_of(conv(t("x", 1, 3, 9, 9), t("w", 4, 3, 3, 3, const=True), t("y", 1, 4, 5, 5)))
    assert (c.macs, c.flops, c.params) == (2700, 5400, 108)


def test_conv_depthwise() -> None:
    # X [1,32,7,7], W [32,1,3,3], group 32, pad 1: MACs = 32*49*1*9 = 14112
    c = cost_of(conv(t("x", 1, 32, 7, 7), t("w", 32, 1, 3, 3, const=True), t("y", 1, 32, 7, 7)))
    assert c.macs == 14112


def test_conv1d() -> None:
    # X [1,4,20], W [6,4,5], pad 2 -> Y [1,6,20]; MACs = 6*20*4*5 = 2400
    c = cost_of(conv(t("x", 1, 4, 20), t("w", 6, 4, 5, const=True), t("y", 1, 6, 20)))
    assert (c.macs, c.flops) == (2400, 4800)


def test_conv3d_with_bias() -> None:
    # X [1,2,4,8,8], W [3,2,3,3,3], pad 1 -> Y [1,3,4,8,8] (256 positions)
    # MACs = 3*256*2*27 = 41472; bias 3*256 = 768 -> FLOPs = 82944 + 768 = 83712
    # params = 3*2*27 + 3 = 165
    c = cost_of(
        conv(
            t("x", 1, 2, 4, 8, 8),
            t("w", 3, 2, 3, 3, 3, const=True),
            t("y", 1, 3, 4, 8, 8),
            t("b", 3, const=True),
        )
    )
    assert (c.macs, c.flops, c.params) == (41472, 83712, 165)


def test_conv_with_activation_weight_has_no_params() -> None:
    # A weight computed at run time is not a learnable parameter: params 0, MACs unchanged.
    c = cost_of(conv(t("x", 1, 4, 20), t("w", 6, 4, 5), t("y", 1, 6, 20)))
    assert (c.macs, c.params) == (2400, 0)


def test_conv_transpose_strided_with_bias() -> None:
    # X [1,8,4,4], W [8,3,2,2] (Cin, Cout/g, k), stride 2 -> Y [1,3,8,8]
    # MACs = N*Cin*HiWi*(Cout/g)*kh*kw = 8*16*3*4 = 1536; bias 3*64 = 192 -> FLOPs 3264
    # params = 8*3*4 + 3 = 99
    c = cost_of(
        conv(
            t("x", 1, 8, 4, 4),
            t("w", 8, 3, 2, 2, const=True),
            t("y", 1, 3, 8, 8),
            t("b", 3, const=True),
            op="ConvTranspose",
        )
    )
    assert (c.macs, c.flops, c.params) == (1536, 3264, 99)


def test_conv_transpose_grouped() -> None:
    # X [1,4,5,5], W [4,2,3,3], group 2 -> Cout = 4, Y [1,4,7,7]
    # MACs = 4*25*2*9 = 1800
    c = cost_of(
        conv(
            t("x", 1, 4, 5, 5),
            t("w", 4, 2, 3, 3, const=True),
            t("y", 1, 4, 7, 7),
            op="ConvTranspose",
            group=2,
        )
    )
    assert c.macs == 1800
