"""Kernel shape features on tiny hand-built graphs, expected values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estimator.ir import Graph
from estimator.kernelmodel.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    FEATURE_VERSION,
    N_FEATURES,
    OP_CODES,
    PREFIX_VERSIONS,
    contiguous_run,
    kernel_features,
)
from estimator.partition import partition
from estimator.partition.categories import CATEGORY_INDEX
from estimator.registry.models import KernelCategory as KC
from tests.partition._graphs import conv, graph, layernorm, node, t, unary

F32 = 4
GENERIC = FEATURE_NAMES[: FEATURE_INDEX["n_outputs"] + 1]


def _one(g: Graph) -> dict[str, float]:
    plan = partition(g, "onnxruntime-cpu")
    assert len(plan) == 1
    x = kernel_features(g, plan)
    assert x.shape == (1, N_FEATURES) and x.dtype == np.float64
    return dict(zip(FEATURE_NAMES, x[0].tolist(), strict=True))


def _check(f: dict[str, float], expected: dict[str, float]) -> None:
    for name, want in expected.items():
        assert f[name] == pytest.approx(want, rel=1e-12), name
    for name in GENERIC:
        assert math.isfinite(f[name]), name


def _nan(f: dict[str, float], prefixes: tuple[str, ...]) -> None:
    for name, v in f.items():
        if name.startswith(prefixes):
            assert math.isnan(v), name


def test_schema_is_fixed() -> None:
    assert FEATURE_VERSION == 3
    # v3 appended conv_nchwc: v2 files read the first 50 columns
    assert PREFIX_VERSIONS == {2: 50} and FEATURE_NAMES[50:] == ("conv_nchwc",)
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == N_FEATURES
    assert len(set(OP_CODES.values())) == len(OP_CODES)
    assert OP_CODES["Conv"] == 1 and OP_CODES["Gemm"] == 3 and OP_CODES["MatMul"] == 4


def test_grouped_conv() -> None:
    # X [1,8,10,10], W [16,2,3,3], group 4, stride 2, pad 1 -> (10+2-3)//2+1 = 5: Y [1,16,5,5]
    # MACs = 16*25*2*9 = 7200, FLOPs 14400; read (800 + 288)*4 = 4352 B, write 400*4 = 1600 B
    x = t("x", 1, 8, 10, 10)
    w = t("w", 16, 2, 3, 3, const=True)
    y = t("y", 1, 16, 5, 5)
    n = node(
        "conv",
        "Conv",
        [x, w],
        [y],
        kernel_shape=(3, 3),
        strides=(2, 2),
        pads=(1, 1, 1, 1),
        dilations=(1, 1),
        group=4,
    )
    f = _one(graph("g", [n], [x], [y]))
    _check(
        f,
        {
            "log10_flops": math.log10(14400),
            "log10_bytes": math.log10(5952),
            "log10_working_set": math.log10(5952),
            "arithmetic_intensity": 14400 / 5952,
            "log10_weight_bytes": math.log10(1152),
            "log10_output_elements": math.log10(400),
            "n_ops": 1,
            "op_code": OP_CODES["Conv"],
            "category": CATEGORY_INDEX[KC.CONV_GROUPED],
            "elem_bytes": F32,
            "n_inputs": 2,
            "n_outputs": 1,
            "conv_n": 1,
            "conv_cin": 8,
            "conv_cout": 16,
            "conv_groups": 4,
            "conv_cin_per_group": 2,
            "conv_cout_per_group": 4,
            # 8 = 2^3, 16 = 2^4, 2 channels per group = 2^1; output width 5
            "conv_cin_align": 3,
            "conv_cout_align": 4,
            "conv_group_width_align": 1,
            "conv_out_w": 5,
            "conv_kernel_hw": 9,
            "conv_stride": 2,
            "conv_dilation": 1,
            "conv_out_hw": 25,
            "conv_log10_out_hw": math.log10(25),
            "conv_is_depthwise": 0,
            "conv_is_pointwise": 0,
        },
    )
    _nan(f, ("gemm_", "pool_", "ew_", "dm_", "norm_"))


def test_depthwise_conv_with_fused_relu() -> None:
    # X [2,32,7,7], W [32,1,3,3] group 32 pad 1, bias, Relu epilogue: one kernel of two ops.
    # MACs 2*32*49*9 = 28224 -> 56448 FLOPs + bias 3136 + Relu 3136 = 62720
    # bytes: X 3136*4 + W 288*4 + B 32*4 + Y 3136*4 = 26368 (the conv output is never written)
    x = t("x", 2, 32, 7, 7)
    c = conv("dw", x, 32, 3, "c", group=32, bias=True)
    r = unary("relu", "Relu", c.outputs[0], "y")
    f = _one(graph("dw", [c, r], [x], [r.outputs[0]]))
    _check(
        f,
        {
            "log10_flops": math.log10(62720),
            "log10_bytes": math.log10(26368),
            "log10_weight_bytes": math.log10(1152 + 128),
            "log10_output_elements": math.log10(3136),
            "n_ops": 2,
            "category": CATEGORY_INDEX[KC.CONV_DEPTHWISE],
            "n_inputs": 3,
            "conv_n": 2,
            "conv_cin": 32,
            "conv_cout": 32,
            "conv_groups": 32,
            "conv_cin_per_group": 1,
            "conv_cout_per_group": 1,
            "conv_kernel_hw": 9,
            "conv_stride": 1,
            "conv_out_hw": 49,
            "conv_is_depthwise": 1,
            "conv_is_pointwise": 0,
        },
    )


def test_gemm_with_weight_initializer() -> None:
    # A [2,16,64] (32 tokens), B [128,64] const with transB, bias [128]: M=32 N=128 K=64
    # FLOPs 2*32*64*128 + 4096 = 528384; read (2048 + 8192 + 128)*4 = 41472 B, write 16384 B
    a = t("a", 2, 16, 64)
    b = t("W", 128, 64, const=True)
    c = t("bias", 128, const=True)
    y = t("y", 2, 16, 128)
    n = node("fc", "Gemm", [a, b, c], [y], transA=0, transB=1, alpha=1.0, beta=1.0)
    f = _one(graph("g", [n], [a], [y]))
    _check(
        f,
        {
            "log10_flops": math.log10(528384),
            "log10_bytes": math.log10(57856),
            "log10_weight_bytes": math.log10(32768 + 512),
            "op_code": OP_CODES["Gemm"],
            "category": CATEGORY_INDEX[KC.GEMM],
            "gemm_m": 32,
            "gemm_n": 128,
            "gemm_k": 64,
            "gemm_batch": 1,
            "gemm_weight_const": 1,
            "gemm_log10_weight_bytes": math.log10(32768),
        },
    )
    _nan(f, ("conv_", "pool_", "ew_", "dm_", "norm_"))


def test_matmul_of_two_activations() -> None:
    # Q [2,4,16,8] @ K^T [2,4,8,16] -> [2,4,16,16]: batch 8, M 16, N 16, K 8, FLOPs 32768
    q = t("q", 2, 4, 16, 8)
    k = t("k", 2, 4, 8, 16)
    y = t("s", 2, 4, 16, 16)
    f = _one(graph("g", [node("qk", "MatMul", [q, k], [y])], [q, k], [y]))
    _check(
        f,
        {
            "log10_flops": math.log10(32768),
            "log10_weight_bytes": 0.0,
            "n_inputs": 2,
            "gemm_m": 16,
            "gemm_n": 16,
            "gemm_k": 8,
            "gemm_batch": 8,
            "gemm_weight_const": 0,
            "gemm_log10_weight_bytes": math.log10(2 * 4 * 8 * 16 * F32),
        },
    )


def test_matmul_with_2d_weight_flattens_tokens() -> None:
    a = t("a", 4, 10, 32)
    w = t("w", 32, 8, const=True)
    y = t("y", 4, 10, 8)
    f = _one(graph("g", [node("mm", "MatMul", [a, w], [y])], [a], [y]))
    assert (f["gemm_m"], f["gemm_n"], f["gemm_k"], f["gemm_batch"]) == (40, 8, 32, 1)
    assert f["gemm_weight_const"] == 1


def test_concat() -> None:
    # a [1,8,4,4] ++ b [1,24,4,4] on axis 1 -> [1,32,4,4]: runs of 8*16 and 24*16 elements
    a, b = t("a", 1, 8, 4, 4), t("b", 1, 24, 4, 4)
    y = t("y", 1, 32, 4, 4)
    f = _one(graph("g", [node("cat", "Concat", [a, b], [y], axis=1)], [a, b], [y]))
    _check(
        f,
        {
            "log10_flops": 0.0,
            "log10_bytes": math.log10((128 + 384 + 512) * F32),
            "arithmetic_intensity": 0.0,
            "op_code": OP_CODES["Concat"],
            "category": CATEGORY_INDEX[KC.DATA_MOVEMENT],
            "n_inputs": 2,
            "dm_n_inputs": 2,
            "dm_n_outputs": 1,
            "dm_elements_moved": 512,
            "dm_contiguous_run": 128,
        },
    )
    _nan(f, ("conv_", "gemm_", "pool_", "ew_", "norm_"))


def test_layer_normalization_op() -> None:
    # X [2,16,64], axis 2: 32 rows of 64
    x = t("x", 2, 16, 64)
    s, b = t("s", 64, const=True), t("b", 64, const=True)
    y = t("y", 2, 16, 64)
    n = node("ln", "LayerNormalization", [x, s, b], [y], axis=2, epsilon=1e-5)
    f = _one(graph("g", [n], [x], [y]))
    _check(
        f,
        {
            "category": CATEGORY_INDEX[KC.NORMALIZATION],
            "op_code": OP_CODES["LayerNormalization"],
            "log10_weight_bytes": math.log10(512),
            "norm_rows": 32,
            "norm_width": 64,
        },
    )
    _nan(f, ("conv_", "gemm_", "pool_", "ew_", "dm_"))


def test_decomposed_layernorm_pattern() -> None:
    # the 9-node pattern over [2,4,16]: anchor ReduceMean over the last axis -> 8 rows of 16
    f = _one(layernorm((2, 4, 16)))
    assert f["n_ops"] == 9 and f["category"] == CATEGORY_INDEX[KC.NORMALIZATION]
    assert (f["norm_rows"], f["norm_width"]) == (8, 16)
    assert f["n_inputs"] == 5  # x, two, eps, gamma, beta


def test_elementwise_broadcast() -> None:
    x, s = t("x", 1, 16, 8, 8), t("s", 1, 16, 1, 1)
    y = t("y", 1, 16, 8, 8)
    f = _one(graph("g", [node("gate", "Mul", [x, s], [y])], [x, s], [y]))
    assert (f["ew_broadcast"], f["ew_broadcast_activation"], f["ew_elements"]) == (1, 1, 1024)
    assert f["category"] == CATEGORY_INDEX[KC.ELEMENTWISE]


def test_pooling() -> None:
    x, y = t("x", 1, 8, 8, 8), t("y", 1, 8, 4, 4)
    mp = node("mp", "MaxPool", [x], [y], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    f = _one(graph("g", [mp], [x], [y]))
    assert (f["pool_window"], f["pool_stride"], f["pool_global"]) == (9, 2, 0)
    g = t("g", 1, 8, 1, 1)
    f = _one(graph("g", [node("gap", "GlobalAveragePool", [x], [g])], [x], [g]))
    assert (f["pool_window"], f["pool_global"]) == (64, 1) and math.isnan(f["pool_stride"])


@pytest.mark.parametrize(
    ("op", "shape_in", "shape_out", "attrs", "run"),
    [
        ("Concat", (1, 2, 3, 4), (1, 2, 3, 10), {"axis": 3}, 4),
        ("Transpose", (2, 3, 4, 5), (2, 4, 3, 5), {"perm": (0, 2, 1, 3)}, 5),
        ("Transpose", (2, 3, 4, 5), (2, 3, 5, 4), {"perm": (0, 1, 3, 2)}, 1),
        ("Slice", (1, 8, 10, 10), (1, 8, 10, 5), {}, 5),
        ("Slice", (1, 8, 10, 10), (1, 4, 10, 10), {}, 400),
        ("Pad", (1, 8, 10, 10), (1, 8, 12, 12), {}, 10),
        ("Pad", (1, 8, 10, 10), (1, 10, 10, 10), {}, 800),
        ("Gather", (100, 64), (7, 64), {"axis": 0}, 64),
        ("Cast", (3, 5), (3, 5), {}, 15),
    ],
)
def test_contiguous_run(
    op: str,
    shape_in: tuple[int, ...],
    shape_out: tuple[int, ...],
    attrs: dict[str, object],
    run: int,
) -> None:
    ins = [t("x", *shape_in)]
    if op == "Concat":
        ins.append(t("x2", *shape_in[:-1], shape_out[-1] - shape_in[-1]))
    if op == "Gather":
        ins.append(t("idx", 7, dtype=ins[0].dtype))
    n = node("n", op, ins, [t("y", *shape_out)], **attrs)
    assert contiguous_run(n) == run


def _mixed_graph(extra_sigmoid: bool) -> Graph:
    """conv -> Sigmoid -> channels-last Transpose -> Softmax [-> Sigmoid] -> an unknown op."""
    x = t("x", 1, 4, 6, 6)
    nodes = [
        conv("c", x, 4, 3, "a"),
        unary("r", "Sigmoid", t("a", 1, 4, 6, 6), "b"),
        node("tr", "Transpose", [t("b", 1, 4, 6, 6)], [t("c", 1, 6, 6, 4)], perm=(0, 2, 3, 1)),
        node("sm", "Softmax", [t("c", 1, 6, 6, 4)], [t("d", 1, 6, 6, 4)], axis=3),
    ]
    last = "d"
    if extra_sigmoid:
        nodes.append(unary("r2", "Sigmoid", t("d", 1, 6, 6, 4), "e"))
        last = "e"
    nodes.append(node("u", "com.example.Mystery", [t(last, 1, 6, 6, 4)], [t("f", 1, 6, 6, 4)]))
    return graph("mix", nodes, [x], [t("f", 1, 6, 6, 4)])


def test_every_category_has_generic_features() -> None:
    g = _mixed_graph(extra_sigmoid=False)
    plan = partition(g, "pytorch-eager")
    feats = kernel_features(g, plan)
    assert feats.shape == (5, N_FEATURES)
    assert np.all(np.isfinite(feats[:, : len(GENERIC)][:, [FEATURE_INDEX["n_ops"]]]))
    for row in feats:
        assert all(math.isfinite(row[FEATURE_INDEX[n]]) for n in GENERIC if n != "op_code")
    sm = feats[3]
    assert (sm[FEATURE_INDEX["norm_rows"]], sm[FEATURE_INDEX["norm_width"]]) == (36, 4)
    assert feats[2][FEATURE_INDEX["dm_contiguous_run"]] == 1  # channels-last transpose
    assert feats[4][FEATURE_INDEX["op_code"]] == 0  # unknown op


def test_alignment_is_the_power_of_two_dividing_a_count() -> None:
    from estimator.kernelmodel.features import align

    assert [align(v) for v in (1, 2, 12, 16, 48, 1238, 4096)] == [0, 1, 2, 4, 4, 1, 6]
    assert math.isnan(align(0)) and math.isnan(align(2.5))


@pytest.mark.parametrize(
    ("cin", "cout", "group", "want"),
    [
        (64, 64, 4, 1.0),  # group widths 16 and 16: whole blocks of 16
        (64, 64, 8, 0.0),  # widths of 8: the NCHW path at block 16
        (32, 48, 1, 1.0),  # dense: always blocked
        (48, 48, 48, 1.0),  # depthwise, channels a multiple of the depthwise multiple
    ],
)
def test_conv_nchwc_is_the_runtimes_layout_choice(
    cin: int, cout: int, group: int, want: float
) -> None:
    x = t("x", 1, cin, 8, 8)
    w = t("w", cout, cin // group, 3, 3, const=True)
    y = t("y", 1, cout, 8, 8)
    n = node("conv", "Conv", [x, w], [y], kernel_shape=(3, 3), pads=(1, 1, 1, 1), group=group)
    g = graph("g", [n], [x], [y])
    blocked = partition(g, "onnxruntime-cpu", nchwc_block=16)
    assert blocked.features is not None
    x16 = blocked.features[[k.category != KC.DATA_MOVEMENT for k in blocked.kernels]]
    assert x16[0, FEATURE_INDEX["conv_nchwc"]] == want
    plain = partition(g, "onnxruntime-cpu")  # no blocked layout: not applicable
    assert plain.features is not None
    assert math.isnan(plain.features[0, FEATURE_INDEX["conv_nchwc"]])


def test_all_kernels_at_once_equal_kernel_by_kernel() -> None:
    # the matrix is built column-wise over all kernels (issue 15): each row must be the row the
    # kernel gets alone, bit for bit, whatever the other kernels are
    g = _mixed_graph(extra_sigmoid=True)
    plan = partition(g, "pytorch-eager")
    feats = kernel_features(g, plan)
    assert feats.shape == (6, N_FEATURES)
    for i, k in enumerate(plan.kernels):
        alone = kernel_features(g, [k])
        assert alone.tobytes() == feats[i : i + 1].tobytes(), k.name
    # the Sigmoid kernels by hand: 144 float32 elements in and out, 4 FLOPs each
    for i in (1, 4):
        f = dict(zip(FEATURE_NAMES, feats[i].tolist(), strict=True))
        assert f["log10_flops"] == math.log10(576)
        assert f["log10_bytes"] == math.log10(2 * 144 * F32)
        assert f["arithmetic_intensity"] == 576 / (2 * 144 * F32)
        assert f["log10_weight_bytes"] == 0.0 and f["log10_output_elements"] == math.log10(144)
        assert (f["n_ops"], f["op_code"], f["elem_bytes"]) == (1, OP_CODES["Sigmoid"], F32)
        assert (f["n_inputs"], f["n_outputs"]) == (1, 1)
        assert (f["ew_elements"], f["ew_broadcast"], f["ew_broadcast_activation"]) == (144, 0, 0)
        _nan(f, ("conv_", "gemm_", "pool_", "dm_", "norm_"))
    assert kernel_features(g, []).shape == (0, N_FEATURES)
