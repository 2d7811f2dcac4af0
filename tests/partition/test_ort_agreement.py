"""The onnxruntime-cpu rules against what onnxruntime itself does.

Each case builds a small ONNX graph, lets onnxruntime optimize it (ORT_ENABLE_ALL, the default)
and counts the compute nodes of the optimized graph; the partitioner must predict the same number
of kernels from our IR of the original graph. NCHWc layout reorders and Reshape views are not
kernels in our model (documented), so they are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from estimator.frontends.onnx_frontend import load_onnx
from estimator.partition import partition
from estimator.partition.rules import load_rules
from estimator.registry.models import KernelCategory

NOT_KERNELS = {"ReorderInput", "ReorderOutput", "Reshape"}
C, K = 16, 16
rng = np.random.default_rng(0)


def _c(name: str, shape: tuple[int, ...] | None = None, value: float = 1.0) -> onnx.TensorProto:
    arr = rng.standard_normal(shape).astype(np.float32) if shape else np.float32(value)
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def _model(
    nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], shape: list[int]
) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes,
        "case",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _conv(x: str, w: str, out: str, k: int = 3) -> onnx.NodeProto:
    p = k // 2
    return helper.make_node("Conv", [x, w, "B"], [out], pads=[p, p, p, p])


def _bn_params() -> list[onnx.TensorProto]:
    return [
        _c("s", (C,)),
        _c("b", (C,)),
        _c("m", (C,)),
        numpy_helper.from_array(np.ones(C, np.float32), "v"),
    ]


IMG = [1, C, 8, 8]
SEQ = [2, 4, K]
CASES: dict[str, Callable[[], tuple[list[onnx.NodeProto], list[onnx.TensorProto], list[int]]]] = {
    "conv_bn_relu": lambda: (
        [
            _conv("x", "W", "c"),
            helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"]),
            helper.make_node("Relu", ["bn"], ["y"]),
        ],
        [_c("W", (C, C, 3, 3)), _c("B", (C,)), *_bn_params()],
        IMG,
    ),
    "conv_clip": lambda: (
        [_conv("x", "W", "c"), helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
        [_c("W", (C, C, 3, 3)), _c("B", (C,)), _c("lo", value=0.0), _c("hi", value=6.0)],
        IMG,
    ),
    "conv_elu": lambda: (
        [_conv("x", "W", "c"), helper.make_node("Elu", ["c"], ["y"])],
        [_c("W", (C, C, 3, 3)), _c("B", (C,))],
        IMG,
    ),
    "two_conv_residual_relu": lambda: (
        [
            _conv("x", "W", "c1"),
            _conv("x", "W1", "c2", k=1),
            helper.make_node("Add", ["c1", "c2"], ["s"]),
            helper.make_node("Relu", ["s"], ["y"]),
        ],
        [_c("W", (C, C, 3, 3)), _c("W1", (C, C, 1, 1)), _c("B", (C,))],
        IMG,
    ),
    "conv_silu": lambda: (
        [
            _conv("x", "W", "c"),
            helper.make_node("Sigmoid", ["c"], ["sg"]),
            helper.make_node("Mul", ["c", "sg"], ["y"]),
        ],
        [_c("W", (C, C, 3, 3)), _c("B", (C,))],
        IMG,
    ),
    # x * sigmoid(s) with s != x: not QuickGelu; the Sigmoid fuses into the gate's conv
    "squeeze_excite_gate": lambda: (
        [
            helper.make_node("GlobalAveragePool", ["x"], ["p"]),
            _conv("p", "W1", "c", k=1),
            helper.make_node("Sigmoid", ["c"], ["g"]),
            helper.make_node("Mul", ["x", "g"], ["y"]),
        ],
        [_c("W1", (C, C, 1, 1)), _c("B", (C,))],
        IMG,
    ),
    "matmul_add_relu": lambda: (
        [
            helper.make_node("MatMul", ["x", "Wm"], ["a"]),
            helper.make_node("Add", ["a", "bm"], ["ab"]),
            helper.make_node("Relu", ["ab"], ["y"]),
        ],
        [_c("Wm", (K, K)), _c("bm", (K,))],
        [4, K],
    ),
    "matmul_relu": lambda: (
        [helper.make_node("MatMul", ["x", "Wm"], ["a"]), helper.make_node("Relu", ["a"], ["y"])],
        [_c("Wm", (K, K))],
        [4, K],
    ),
    "gemm_clip": lambda: (
        [
            helper.make_node("Gemm", ["x", "Wm", "bm"], ["a"]),
            helper.make_node("Clip", ["a", "lo", "hi"], ["y"]),
        ],
        [_c("Wm", (K, K)), _c("bm", (K,)), _c("lo", value=0.0), _c("hi", value=6.0)],
        [4, K],
    ),
    "layernorm": lambda: (
        [
            helper.make_node("ReduceMean", ["x"], ["mu"], axes=[-1]),
            helper.make_node("Sub", ["x", "mu"], ["d"]),
            helper.make_node("Pow", ["d", "two"], ["p"]),
            helper.make_node("ReduceMean", ["p"], ["var"], axes=[-1]),
            helper.make_node("Add", ["var", "eps"], ["ve"]),
            helper.make_node("Sqrt", ["ve"], ["sd"]),
            helper.make_node("Div", ["d", "sd"], ["n"]),
            helper.make_node("Mul", ["n", "g"], ["ng"]),
            helper.make_node("Add", ["ng", "be"], ["y"]),
        ],
        [_c("two", value=2.0), _c("eps", value=1e-5), _c("g", (K,)), _c("be", (K,))],
        SEQ,
    ),
    "gelu_erf": lambda: (
        [
            helper.make_node("Div", ["x", "s2"], ["a"]),
            helper.make_node("Erf", ["a"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["f"]),
            helper.make_node("Mul", ["x", "f"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["y"]),
        ],
        [_c("s2", value=1.4142135), _c("one", value=1.0), _c("half", value=0.5)],
        SEQ,
    ),
    "softmax_decomposed": lambda: (
        [
            helper.make_node("ReduceMax", ["x"], ["mx"], axes=[-1]),
            helper.make_node("Sub", ["x", "mx"], ["d"]),
            helper.make_node("Exp", ["d"], ["e"]),
            helper.make_node("ReduceSum", ["e", "ax"], ["s"]),
            helper.make_node("Div", ["e", "s"], ["y"]),
        ],
        [numpy_helper.from_array(np.array([-1], dtype=np.int64), "ax")],
        SEQ,
    ),
    "elementwise_chain": lambda: (
        [
            helper.make_node("Add", ["x", "one"], ["a"]),
            helper.make_node("Mul", ["a", "half"], ["b"]),
            helper.make_node("Relu", ["b"], ["y"]),
        ],
        [_c("one", value=1.0), _c("half", value=0.5)],
        SEQ,
    ),
}


def _ort_kernels(model: onnx.ModelProto, tmp: Path) -> list[str]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp / "opt.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    opt = onnx.load(so.optimized_model_filepath)
    return [n.op_type for n in opt.graph.node if n.op_type not in NOT_KERNELS]


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_count_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    nodes, inits, shape = CASES[case]()
    model = _model(nodes, inits, shape)
    expected = _ort_kernels(model, tmp_path)
    plan = partition(load_onnx(model, name=case), "onnxruntime-cpu")
    assert len(plan) == len(expected), (case, [k.ops for k in plan], expected)
    # the decomposed ops onnxruntime recognises run as its contrib op of the pattern's name
    for pat in load_rules("onnxruntime-cpu").patterns:
        ours = sum(k.fusion == pat.name for k in plan)
        assert ours == expected.count(pat.name), (case, pat.name, [k.ops for k in plan], expected)


@pytest.mark.slow
def test_resnet50_kernel_count_matches_onnxruntime(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from estimator import zoo

    module, example = zoo.get("resnet50")
    path = tmp_path / "resnet50.onnx"
    torch.onnx.export(module.eval(), (example,), str(path), dynamo=False, opset_version=17)
    # Flatten is a view in our IR (onnxruntime runs it in place on the same buffer).
    expected = [op for op in _ort_kernels(onnx.load(str(path)), tmp_path) if op != "Flatten"]
    assert expected.count("Conv") == 53  # 53 convolutions, BN/ReLU/residual adds fused away
    plan = partition(load_onnx(path), "onnxruntime-cpu")
    assert len(plan) == len(expected) == 56


def _host_block() -> int | None:
    """onnxruntime's NCHWc block on this CPU (MlasNchwcGetBlockSize), from its flags."""
    from estimator.host import cpu_flags

    flags = set(cpu_flags())
    if "avx512f" in flags:
        return 16
    if "avx2" in flags:
        return 8
    return None


