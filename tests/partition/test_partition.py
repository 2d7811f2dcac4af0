"""Fusion rules on tiny hand-built graphs, per runtime; bytes and FLOPs worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.ir import Graph
from estimator.ops import cost_of
from estimator.partition import partition
from estimator.partition.rules import load_rules
from estimator.registry.models import KernelCategory as KC
from tests.partition._graphs import (
    binary,
    conv,
    conv_bn_relu,
    graph,
    layernorm,
    node,
    t,
    unary,
)

F32 = 4


def _ops(g: Graph, runtime: str) -> list[tuple[str, ...]]:
    return [k.ops for k in partition(g, runtime)]


def test_conv_bn_relu_is_one_kernel_on_ort_and_three_in_eager() -> None:
    g = conv_bn_relu(64, 56)
    ort = partition(g, "onnxruntime-cpu")
    assert [k.ops for k in ort] == [("Conv", "BatchNormalization", "Relu")]
    k = ort.kernels[0]
    assert k.category == KC.CONV_DENSE
    # x and y: 1*64*56*56*4 = 802816 B each; W: 64*64*3*3*4 = 147456 B. The conv output and the
    # BN output stay inside the kernel, BN is folded into the weights: 1753088 B.
    assert k.bytes == 802816 + 147456 + 802816 == 1753088
    assert k.working_set_bytes == 1753088
    # MACs: Cin*k*k = 576 per output, 64*56*56 = 200704 outputs.
    assert k.macs == 576 * 200704
    conv_n, _, relu_n = g.nodes
    assert k.flops == cost_of(conv_n).flops + cost_of(relu_n).flops  # folded BN adds no FLOPs
    assert k.sources == ("src.conv", "src.bn", "src.relu")

    eager = partition(g, "pytorch-eager")
    assert [kk.ops for kk in eager] == [("Conv",), ("BatchNormalization",), ("Relu",)]
    assert [kk.category for kk in eager] == [KC.CONV_DENSE, KC.NORMALIZATION, KC.ELEMENTWISE]
    # conv writes c, BN reads c + 4 vectors of 64 floats and writes b, relu reads b writes y.
    act = 802816
    assert (
        sum(kk.bytes for kk in eager) == (act + 147456 + act) + (act + 4 * 64 * F32 + act) + 2 * act
    )
    assert len(partition(g, "tensorrt")) == 1


def test_decomposed_layernorm_is_one_normalization_kernel() -> None:
    g = layernorm((2, 4, 16))
    plan = partition(g, "onnxruntime-cpu")
    assert len(plan) == 1
    k = plan.kernels[0]
    assert k.category == KC.NORMALIZATION
    assert len(k.nodes) == 9
    # x (2*4*16*4 = 512 B) read once, the scalars two and eps (4 B each), gamma and beta
    # (16*4 = 64 B each), y written (512 B): every intermediate stays inside.
    assert k.bytes == 512 + 4 + 4 + 64 + 64 + 512
    assert len(partition(g, "pytorch-eager")) == 9


def test_shared_consumer_prevents_fusion() -> None:
    x = t("x", 1, 16, 8, 8)
    c = conv("conv", x, 16, 3, "c")
    r = unary("relu", "Relu", c.outputs[0], "r")
    a = binary("add", "Add", c.outputs[0], r.outputs[0], "y")  # c is read twice
    g = graph("shared", [c, r, a], [x], [a.outputs[0]])
    assert _ops(g, "onnxruntime-cpu") == [("Conv",), ("Relu",), ("Add",)]


def test_graph_output_is_never_fused_away() -> None:
    x = t("x", 1, 16, 8, 8)
    c = conv("conv", x, 16, 3, "c")
    r = unary("relu", "Relu", c.outputs[0], "y")
    g = graph("two_outputs", [c, r], [x], [c.outputs[0], r.outputs[0]])
    assert len(partition(g, "onnxruntime-cpu")) == 2


def test_views_run_no_kernel() -> None:
    x = t("x", 1, 8, 4, 4)
    c = conv("conv", x, 8, 3, "c", bias=True)
    flat = node("flat", "Flatten", [c.outputs[0]], [t("f", 1, 128)], axis=1)
    w = t("W", 10, 128, const=True)
    gemm = node("fc", "Gemm", [t("f", 1, 128), w], [t("y", 1, 10)], transA=0, transB=1)
    g = graph("views", [c, flat, gemm], [x], [gemm.outputs[0]])
    plan = partition(g, "onnxruntime-cpu")
    assert [k.category for k in plan] == [KC.CONV_DENSE, KC.GEMM]
    assert plan.skipped == {"flat": "Flatten"}


def test_unknown_op_is_its_own_unmodeled_kernel() -> None:
    x = t("x", 1, 16, 8, 8)
    c = conv("conv", x, 16, 3, "c")
    u = unary("custom", "com.example.Mystery", c.outputs[0], "u")
    r = unary("relu", "Relu", u.outputs[0], "y")
    g = graph("unknown", [c, u, r], [x], [r.outputs[0]])
    plan = partition(g, "tensorrt")
    assert [k.ops for k in plan] == [("Conv",), ("com.example.Mystery",), ("Relu",)]
    mystery = plan.kernels[1]
    assert not mystery.modeled and mystery.category == KC.OTHER
    # memory traffic only: reads and writes 16*8*8 floats = 4096 B each
    assert mystery.flops == 0 and mystery.bytes == 2 * 4096
    assert plan.unmodeled == {"com.example.Mystery": 1}


def test_matmul_bias_relu_becomes_one_gemm_on_ort_but_not_without_bias() -> None:
    x = t("x", 4, 16)
    w, b = t("W", 16, 16, const=True), t("b", 16, const=True)
    mm = node("mm", "MatMul", [x, w], [t("a", 4, 16)])
    add = binary("bias", "Add", t("a", 4, 16), b, "ab")
    relu = unary("relu", "Relu", t("ab", 4, 16), "y")
    g = graph("mlp", [mm, add, relu], [x], [relu.outputs[0]])
    plan = partition(g, "onnxruntime-cpu")
    assert [k.ops for k in plan] == [("MatMul", "Add", "Relu")]
    # x 4*16*4 = 256 B, W 16*16*4 = 1024 B, bias 64 B, y 256 B
    assert plan.kernels[0].bytes == 256 + 1024 + 64 + 256
    assert plan.kernels[0].category == KC.GEMM
    # onnxruntime leaves MatMul + Relu (no bias, so no Gemm) as two kernels
    mm2 = node("mm", "MatMul", [x, w], [t("a", 4, 16)])
    relu2 = unary("relu", "Relu", t("a", 4, 16), "y")
    g2 = graph("mm_relu", [mm2, relu2], [x], [relu2.outputs[0]])
    assert len(partition(g2, "onnxruntime-cpu")) == 2


def test_residual_add_fuses_into_the_conv_that_runs_last() -> None:
    x = t("x", 1, 16, 8, 8)
    c1 = conv("c3x3", x, 16, 3, "c1")
    c2 = conv("c1x1", x, 16, 1, "c2")
    add = binary("add", "Add", c1.outputs[0], c2.outputs[0], "s")
    relu = unary("relu", "Relu", add.outputs[0], "y")
    g = graph("residual", [c1, c2, add, relu], [x], [relu.outputs[0]])
    plan = partition(g, "onnxruntime-cpu")
    assert [k.ops for k in plan] == [("Conv",), ("Conv", "Add", "Relu")]
    assert [k.category for k in plan] == [KC.CONV_DENSE, KC.CONV_POINTWISE]
    act = 16 * 8 * 8 * F32  # 4096 B
    # 1x1 conv kernel: reads x, W (16*16*4 = 1024 B) and the residual c1; writes y.
    assert plan.kernels[1].bytes == act + 1024 + act + act
    assert len(partition(g, "pytorch-eager")) == 4


def _gelu_graph() -> Graph:
    x = t("x", 2, 4, 16)
    s2, one, half = (t(n, const=True) for n in ("sqrt2", "one", "half"))
    sh = (2, 4, 16)
    nodes = [
        binary("div", "Div", x, s2, "a"),
        unary("erf", "Erf", t("a", *sh), "e"),
        binary("add1", "Add", t("e", *sh), one, "f"),
        binary("mulx", "Mul", x, t("f", *sh), "m"),
        binary("half", "Mul", t("m", *sh), half, "y"),
    ]
    return graph("gelu", nodes, [x], [t("y", *sh)])


def test_gelu_erf_pattern() -> None:
    g = _gelu_graph()
    plan = partition(g, "onnxruntime-cpu")
    assert len(plan) == 1 and plan.kernels[0].category == KC.ELEMENTWISE
    # x read once (512 B) + three scalars (12 B) + y written (512 B)
    assert plan.kernels[0].bytes == 512 + 12 + 512
    assert len(partition(g, "pytorch-eager")) == 5


def _softmax_graph() -> Graph:
    sh, red = (2, 4, 16), (2, 4, 1)
    x = t("x", *sh)
    nodes = [
        node("max", "ReduceMax", [x], [t("mx", *red)], axes=(2,), keepdims=1),
        binary("sub", "Sub", x, t("mx", *red), "d"),
        unary("exp", "Exp", t("d", *sh), "e"),
        node("sum", "ReduceSum", [t("e", *sh)], [t("s", *red)], axes=(2,), keepdims=1),
        binary("div", "Div", t("e", *sh), t("s", *red), "y"),
    ]
    return graph("softmax", nodes, [x], [t("y", *sh)])


def test_decomposed_softmax_fused_by_tensorrt_not_by_ort() -> None:
    g = _softmax_graph()
    assert len(partition(g, "onnxruntime-cpu")) == 5  # checked against onnxruntime 1.32
    trt = partition(g, "tensorrt")
    assert len(trt) == 1 and trt.kernels[0].category == KC.REDUCTION


def test_elementwise_chain_only_fused_where_the_runtime_fuses_it() -> None:
    x = t("x", 2, 4, 16)
    one, half = t("one", const=True), t("half", const=True)
    sh = (2, 4, 16)
    nodes = [
        binary("add", "Add", x, one, "a"),
        binary("mul", "Mul", t("a", *sh), half, "b"),
        unary("relu", "Relu", t("b", *sh), "y"),
    ]
    g = graph("chain", nodes, [x], [t("y", *sh)])
    assert len(partition(g, "onnxruntime-cpu")) == 3
    assert len(partition(g, "pytorch-eager")) == 3
    trt = partition(g, "tensorrt")
    assert len(trt) == 1
    # x in, y out (512 B each) + two scalars
    assert trt.kernels[0].bytes == 512 + 512 + 8


def test_decomposed_attention_is_one_kernel_on_tensorrt() -> None:
    q, kt, v = t("q", 1, 2, 8, 4), t("kT", 1, 2, 4, 8), t("v", 1, 2, 8, 4)
    scale = t("scale", const=True)
    nodes = [
        node("qk", "MatMul", [q, kt], [t("s", 1, 2, 8, 8)]),
        binary("scale", "Mul", t("s", 1, 2, 8, 8), scale, "ss"),
        node("softmax", "Softmax", [t("ss", 1, 2, 8, 8)], [t("p", 1, 2, 8, 8)], axis=3),
        node("pv", "MatMul", [t("p", 1, 2, 8, 8), v], [t("o", 1, 2, 8, 4)]),
    ]
    g = graph("attn", nodes, [q, kt, v], [t("o", 1, 2, 8, 4)])
    plan = partition(g, "tensorrt")
    assert len(plan) == 1 and plan.kernels[0].category == KC.ATTENTION
    # q, kT, v, o: 64 floats = 256 B each, plus the scale scalar; scores never hit memory.
    assert plan.kernels[0].bytes == 4 * 256 + 4
    assert len(partition(g, "pytorch-eager")) == 4


@pytest.mark.parametrize(
    ("cout", "k", "group", "expected"),
    [
        (32, 3, 32, KC.CONV_DEPTHWISE),  # group == Cin == Cout
        (64, 3, 32, KC.CONV_DEPTHWISE),  # depth multiplier 2
        (32, 1, 1, KC.CONV_POINTWISE),
        (32, 3, 4, KC.CONV_GROUPED),
        (32, 3, 1, KC.CONV_DENSE),
    ],
)
def test_conv_categories(cout: int, k: int, group: int, expected: KC) -> None:
    x = t("x", 1, 32, 8, 8)
    c = conv("conv", x, cout, k, "y", group=group)
    g = graph("c", [c], [x], [c.outputs[0]])
    assert partition(g, "pytorch-eager").kernels[0].category == expected


def test_plan_columns_match_kernels() -> None:
    g = conv_bn_relu(16, 8)
    plan = partition(g, "pytorch-eager")
    assert plan.compute_work.tolist() == [float(k.compute_work) for k in plan]
    assert plan.flops.tolist() == [float(k.flops) for k in plan]
    assert plan.bytes.tolist() == [float(k.bytes) for k in plan]
    assert plan.category.dtype == np.int32 and plan.dtype.dtype == np.int32
    assert np.allclose(plan.arrays.log_flops, np.log10(plan.compute_work))
    with pytest.raises(ValueError):
        plan.compute_work[0] = 1.0  # columns are read-only: the plan is shared between estimates


def test_tensorrt_fuses_conv_bias_residual_and_activation() -> None:
    x = t("x", 1, 16, 8, 8)
    c1 = conv("c1", x, 16, 3, "a")
    r1 = unary("r1", "Relu", c1.outputs[0], "h")
    c2 = conv("c2", r1.outputs[0], 16, 3, "b")
    bias = binary("bias", "Add", c2.outputs[0], t("bb", 16, 1, 1, const=True), "bb_out")
    res = binary("res", "Add", bias.outputs[0], x, "s")
    out = unary("r2", "Relu", res.outputs[0], "y")
    g = graph("block", [c1, r1, c2, bias, res, out], [x], [out.outputs[0]])
    trt = partition(g, "tensorrt")
    assert [k.ops for k in trt] == [("Conv", "Relu"), ("Conv", "Add", "Add", "Relu")]
    act, w = 4096, 16 * 16 * 9 * 4  # 16*8*8 floats; 3x3 weights
    # the bias Add folds into the conv bias (its 64 B constant is not read at run time); the
    # residual x is read once more.
    assert trt.kernels[1].bytes == act + w + act + act
    assert len(partition(g, "pytorch-eager")) == 6


def test_matmul_scale_and_skip_layernorm_fuse_on_ort_only() -> None:
    # attention scores: MatMul -> Mul by a stored scalar -> Softmax; onnxruntime runs
    # MatMul+Mul as one FusedMatMul (MatMulScaleFusion) and Softmax on its own
    q, k_t = t("q", 1, 4, 16, 8), t("kT", 1, 4, 8, 16)
    mm = node("mm", "MatMul", [q, k_t], [t("s", 1, 4, 16, 16)])
    sc = binary("scale", "Mul", mm.outputs[0], t("c", const=True), "z")
    sm = node("sm", "Softmax", [sc.outputs[0]], [t("p", 1, 4, 16, 16)], axis=3)
    g = graph("scores", [mm, sc, sm], [q, k_t], [sm.outputs[0]])
    assert _ops(g, "onnxruntime-cpu") == [("MatMul", "Mul"), ("Softmax",)]
    assert _ops(g, "pytorch-eager") == [("MatMul",), ("Mul",), ("Softmax",)]

    # residual Add whose sum only feeds LayerNormalization -> one SkipLayerNormalization kernel
    x, r = t("x", 1, 16, 64), t("r", 1, 16, 64)
    add = binary("res", "Add", x, r, "sum")
    ln = node(
        "ln",
        "LayerNormalization",
        [add.outputs[0], t("g", 64, const=True), t("b", 64, const=True)],
        [t("y", 1, 16, 64)],
        axis=2,
        epsilon=1e-5,
    )
    g2 = graph("skipln", [add, ln], [x, r], [ln.outputs[0]])
    plan = partition(g2, "onnxruntime-cpu")
    assert [k.ops for k in plan] == [("Add", "LayerNormalization")]
    assert plan.kernels[0].category == KC.NORMALIZATION
    # x, r read and y written (1*16*64*4 = 4096 B each) + gamma, beta (256 B each); the sum
    # stays inside the kernel
    assert plan.kernels[0].bytes == 3 * 4096 + 2 * 256
    assert len(partition(g2, "pytorch-eager")) == 2


def test_elementary_functions_carry_the_runtimes_measured_work() -> None:
    """Reported FLOPs keep the convention; the engine's column takes onnxruntime's table."""
    table = load_rules("onnxruntime-cpu").elementary_work
    plan = partition(_gelu_graph(), "onnxruntime-cpu")
    (k,) = plan.kernels
    assert k.fusion == "Gelu"
    assert k.flops == 5 * 128  # div, erf, add, mul, mul per element of the 2x4x16 output
    assert k.work == round(table["Gelu"] * 128)
    assert plan.compute_work.tolist() == [float(k.work)]
    assert plan.flops.tolist() == [float(k.flops)]

    x = t("x", 1, 8, 4, 4)
    sig = partition(graph("s", [unary("s", "Sigmoid", x, "y")], [x], [t("y", 1, 8, 4, 4)]))
    assert sig.kernels[0].flops == 4 * 128
    assert sig.kernels[0].work == round(table["Sigmoid"] * 128)
    relu = partition(graph("r", [unary("r", "Relu", x, "y")], [x], [t("y", 1, 8, 4, 4)]))
    assert "Relu" not in table and relu.kernels[0].work is None  # memory-bound: convention

    # A runtime without a table, and an activation fused into a conv epilogue, keep the FLOPs.
    eager = partition(_gelu_graph(), "pytorch-eager")
    assert all(kk.work is None for kk in eager)
    c = conv("c", x, 8, 1, "h")
    g = graph("cs", [c, unary("s", "Sigmoid", t("h", 1, 8, 4, 4), "y")], [x], [t("y", 1, 8, 4, 4)])
    (fused,) = partition(g, "onnxruntime-cpu").kernels
    assert fused.ops == ("Conv", "Sigmoid") and fused.work is None


def test_silu_is_one_quickgelu_kernel_but_a_gate_with_another_input_is_not() -> None:
    sh, ch = (1, 8, 4, 4), (1, 8, 1, 1)
    x, s = t("x", *sh), t("s", *ch)
    silu = graph(
        "silu",
        [unary("sig", "Sigmoid", x, "g"), binary("mul", "Mul", x, t("g", *sh), "y")],
        [x],
        [t("y", *sh)],
    )
    plan = partition(silu, "onnxruntime-cpu")
    assert [(k.ops, k.fusion) for k in plan] == [(("Sigmoid", "Mul"), "QuickGelu")]
    # x read once (512 B) and y written (512 B): the sigmoid stays in registers
    assert plan.kernels[0].bytes == 512 + 512
    gate = graph(
        "gate",
        [unary("sig", "Sigmoid", s, "g"), binary("mul", "Mul", x, t("g", *ch), "y")],
        [x, s],
        [t("y", *sh)],
    )
    assert [k.ops for k in partition(gate, "onnxruntime-cpu")] == [("Sigmoid",), ("Mul",)]
    assert [k.ops for k in partition(gate, "tensorrt")] == [("Sigmoid", "Mul")]  # pointwise chain


def test_pattern_input_limit_is_read_from_the_rules() -> None:
    pats = {p.name: p.max_inputs for p in load_rules("onnxruntime-cpu").patterns}
    assert pats["QuickGelu"] == 1 and pats["SkipLayerNormalization"] == 2


def test_a_device_table_reprices_tagged_kernels_only() -> None:
    x = t("x", 1, 8, 4, 4)
    sh = (1, 8, 4, 4)
    g = graph(
        "gr",
        [unary("g", "Sigmoid", x, "s"), unary("r", "Relu", t("s", *sh), "y")],
        [x],
        [t("y", *sh)],
    )
    plan = partition(g, "onnxruntime-cpu")
    sig, relu = plan.kernels
    assert (sig.elementary, sig.elements) == ("Sigmoid", 128) and relu.elementary is None
    assert plan.arrays_for(None) is plan.arrays
    own = plan.arrays_for({"Sigmoid": 10.0})
    assert own.flops.tolist() == [10.0 * 128, float(relu.flops)]
    assert plan.arrays_for({"Sigmoid": 10.0}) is own  # built once per table
    # an entry below the FLOP count keeps the FLOPs; a missing entry means the convention
    assert plan.arrays_for({"Sigmoid": 0.5}).flops.tolist()[0] == float(sig.flops)
    assert sig.work_on({"Tanh": 3.0}) is None and sig.work_on(None) == sig.work
