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
    #: Sampled cases (``estimator.calibration.sampling``): the sampler family and its shape
    #: parameters, in the order the name encodes them; empty for the fixed grid.
    family: str = ""
    params: tuple[tuple[str, int | str], ...] = ()

    @property
    def shape(self) -> dict[str, int | str]:
        """The shape parameters as a dict (empty for the fixed grid)."""
        return dict(self.params)


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
    *,
    opset: int = OPSET,
    ir_version: int = IR_VERSION,
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
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="calibration.sweep"
    )
    model.ir_version = ir_version
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
    *,
    dilation: int = 1,
    bias: bool = True,
    act: str | None = None,
) -> onnx.ModelProto:
    """Conv ('same' padding) on a [1, cin, res, res] input; ``k`` square or (kh, kw).

    ``bias``: with a bias input; ``act``: an activation after it that onnxruntime runs in the
    conv's epilogue (one of :data:`CONV_ACTIVATIONS`). The defaults give the grid's models, byte
    for byte (no ``dilations`` attribute when ``dilation`` is 1).
    """
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = _rng(name)
    w = _weight(rng, "w", (cout, cin // group, kh, kw))
    inits = [w]
    ins = ["x", "w"]
    if bias:
        inits.append(_weight(rng, "b", (cout,)))
        ins.append("b")
    attrs: dict[str, Any] = {}
    if dilation != 1:
        attrs["dilations"] = [dilation, dilation]
    ph, pw = dilation * (kh // 2), dilation * (kw // 2)
    conv_out = "y" if act is None else "c"
    nodes = [
        helper.make_node(
            "Conv",
            ins,
            [conv_out],
            name="conv",
            kernel_shape=[kh, kw],
            strides=[stride, stride],
            pads=[ph, pw, ph, pw],
            group=group,
            **attrs,
        )
    ]
    if act is not None:
        nodes.append(_activation(act, "c", "y", inits))
    return _model(name, nodes, [("x", (1, cin, res, res))], [("y", None)], inits)


#: Activations the onnxruntime CPU provider fuses into a Conv (``conv_activation`` in
#: hardware_registry/fusion/onnxruntime-cpu.json); ``relu6`` is Clip(0, 6).
CONV_ACTIVATIONS = ("relu", "relu6", "sigmoid", "leakyrelu", "tanh")
#: Activations fused into a Gemm (MatMul + bias): ``gemm_activation`` in the same file.
GEMM_ACTIVATIONS = ("relu", "sigmoid", "tanh", "leakyrelu")


def _activation(act: str, x: str, y: str, inits: list[TensorProto]) -> onnx.NodeProto:
    if act == "relu6":
        inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "clip_lo"))
        inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "clip_hi"))
        return helper.make_node("Clip", [x, "clip_lo", "clip_hi"], [y], name="clip")
    op = {"relu": "Relu", "sigmoid": "Sigmoid", "leakyrelu": "LeakyRelu", "tanh": "Tanh"}[act]
    return helper.make_node(op, [x], [y], name=op.lower())


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


def _ints(name: str, values: Sequence[int]) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def matmul_model(
    name: str,
    m: int,
    k: int,
    n: int,
    *,
    tokens: bool = False,
    bias: bool = False,
    act: str | None = None,
) -> onnx.ModelProto:
    """A linear layer: [m, k] (``tokens``: [1, m, k]) @ constant [k, n], optionally + bias (which
    onnxruntime fuses into a Gemm) and an activation (fused into that Gemm; one of
    :data:`GEMM_ACTIVATIONS`, only with ``bias``)."""
    rng = _rng(name)
    xs = (1, m, k) if tokens else (m, k)
    ys = (1, m, n) if tokens else (m, n)
    inits = [_weight(rng, "w", (k, n))]
    out = "h" if bias else "y"
    nodes = [helper.make_node("MatMul", ["x", "w"], [out], name="matmul")]
    if bias:
        inits.append(_weight(rng, "b", (n,)))
        nodes.append(
            helper.make_node("Add", ["h", "b"], ["y" if act is None else "g"], name="bias")
        )
        if act is not None:
            nodes.append(_activation(act, "g", "y", inits))
    elif act is not None:
        raise ValueError("an activation needs bias=True (onnxruntime fuses it into a Gemm)")
    return _model(name, nodes, [("x", xs)], [("y", ys)], inits)


def concat_inputs_model(name: str, channels: Sequence[int], res: int) -> onnx.ModelProto:
    """Concat of len(channels) [1, c_i, res, res] activations along channels."""
    ins = [(f"x{i}", (1, c, res, res)) for i, c in enumerate(channels)]
    node = helper.make_node("Concat", [n for n, _ in ins], ["y"], name="concat", axis=1)
    return _model(name, [node], ins, [("y", (1, sum(channels), res, res))], [])


def split_model(name: str, parts: Sequence[int], res: int) -> onnx.ModelProto:
    """Split of a [1, sum(parts), res, res] activation along channels (opset 13+ form)."""
    outs = [f"y{i}" for i in range(len(parts))]
    node = helper.make_node("Split", ["x", "split"], outs, name="split", axis=1)
    shape = (1, sum(parts), res, res)
    outputs = [(o, (1, c, res, res)) for o, c in zip(outs, parts, strict=True)]
    return _model(name, [node], [("x", shape)], outputs, [_ints("split", parts)])


#: Slice modes: a middle half of the channels, a spatial crop dropping a border of 1, every
#: second row and column.
SLICE_MODES = ("chan", "crop", "step2")