def _ort_reorders(model: onnx.ModelProto, tmp: Path) -> dict[str, int]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp / "opt.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
    return {op: ops.count(op) for op in ("ReorderInput", "ReorderOutput")}


def _corpus_models(tmp: Path) -> list[tuple[str, onnx.ModelProto]]:
    """One tiny network of every corpus family (concat/split-heavy, grouped, attention, ...)."""
    torch = pytest.importorskip("torch")
    from estimator.zoo.corpus import generate_corpus
    from estimator.zoo.export import export_module

    out = []
    for net in generate_corpus(1, seed=3, tiny=True):
        path = tmp / f"{net.family}.onnx"
        with torch.no_grad():
            export_module(net.build(), (net.example_input(),), path)
        out.append((net.family, onnx.load(str(path))))
    return out


@pytest.mark.slow
def test_layout_reorders_match_onnxruntime(tmp_path: Path) -> None:
    block = _host_block()
    if block is None:
        pytest.skip("onnxruntime has no NCHWc layout on this CPU")
    models = [(case, _model(*CASES[case]())) for case in sorted(CASES)]
    models += _corpus_models(tmp_path)
    total = 0
    for name, model in models:
        expected = _ort_reorders(model, tmp_path)
        plan = partition(load_onnx(model, name=name), "onnxruntime-cpu", nchwc_block=block)
        ours = {op: sum(k.ops == (op,) for k in plan) for op in expected}
        assert ours == expected, (name, ours, expected)
        total += sum(expected.values())
    assert total > 0  # the cases do exercise the layout


