"""Load-time evaluation of nodes whose inputs are all known constants.

Once every input shape is static, shape-computation subgraphs (Shape -> Gather -> Concat ->
Reshape, ...) only ever see constants. Evaluating them here lets the frontend pass concrete
values to shape inference and drop those nodes from the IR, since a runtime with static shapes
never executes them. The ops exporters emit most often are done in numpy directly; the rest go
through ``onnx.reference`` (about a millisecond per node, so only rare ops should take that path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper

from estimator.frontends.onnx_attrs import raw_attrs

#: Ops whose output is not a function of the inputs: never folded.
NONDETERMINISTIC: frozenset[str] = frozenset(
    {
        "RandomNormal",
        "RandomUniform",
        "RandomNormalLike",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)

#: Ops onnxruntime deliberately keeps on constant weights (QDQ models fuse DequantizeLinear into
#: the quantized kernel that reads it); folding them would hide the weight's real dtype.
KEEP_ON_CONSTANTS: frozenset[str] = frozenset(
    {"DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear"}
)

#: Ops with subgraph attributes; folding them would need a full evaluator run.
CONTROL_FLOW: frozenset[str] = frozenset({"If", "Loop", "Scan", "SequenceMap"})

Evaluator = Callable[[list[np.ndarray], dict[str, Any], int], list[np.ndarray]]


def _shape(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    dims = x[0].shape
    start, end = a.get("start", 0), a.get("end", len(dims))
    return [np.array(dims[start:end], dtype=np.int64)]


def _size(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    return [np.array(x[0].size, dtype=np.int64)]


def _gather(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    axis = int(a.get("axis", 0))
    idx = x[1].astype(np.int64)
    idx = np.where(idx < 0, idx + x[0].shape[axis], idx)
    return [np.take(x[0], idx, axis=axis)]


def _concat(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    parts = [v for v in x if v.size or v.ndim != 1] or x
    return [np.concatenate(parts, axis=int(a["axis"]))]


def _axes_arg(x: list[np.ndarray], a: dict[str, Any]) -> list[int] | None:
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    if len(x) > 1:
        return [int(v) for v in x[1].reshape(-1)]
    return None


def _unsqueeze(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    axes = _axes_arg(x, a) or []
    rank = x[0].ndim + len(axes)
    out = x[0]
    for ax in sorted(v % rank for v in axes):
        out = np.expand_dims(out, ax)
    return [out]


def _squeeze(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    axes = _axes_arg(x, a)
    if axes is None:
        return [np.squeeze(x[0])]
    return [np.squeeze(x[0], axis=tuple(v % x[0].ndim for v in axes))]


def _slice(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    data = x[0]
    if opset < 10:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = [int(v) for v in x[1]], [int(v) for v in x[2]]
        axes = [int(v) for v in x[3]] if len(x) > 3 else list(range(len(starts)))
        steps = [int(v) for v in x[4]] if len(x) > 4 else [1] * len(starts)
    index: list[slice] = [slice(None)] * data.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=True):
        if st > 0:
            # Python slicing clamps exactly like ONNX for positive steps.
            index[ax % data.ndim] = slice(s, e, st)
            continue
        n = data.shape[ax]
        s_n = min(max(s + n if s < 0 else s, 0), n - 1)
        e_n = min(max(e + n if e < 0 else e, -1), n - 1)
        index[ax % data.ndim] = slice(s_n, None if e_n == -1 else e_n, st)
    return [data[tuple(index)]]


def _cast(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    np_type = helper.tensor_dtype_to_np_dtype(int(a["to"]))
    return [x[0].astype(np_type)]


def _constant_of_shape(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    value = a.get("_value")
    fill = value if value is not None else np.zeros(1, dtype=np.float32)
    return [np.full(tuple(int(d) for d in x[0].reshape(-1)), fill.reshape(-1)[0], fill.dtype)]


class InvalidOperand(ValueError):
    """A constant operand the op's definition forbids (Range's delta of 0): the loader names
    the node instead of falling back to shape inference, which sizes such an output as empty."""


def _range(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    if x[2].size != 1 or x[2].item() == 0:
        raise InvalidOperand(f"delta {x[2].reshape(-1).tolist()} must be one non-zero number")
    return [np.arange(x[0].item(), x[1].item(), x[2].item(), dtype=x[0].dtype)]


def _reshape(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    shape = [int(v) for v in x[1].reshape(-1)]
    if not a.get("allowzero", 0):
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x[0].reshape(shape)]


def _div(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    if np.issubdtype(x[0].dtype, np.integer):
        # ONNX integer division truncates toward zero like C, not toward -inf like numpy.
        q = np.trunc(x[0] / x[1]).astype(x[0].dtype)
        return [q]
    return [np.divide(x[0], x[1]).astype(x[0].dtype)]


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], keep_dtype: bool) -> Evaluator:
    def ev(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
        out = np.asarray(fn(x[0], x[1]))
        return [out.astype(x[0].dtype) if keep_dtype else out]

    return ev


def _variadic(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def ev(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
        out = x[0]
        for v in x[1:]:
            out = fn(out, v)
        return [np.asarray(out).astype(x[0].dtype)]

    return ev


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Evaluator:
    def ev(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
        return [np.asarray(fn(x[0])).astype(x[0].dtype)]

    return ev


def _expand(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    shape = tuple(int(v) for v in x[1].reshape(-1))
    target = np.broadcast_shapes(x[0].shape, shape)
    return [np.broadcast_to(x[0], target).copy()]


def _where(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    return [np.where(x[0], x[1], x[2]).astype(x[1].dtype)]


def _identity(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    return [x[0]]


def _transpose(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    perm = a.get("perm")
    return [np.transpose(x[0], perm)]


def _reduce(fn: Callable[..., np.ndarray]) -> Evaluator:
    def ev(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
        axes = _axes_arg(x, a)
        keep = bool(a.get("keepdims", 1))
        if not axes and a.get("noop_with_empty_axes", 0):
            return [x[0]]
        ax = None if not axes else tuple(v % x[0].ndim for v in axes)
        return [np.asarray(fn(x[0], axis=ax, keepdims=keep)).astype(x[0].dtype)]

    return ev


def _trilu(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    k = int(x[1].reshape(-1)[0]) if len(x) > 1 else 0
    fn = np.triu if a.get("upper", 1) else np.tril
    return [fn(x[0], k)]


def _mod(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    fn = np.fmod if a.get("fmod", 0) else np.mod
    return [np.asarray(fn(x[0], x[1])).astype(x[0].dtype)]


def _tile(x: list[np.ndarray], a: dict[str, Any], opset: int) -> list[np.ndarray]:
    return [np.tile(x[0], tuple(int(r) for r in x[1].reshape(-1)))]


_FAST: dict[str, Evaluator] = {
    "Shape": _shape,
    "Size": _size,
    "Gather": _gather,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Slice": _slice,
    "Cast": _cast,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Reshape": _reshape,
    "Add": _binary(np.add, True),
    "Sub": _binary(np.subtract, True),
    "Mul": _binary(np.multiply, True),
    "Div": _div,
    "Equal": _binary(np.equal, False),
    "Less": _binary(np.less, False),
    "Greater": _binary(np.greater, False),
    "LessOrEqual": _binary(np.less_equal, False),
    "GreaterOrEqual": _binary(np.greater_equal, False),
    "And": _binary(np.logical_and, False),
    "Or": _binary(np.logical_or, False),
    "Not": _unary(np.logical_not),
    "Neg": _unary(np.negative),
    "Abs": _unary(np.abs),
    "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil),
    "Sqrt": _unary(np.sqrt),
    "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum),
    "Pow": _binary(np.power, True),
    "Mod": _mod,
    "Exp": _unary(np.exp),
    "Log": _unary(np.log),
    "Sign": _unary(np.sign),
    "Trilu": _trilu,
    "Tile": _tile,
    "Where": _where,
    "Expand": _expand,
    "Identity": _identity,
    "Transpose": _transpose,
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
}


def evaluate(
    node: onnx.NodeProto, inputs: Sequence[np.ndarray | None], opset: int
) -> list[np.ndarray]:
    """Output values of ``node`` given its input values (None = absent optional operand).

    Raises whatever the evaluator raises; the caller turns that into a model error.
    """
    fast = _FAST.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    present = [v for v in inputs if v is not None]
    if fast is not None and len(present) == len(inputs):
        attrs = raw_attrs(node)
        if node.op_type == "ConstantOfShape":
            attrs["_value"] = _tensor_attr(node, "value")
        return [np.asarray(v) for v in fast(list(present), attrs, opset)]
    return _reference(node, inputs, opset)


def _tensor_attr(node: onnx.NodeProto, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for a in node.attribute:
        if a.name == name and a.type == onnx.AttributeProto.TENSOR:
            return np.asarray(numpy_helper.to_array(a.t))
    return None


def _reference(
    node: onnx.NodeProto, inputs: Sequence[np.ndarray | None], opset: int
) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if v is not None else "" for i, v in enumerate(inputs)]
    outs = [f"out{i}" for i in range(len(node.output))]
    n = helper.make_node(node.op_type, names, outs, domain=node.domain)
    n.attribute.extend(node.attribute)
    feeds = {nm: v for nm, v in zip(names, inputs, strict=True) if v is not None}
    graph = helper.make_graph(
        [n],
        "fold",
        [
            helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for nm, v in feeds.items()
        ],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    result = ReferenceEvaluator(model).run(None, feeds)
    return [np.asarray(v) for v in result]
