"""Single-kernel ONNX models that sweep each kernel category over its size parameters.

Efficiency curves are functions of kernel size, so calibration needs kernels of known size spread
over the whole range a category covers: a few hundred FLOPs to tens of GFLOPs. Whole networks give
many kernels but cluster at the sizes their architects chose; these sweeps fill the gaps. Each
case is one ONNX graph (one op, or the attention block Q@K^T -> Softmax -> @V) with deterministic
random weights, built with ``onnx.helper`` so no torch export is needed.

The grids are lean on purpose (calibrating a new CPU must fit in minutes); ``quick=True`` keeps
about a third of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from estimator.registry.models import KernelCategory

#: Opset and IR version of the generated models: LayerNormalization needs opset 17; IR 8 is
#: readable by every onnxruntime this project supports.
OPSET = 17
IR_VERSION = 8
PREFIX = "sweep/"

Builder = Callable[[], onnx.ModelProto]


@dataclass(frozen=True, slots=True)
class SweepCase:
    """One sweep model: its unique name (also the ONNX graph name), category and builder."""

    name: str
    category: KernelCategory
    build: Builder
    #: Part of the reduced grid used by ``--quick``.
    quick: bool = False


def _rng(name: str) -> np.random.Generator:
    # Deterministic per case: the same name always gives the same bytes (and model hash).
    return np.random.default_rng(abs(hash_name(name)) % (2**32))


def hash_name(name: str) -> int:
    """A process-independent integer hash of ``name`` (Python's hash() is salted)."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % (2**61 - 1)
    return h


def _weight(rng: np.random.Generator, name: str, shape: Sequence[int]) -> TensorProto:
    arr = (rng.standard_normal(tuple(shape)) * 0.05).astype(np.float32)
    return numpy_helper.from_array(arr, name)


def _model(
    name: str,
    nodes: list[onnx.NodeProto],
    inputs: Sequence[tuple[str, Sequence[int]]],
    outputs: Sequence[tuple[str, Sequence[int] | None]],
    inits: list[TensorProto],
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, None if s is None else list(s))
            for n, s in outputs
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="calibration.sweep"
    )
    model.ir_version = IR_VERSION
    if any(s is None for _, s in outputs):
        # Output shapes left open are filled in by ONNX shape inference (conv/pool arithmetic).
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        known = {v.name: v for v in inferred.graph.value_info}
        known.update({v.name: v for v in inferred.graph.output})
        del model.graph.output[:]
        model.graph.output.extend(known[n] for n, _ in outputs)
    return model


# --------------------------------------------------------------------------- builders