def slice_model(name: str, c: int, res: int, mode: str) -> onnx.ModelProto:
    if mode == "chan":
        starts, ends, axes, steps = [c // 4], [c // 4 + c // 2], [1], [1]
    elif mode == "crop":
        starts, ends, axes, steps = [1, 1], [res - 1, res - 1], [2, 3], [1, 1]
    elif mode == "step2":
        starts, ends, axes, steps = [0, 0], [res, res], [2, 3], [2, 2]
    else:
        raise ValueError(f"slice mode {mode!r} not in {SLICE_MODES}")
    inits = [_ints("starts", starts), _ints("ends", ends), _ints("axes", axes)]
    inits.append(_ints("steps", steps))
    node = helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"], name="slice")
    return _model(name, [node], [("x", (1, c, res, res))], [("y", None)], inits)


#: Pad modes of ONNX Pad.
PAD_MODES = ("constant", "reflect", "edge")


def pad_model(name: str, c: int, res: int, pad: int, mode: str = "constant") -> onnx.ModelProto:
    """Pad H and W of a [1, c, res, res] activation by ``pad`` on each side."""
    pads = _ints("pads", [0, 0, pad, pad, 0, 0, pad, pad])
    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode=mode)
    shape = (1, c, res + 2 * pad, res + 2 * pad)
    return _model(name, [node], [("x", (1, c, res, res))], [("y", shape)], [pads])


def transpose_perm_model(name: str, shape: Sequence[int], perm: Sequence[int]) -> onnx.ModelProto:
    return unary_model(name, "Transpose", tuple(shape), perm=list(perm))


def resize_model(name: str, c: int, res: int, mode: str, scale: int = 2) -> onnx.ModelProto:
    """Resize H and W of a [1, c, res, res] activation by ``scale`` (``nearest`` or ``linear``)."""
    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize", mode=mode)
    shape = (1, c, res * scale, res * scale)
    return _model(name, [node], [("x", (1, c, res, res))], [("y", shape)], [scales])


def gather_model(name: str, rows: int, width: int, picks: int) -> onnx.ModelProto:
    """Gather ``picks`` rows (deterministic random indices) of a [1, rows, width] activation
    along axis 1: token selection or channel shuffles (the indices are constant, the data is not,
    so nothing folds it)."""
    rng = _rng(name)
    idx = _ints("idx", rng.integers(0, rows, size=picks).tolist())
    node = helper.make_node("Gather", ["x", "idx"], ["y"], name="gather", axis=1)
    return _model(name, [node], [("x", (1, rows, width))], [("y", (1, picks, width))], [idx])


#: GroupNormalization's per-channel scale and bias are opset 21 (IR 10); opset 18's
#: per-group form is deprecated.
GROUPNORM_OPSET = 21


def groupnorm_model(name: str, c: int, res: int, groups: int) -> onnx.ModelProto:
    rng = _rng(name)
    inits = [_weight(rng, "g", (c,)), _weight(rng, "b", (c,))]
    node = helper.make_node(
        "GroupNormalization", ["x", "g", "b"], ["y"], name="groupnorm", num_groups=groups
    )
    shape = (1, c, res, res)
    return _model(
        name, [node], [("x", shape)], [("y", shape)], inits, opset=GROUPNORM_OPSET, ir_version=10
    )


#: Broadcast forms of a binary op on a [1, C, H, W] activation: the other operand [1, C, H, W]
#: (same shape), [1, C, 1, 1] (a per-channel scale, as a squeeze-excitation gate), [1, 1, H, W]
#: (a spatial mask) or a scalar.
BROADCASTS = ("same", "chan", "spatial", "scalar")


def broadcast_model(name: str, op: str, c: int, res: int, form: str) -> onnx.ModelProto:
    """``op`` (Add, Mul, Sub, Div) of a [1, c, res, res] activation and a second activation
    broadcast as ``form`` (:data:`BROADCASTS`)."""
    other = {
        "same": (1, c, res, res),
        "chan": (1, c, 1, 1),
        "spatial": (1, 1, res, res),
        "scalar": (1,),
    }[form]
    shape = (1, c, res, res)
    node = helper.make_node(op, ["a", "b"], ["y"], name=op.lower())
    return _model(name, [node], [("a", shape), ("b", other)], [("y", shape)], [])


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
    categories: Sequence[KernelCategory | str] | None = None,
    *,
    quick: bool = False,
    sampled: float | None = None,
    seed: int = 0,
    grid: bool = True,
    **sample_options: Any,
) -> list[SweepCase]:
    """Every sweep case (or those of ``categories``), in a fixed order; ``quick``: reduced grid.

    ``sampled``: also the cases :func:`estimator.calibration.sampling.sample_all` draws for a
    measurement budget of that many seconds (per thread count) with ``seed`` and
    ``sample_options`` (peak_flops, bandwidth, min_s, max_s, max_bytes, weights), after the grid;
    ``grid=False`` leaves the fixed grid out. The default (``sampled=None``) is the grid alone.
    """
    cases = [*_conv_cases(), *_gemm_cases(), *_memory_cases()] if grid else []
    if quick:
        cases = [c for c in cases if c.quick]
    if sampled is not None:
        from estimator.calibration.sampling import sample_all

        cases.extend(sample_all(sampled, seed, **sample_options))
    elif sample_options:
        raise TypeError(f"sampling options without sampled=: {sorted(sample_options)}")
    if categories is not None:
        wanted = {KernelCategory(c) for c in categories}
        cases = [c for c in cases if c.category in wanted]
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise AssertionError("duplicate sweep case names")
    return cases


def case_by_name(name: str) -> SweepCase | None:
    """The sweep case called ``name`` (the ONNX graph name of its model), or None: a grid case,
    or a sampled one rebuilt from the shape its name encodes."""
    for c in sweep_cases():
        if c.name == name:
            return c
    from estimator.calibration.sampling import case_from_name

    return case_from_name(name)