#: BatchNormalization on a blocked tensor: onnxruntime makes it an nchwc Conv that takes the
#: residual Sum and the Relu (``anchor_blocked`` rules); on an NCHW tensor it stays apart.
BLOCKED_BN_CASES: dict[
    str, Callable[[], tuple[list[onnx.NodeProto], list[onnx.TensorProto], list[int]]]
] = {
    # RepVGG's training-form block: relu(conv3x3(x0) + conv1x1(x0) + bn(x0))
    "repvgg_identity_branch": lambda: (
        [
            _conv("x", "W0", "x0"),
            _conv("x0", "W", "c1"),
            _conv("x0", "W1", "c2", k=1),
            helper.make_node("Add", ["c1", "c2"], ["sum1"]),
            helper.make_node("BatchNormalization", ["x0", "s", "b", "m", "v"], ["i"]),
            helper.make_node("Add", ["sum1", "i"], ["sum2"]),
            helper.make_node("Relu", ["sum2"], ["y"]),
        ],
        [
            _c("W0", (C, C, 3, 3)),
            _c("W", (C, C, 3, 3)),
            _c("W1", (C, C, 1, 1)),
            _c("B", (C,)),
            *_bn_params(),
        ],
        IMG,
    ),
    # pre-activation BN-ReLU on a residual sum of blocked tensors
    "residual_bn_relu": lambda: (
        [
            _conv("x", "W0", "x0"),
            _conv("x0", "W1", "c", k=1),
            helper.make_node("Add", ["x0", "c"], ["r"]),
            helper.make_node("BatchNormalization", ["r", "s", "b", "m", "v"], ["n"]),
            helper.make_node("Relu", ["n"], ["y"]),
        ],
        [_c("W0", (C, C, 3, 3)), _c("W1", (C, C, 1, 1)), _c("B", (C,)), *_bn_params()],
        IMG,
    ),
    # BN-ReLU on the graph input (NCHW): no nchwc Conv, nothing fuses
    "nchw_bn_relu": lambda: (
        [
            helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"]),
            helper.make_node("Relu", ["n"], ["r"]),
            _conv("r", "W", "y"),
        ],
        [_c("W", (C, C, 3, 3)), _c("B", (C,)), *_bn_params()],
        IMG,
    ),
}


@pytest.mark.parametrize("case", sorted(BLOCKED_BN_CASES))
def test_blocked_batchnorm_fusion_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    block = _host_block()
    if block is None:
        pytest.skip("this CPU has no NCHWc block (no AVX2)")
    nodes, inits, shape = BLOCKED_BN_CASES[case]()
    model = _model(nodes, inits, shape)
    expected = _ort_kernels(model, tmp_path)
    plan = partition(load_onnx(model, name=case), "onnxruntime-cpu", nchwc_block=block)
    ours = [k for k in plan if k.category != KernelCategory.DATA_MOVEMENT]
    assert len(ours) == len(expected), (case, [k.ops for k in ours], expected)