def conv_model(
    name: str,
    cin: int,
    cout: int,
    res: int,
    k: int | tuple[int, int],
    stride: int,
    group: int = 1,
) -> onnx.ModelProto:
    """Conv (with bias, 'same' padding) on a [1, cin, res, res] input; ``k`` square or (kh, kw)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = _rng(name)
    w = _weight(rng, "w", (cout, cin // group, kh, kw))
    b = _weight(rng, "b", (cout,))
    node = helper.make_node(
        "Conv",
        ["x", "w", "b"],
        ["y"],
        name="conv",
        kernel_shape=[kh, kw],
        strides=[stride, stride],
        pads=[kh // 2, kw // 2, kh // 2, kw // 2],
        group=group,
    )
    return _model(name, [node], [("x", (1, cin, res, res))], [("y", None)], [w, b])


def gemm_model(name: str, m: int, k: int, n: int) -> onnx.ModelProto:
    """MatMul of a [m, k] activation by a constant [k, n] weight (a linear layer, no bias)."""
    rng = _rng(name)
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")
    return _model(name, [node], [("x", (m, k))], [("y", (m, n))], [_weight(rng, "w", (k, n))])


def attention_model(name: str, heads: int, seq: int, dim: int) -> onnx.ModelProto:
    """softmax(Q @ K^T) @ V over [1, heads, seq, dim] activations (the decomposed form exporters
    emit; onnxruntime's CPU provider runs it as two batched MatMuls and a Softmax)."""
    shape = (1, heads, seq, dim)
    nodes = [
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
        helper.make_node("Softmax", ["s"], ["p"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"], name="pv"),
    ]
    inputs = [("q", shape), ("kt", (1, heads, dim, seq)), ("v", shape)]
    return _model(name, nodes, inputs, [("y", shape)], [])


def unary_model(name: str, op: str, shape: Sequence[int], **attrs: Any) -> onnx.ModelProto:
    node = helper.make_node(op, ["x"], ["y"], name=op.lower(), **attrs)
    return _model(name, [node], [("x", shape)], [("y", None)], [])


def binary_model(name: str, op: str, shape: Sequence[int]) -> onnx.ModelProto:
    """Two activations of the same shape (a residual add, a gating multiply)."""
    node = helper.make_node(op, ["a", "b"], ["y"], name=op.lower())
    return _model(name, [node], [("a", shape), ("b", shape)], [("y", shape)], [])


def layernorm_model(name: str, rows: int, width: int) -> onnx.ModelProto:
    rng = _rng(name)
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], name="layernorm", axis=-1)
    inits = [_weight(rng, "g", (width,)), _weight(rng, "b", (width,))]
    return _model(name, [node], [("x", (1, rows, width))], [("y", (1, rows, width))], inits)


def batchnorm_model(name: str, c: int, res: int) -> onnx.ModelProto:
    """A BatchNormalization that follows no conv (so nothing folds it away)."""
    rng = _rng(name)
    inits = [_weight(rng, n, (c,)) for n in ("scale", "bias", "mean")]
    var = numpy_helper.from_array((rng.random(c) + 0.5).astype(np.float32), "var")
    node = helper.make_node(
        "BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], name="batchnorm"
    )
    shape = (1, c, res, res)
    return _model(name, [node], [("x", shape)], [("y", shape)], [*inits, var])


def pool_model(
    name: str, op: str, c: int, res: int, k: int = 3, stride: int = 2
) -> onnx.ModelProto:
    attrs: dict[str, Any] = {}
    if op in ("MaxPool", "AveragePool"):
        attrs = {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [k // 2] * 4}
    return unary_model(name, op, (1, c, res, res), **attrs)


def reduce_model(name: str, rows: int, width: int) -> onnx.ModelProto:
    """ReduceMean over the last axis (opset 17: axes as an attribute)."""
    return unary_model(name, "ReduceMean", (1, rows, width), axes=[-1], keepdims=1)


def transpose_model(name: str, c: int, res: int) -> onnx.ModelProto:
    return unary_model(name, "Transpose", (1, c, res, res), perm=[0, 2, 3, 1])


def concat_model(name: str, c: int, res: int) -> onnx.ModelProto:
    node = helper.make_node("Concat", ["a", "b"], ["y"], name="concat", axis=1)
    shape = (1, c, res, res)
    return _model(name, [node], [("a", shape), ("b", shape)], [("y", (1, 2 * c, res, res))], [])


# --------------------------------------------------------------------------- grids


def _conv_cases() -> list[SweepCase]:
    out: list[SweepCase] = []
    dense: list[tuple[int, int, int, int | tuple[int, int], int]] = [
        # (cin, cout, res, k, stride): ResNet/VGG/stem-like shapes, 1e5..1e9 FLOPs
        (3, 16, 56, 3, 2),
        (3, 32, 224, 3, 2),
        (3, 64, 224, 7, 2),
        (16, 16, 28, 3, 1),
        (16, 32, 112, 3, 2),
        (32, 32, 56, 3, 1),
        (64, 64, 56, 3, 1),
        (64, 128, 56, 3, 2),
        (128, 128, 28, 3, 1),
        (256, 256, 14, 3, 1),
        (256, 512, 14, 3, 2),
        (512, 512, 7, 3, 1),
        (8, 8, 14, 3, 1),
        (64, 64, 14, 5, 1),
        (32, 64, 112, 3, 1),
        # Large (0.1-1 GFLOP) and asymmetric kernels, as in ResNet/Inception/DenseNet stages.
        (64, 192, 56, 3, 1),
        (128, 256, 28, 3, 1),
        (48, 64, 35, 5, 1),
        (96, 96, 35, 3, 1),
        (128, 32, 28, 3, 1),
        (192, 192, 17, (1, 7), 1),
        (192, 192, 17, (7, 1), 1),
        (384, 384, 8, (1, 3), 1),
        (384, 384, 8, (3, 1), 1),
        (448, 384, 8, 3, 1),
    ]
    for i, (ci, co, r, k, s) in enumerate(dense):
        ktag = f"{k}" if isinstance(k, int) else f"{k[0]}x{k[1]}"
        name = f"{PREFIX}conv_dense/c{ci}x{co}-r{r}-k{ktag}-s{s}"
        out.append(
            SweepCase(
                name,
                KernelCategory.CONV_DENSE,
                partial(conv_model, name, ci, co, r, k, s),
                quick=i % 3 == 0,
            )
        )
    pointwise = [  # (cin, cout, res)
        (16, 16, 14),
        (16, 96, 112),
        (24, 144, 56),
        (32, 192, 28),
        (64, 384, 14),
        (96, 576, 14),
        (160, 960, 7),
        (320, 1280, 7),
        (64, 64, 56),
        (256, 64, 56),
        (512, 2048, 7),
        (1024, 256, 14),
        (8, 8, 8),
        (64, 256, 56),
        (512, 128, 28),
        (128, 32, 56),
    ]
    for i, (ci, co, r) in enumerate(pointwise):
        name = f"{PREFIX}conv_pointwise/c{ci}x{co}-r{r}"
        out.append(
            SweepCase(
                name,
                KernelCategory.CONV_POINTWISE,
                partial(conv_model, name, ci, co, r, 1, 1),
                quick=i % 3 == 0,
            )
        )
    depthwise = [  # (channels, res, k, stride)
        (8, 14, 3, 1),
        (32, 112, 3, 1),
        (96, 112, 3, 2),
        (144, 56, 3, 1),
        (144, 56, 5, 2),
        (192, 28, 3, 1),
        (384, 14, 3, 1),
        (576, 14, 5, 1),
        (960, 7, 3, 1),
        (672, 14, 5, 2),
        (64, 56, 7, 1),
    ]
    for i, (c, r, k, s) in enumerate(depthwise):
        name = f"{PREFIX}conv_depthwise/c{c}-r{r}-k{k}-s{s}"
        out.append(
            SweepCase(
                name,
                KernelCategory.CONV_DEPTHWISE,
                partial(conv_model, name, c, c, r, k, s, c),
                quick=i % 3 == 0,
            )
        )
    grouped = [  # (cin, cout, res, k, groups)
        (64, 64, 56, 3, 4),
        (128, 128, 28, 3, 8),
        (256, 256, 14, 3, 32),
        (32, 32, 28, 3, 2),
        (512, 512, 7, 3, 16),
        (240, 240, 28, 1, 3),
    ]
    for i, (ci, co, r, k, g) in enumerate(grouped):
        name = f"{PREFIX}conv_grouped/c{ci}x{co}-r{r}-k{k}-g{g}"
        out.append(
            SweepCase(
                name,
                KernelCategory.CONV_GROUPED,
                partial(conv_model, name, ci, co, r, k, 1, g),
                quick=i % 3 == 0,
            )
        )
    return out


def _gemm_cases() -> list[SweepCase]:
    shapes = [  # (M, K, N): classifier heads, transformer projections/MLPs, token counts
        (1, 64, 64),
        (1, 512, 1000),
        (1, 1280, 1000),
        (1, 2048, 1000),
        (16, 128, 128),
        (49, 384, 384),
        (64, 256, 1024),
        (196, 192, 192),
        (197, 192, 768),
        (197, 768, 192),
        (256, 512, 512),
        (512, 1024, 1024),
        (1024, 64, 64),
        (8, 16, 16),
        # Token-major MLP/projection shapes of ConvNeXt/ViT stages (M = tokens).
        (3136, 96, 384),
        (784, 192, 768),
        (196, 384, 1536),
        (49, 768, 3072),
    ]
    out: list[SweepCase] = []
    for i, (m, k, n) in enumerate(shapes):
        name = f"{PREFIX}gemm/m{m}-k{k}-n{n}"
        out.append(
            SweepCase(
                name,
                KernelCategory.GEMM,
                partial(gemm_model, name, m, k, n),
                quick=i % 3 == 0,
            )
        )
    attn = [(3, 197, 64), (4, 64, 32), (8, 128, 64), (12, 197, 64), (2, 16, 16), (4, 256, 32)]
    for i, (h, s, d) in enumerate(attn):
        name = f"{PREFIX}attention/h{h}-s{s}-d{d}"
        out.append(
            SweepCase(
                name,
                KernelCategory.ATTENTION,
                partial(attention_model, name, h, s, d),
                quick=i % 2 == 0,
            )
        )
    return out


def _memory_cases() -> list[SweepCase]:
    out: list[SweepCase] = []

    def add(
        cat: KernelCategory,
        tag: str,
        fn: Callable[..., onnx.ModelProto],
        *args: object,
        quick: bool = False,
        **kw: object,
    ) -> None:
        name = f"{PREFIX}{cat}/{tag}"
        out.append(SweepCase(name, cat, partial(fn, name, *args, **kw), quick))

    ew = KernelCategory.ELEMENTWISE
    ew_sizes = [(16, 8), (32, 28), (64, 56), (144, 56), (96, 112), (256, 7)]
    for i, (c, r) in enumerate(ew_sizes):
        shape = (1, c, r, r)
        q = i % 2 == 0
        add(ew, f"add-c{c}-r{r}", binary_model, "Add", shape, quick=q)
        add(ew, f"relu-c{c}-r{r}", unary_model, "Relu", shape, quick=q)
        if i % 2 == 1:
            add(ew, f"sigmoid-c{c}-r{r}", unary_model, "Sigmoid", shape)
            add(ew, f"mul-c{c}-r{r}", binary_model, "Mul", shape)
    norm = KernelCategory.NORMALIZATION
    for i, (rows, width) in enumerate([(16, 64), (50, 192), (197, 192), (197, 768), (1024, 512)]):
        add(norm, f"ln-{rows}x{width}", layernorm_model, rows, width, quick=i % 2 == 0)
    for i, (c, r) in enumerate([(16, 28), (64, 56), (256, 14)]):
        add(norm, f"bn-c{c}-r{r}", batchnorm_model, c, r, quick=i == 0)
    pool = KernelCategory.POOLING
    pools = [
        ("MaxPool", 64, 112),
        ("MaxPool", 16, 28),
        ("MaxPool", 192, 56),
        ("AveragePool", 128, 28),
        ("GlobalAveragePool", 1280, 7),
        ("GlobalAveragePool", 64, 56),
        ("GlobalAveragePool", 16, 14),
        ("GlobalAveragePool", 2048, 7),
    ]
    for i, (op, c, r) in enumerate(pools):
        add(pool, f"{op.lower()}-c{c}-r{r}", pool_model, op, c, r, quick=i % 2 == 0)
    red = KernelCategory.REDUCTION
    for i, (rows, width) in enumerate([(16, 16), (197, 197), (768, 197), (64, 1000), (3072, 256)]):
        shape3 = (1, rows, width)
        add(
            red,
            f"softmax-{rows}x{width}",
            unary_model,
            "Softmax",
            shape3,
            axis=-1,
            quick=i % 2 == 0,
        )
    for i, (rows, width) in enumerate([(64, 49), (197, 192), (1024, 768)]):
        add(red, f"reducemean-{rows}x{width}", reduce_model, rows, width, quick=i == 1)
    dm = KernelCategory.DATA_MOVEMENT
    for i, (c, r) in enumerate([(16, 14), (64, 56), (192, 28), (384, 14)]):
        add(dm, f"transpose-c{c}-r{r}", transpose_model, c, r, quick=i % 2 == 0)
        add(dm, f"concat-c{c}-r{r}", concat_model, c, r, quick=i % 2 == 1)
    return out


def sweep_cases(
    categories: Sequence[KernelCategory | str] | None = None, *, quick: bool = False
) -> list[SweepCase]:
    """Every sweep case (or those of ``categories``), in a fixed order; ``quick``: reduced grid."""
    cases = [*_conv_cases(), *_gemm_cases(), *_memory_cases()]
    if categories is not None:
        wanted = {KernelCategory(c) for c in categories}
        cases = [c for c in cases if c.category in wanted]
    if quick:
        cases = [c for c in cases if c.quick]
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise AssertionError("duplicate sweep case names")
    return cases


def case_by_name(name: str) -> SweepCase | None:
    """The sweep case called ``name`` (the ONNX graph name of its model), or None."""
    for c in sweep_cases():
        if c.name == name:
            return c
    return None
