"""ONNX attributes turned into the normalized IR attributes of docs/design/ir.md.

Cost rules read ``attrs`` without knowing the opset or the exporter, so every default the ONNX
spec implies is written out here (strides of ones, explicit pads instead of ``auto_pad``, axes
made non-negative, operands such as Reduce axes or TopK's k copied in from constant inputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

from estimator.frontends.onnx_types import to_dtype

Shape = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What attribute normalization may look at besides the attributes themselves."""

    op_type: str
    opset: int
    in_shapes: Sequence[Shape | None]
    in_values: Sequence[np.ndarray | None]
    out_shapes: Sequence[Shape]

    def in_shape(self, i: int) -> Shape | None:
        return self.in_shapes[i] if i < len(self.in_shapes) else None

    def in_value(self, i: int) -> np.ndarray | None:
        return self.in_values[i] if i < len(self.in_values) else None

    def in_rank(self, i: int = 0) -> int | None:
        s = self.in_shape(i)
        return None if s is None else len(s)


def raw_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """Plain Python values of a node's attributes (subgraphs are left out: the IR has none)."""
    out: dict[str, Any] = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue
        out[a.name] = _plain(helper.get_attribute_value(a))
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)
    if isinstance(v, onnx.TensorProto):
        return f"<tensor {to_dtype(v.data_type).value} {tuple(v.dims)}>"
    return v


def normalize_axis(axis: int, rank: int | None) -> int:
    if rank is None or axis >= 0:
        return int(axis)
    return int(axis + rank)


def _axes(values: Any, rank: int | None) -> tuple[int, ...]:
    return tuple(normalize_axis(int(a), rank) for a in np.asarray(values).reshape(-1))


def _spatial_defaults(attrs: dict[str, Any], ctx: NodeContext, *, weight_kernel: bool) -> None:
    """Fill kernel_shape/strides/dilations/pads for Conv, ConvTranspose and pooling."""
    x = ctx.in_shape(0)
    nsp = None if x is None else len(x) - 2
    if "kernel_shape" not in attrs and weight_kernel:
        w = ctx.in_shape(1)
        if w is not None:
            attrs["kernel_shape"] = tuple(w[2:])
    k = tuple(attrs.get("kernel_shape", ()))
    if nsp is None:
        nsp = len(k)
    attrs["kernel_shape"] = k
    attrs["strides"] = tuple(attrs.get("strides", (1,) * nsp))
    attrs["dilations"] = tuple(attrs.get("dilations", (1,) * nsp))
    auto_pad = attrs.pop("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode("utf-8", "replace") if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in _AUTO_PADS:
        raise ValueError(f"auto_pad {auto_pad!r} is not one of {', '.join(_AUTO_PADS)}")
    _check_window(attrs, nsp, x)
    if (
        auto_pad in ("SAME_UPPER", "SAME_LOWER")
        and x is not None
        and ctx.op_type != "ConvTranspose"
    ):
        begins, ends = [], []
        for i in range(nsp):
            n, s, d = x[2 + i], attrs["strides"][i], attrs["dilations"][i]
            out = math.ceil(n / s)
            total = max(0, (out - 1) * s + (k[i] - 1) * d + 1 - n)
            small, big = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        attrs["pads"] = tuple(begins + ends)
    elif (
        ctx.op_type == "ConvTranspose"
        and x is not None
        and (auto_pad in ("SAME_UPPER", "SAME_LOWER") or "output_shape" in attrs)
    ):
        # An explicit output_shape overrides pads; the spec derives them from it.
        attrs["pads"] = _conv_transpose_same_pads(attrs, ctx, auto_pad, nsp)
    elif auto_pad == "VALID":
        attrs["pads"] = (0,) * (2 * nsp)
    else:
        attrs["pads"] = tuple(attrs.get("pads", (0,) * (2 * nsp)))


_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _check_window(attrs: dict[str, Any], nsp: int, x: Sequence[int] | None) -> None:
    """kernel_shape, strides, dilations and pads that no runtime would accept (or that only
    make the output out of padding) are refused: costed as given they give absurd counts."""
    k = attrs["kernel_shape"]
    for name, values, lo in (
        ("kernel_shape", k, 1),
        ("strides", attrs["strides"], 1),
        ("dilations", attrs["dilations"], 1),
    ):
        if len(values) != nsp:
            raise ValueError(f"{name} {list(values)} has {len(values)} values, the input {nsp}")
        if any(int(v) < lo for v in values):
            raise ValueError(f"{name} {list(values)} must be >= {lo}")
    pads = attrs.get("pads")
    if pads is None:
        return
    if len(pads) != 2 * nsp:
        raise ValueError(f"pads {list(pads)} has {len(pads)} values, need {2 * nsp}")
    for i, p in enumerate(pads):
        if int(p) < 0:
            raise ValueError(f"pads {list(pads)} must be >= 0")
        axis = i % nsp
        extent = (int(k[axis]) - 1) * int(attrs["dilations"][axis]) + 1
        if x is not None and int(p) >= x[2 + axis] + extent:
            raise ValueError(
                f"pads {list(pads)}: {p} on spatial axis {axis} exceeds the input ({x[2 + axis]})"
                f" plus the kernel ({extent}); the output would be padding only"
            )


def _check_conv_weights(attrs: dict[str, Any], ctx: NodeContext) -> None:
    """Channels and group must agree with the weight tensor, as the runtime checks them."""
    group = int(attrs.get("group", 1))
    if group < 1:
        raise ValueError(f"group {group} must be >= 1")
    x, w = ctx.in_shape(0), ctx.in_shape(1)
    if w is None:
        return
    if len(w) < 3:
        raise ValueError(f"weight of shape {list(w)} needs rank >= 3")
    if "kernel_shape" in attrs and tuple(int(v) for v in attrs["kernel_shape"]) != tuple(w[2:]):
        raise ValueError(
            f"kernel_shape {list(attrs['kernel_shape'])} does not match the weight's {list(w[2:])}"
        )
    transpose = ctx.op_type == "ConvTranspose"
    if w[0] <= 0 or w[1] <= 0:
        raise ValueError(f"weight of shape {list(w)} has zero channels")
    in_ch = w[0] if transpose else w[1] * group
    if w[0] % group:
        what = "input" if transpose else "output"
        raise ValueError(f"group {group} does not divide the weight's {w[0]} {what} channels")
    if x is not None and len(x) >= 2 and x[1] != in_ch:
        raise ValueError(
            f"input has {x[1]} channels but the weight {list(w)} with group {group} takes {in_ch}"
        )


def _conv_transpose_same_pads(
    attrs: dict[str, Any], ctx: NodeContext, auto_pad: str, nsp: int
) -> tuple[int, ...]:
    """ConvTranspose SAME padding per the ONNX spec's total_padding formula."""
    x = ctx.in_shape(0)
    assert x is not None
    k, s, d = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    op = tuple(attrs.get("output_padding", (0,) * nsp))
    out_shape = attrs.get("output_shape") or tuple(x[2 + i] * s[i] for i in range(nsp))
    begins, ends = [], []
    for i in range(nsp):
        total = s[i] * (x[2 + i] - 1) + op[i] + ((k[i] - 1) * d[i] + 1) - out_shape[-nsp + i]
        total = max(total, 0)
        if auto_pad == "SAME_UPPER":
            begins.append(total // 2)
            ends.append(total - total // 2)
        else:
            begins.append(total - total // 2)
            ends.append(total // 2)
    return tuple(begins + ends)


def _conv(attrs: dict[str, Any], ctx: NodeContext) -> None:
    _check_conv_weights(attrs, ctx)
    _spatial_defaults(attrs, ctx, weight_kernel=True)
    attrs["group"] = int(attrs.get("group", 1))
    if ctx.op_type == "ConvTranspose":
        nsp = len(attrs["kernel_shape"])
        attrs["output_padding"] = tuple(attrs.get("output_padding", (0,) * nsp))


def _pool(attrs: dict[str, Any], ctx: NodeContext) -> None:
    _spatial_defaults(attrs, ctx, weight_kernel=False)
    k, pads = attrs["kernel_shape"], attrs["pads"]
    # onnxruntime and PyTorch refuse a pool window that can lie wholly in the padding
    for i, p in enumerate(pads):
        if k and int(p) >= int(k[i % len(k)]):
            raise ValueError(
                f"pads {list(pads)}: {p} on spatial axis {i % len(k)} is not smaller than "
                f"kernel_shape {list(k)}"
            )
    attrs["ceil_mode"] = int(attrs.get("ceil_mode", 0))
    attrs["count_include_pad"] = int(attrs.get("count_include_pad", 0))


def _gemm(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["transA"] = int(attrs.get("transA", 0))
    attrs["transB"] = int(attrs.get("transB", 0))
    attrs["alpha"] = float(attrs.get("alpha", 1.0))
    attrs["beta"] = float(attrs.get("beta", 1.0))


def _softmax(attrs: dict[str, Any], ctx: NodeContext) -> None:
    default = 1 if ctx.opset < 13 else -1
    attrs["axis"] = normalize_axis(int(attrs.get("axis", default)), ctx.in_rank())


def _axis(
    default: int, rank_from_output: bool = False
) -> Callable[[dict[str, Any], NodeContext], None]:
    def rule(attrs: dict[str, Any], ctx: NodeContext) -> None:
        rank = len(ctx.out_shapes[0]) if rank_from_output and ctx.out_shapes else ctx.in_rank()
        attrs["axis"] = normalize_axis(int(attrs.get("axis", default)), rank)

    return rule


def _norm(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["epsilon"] = float(attrs.get("epsilon", 1e-5))
    if ctx.op_type in ("LayerNormalization", "RMSNormalization"):
        attrs["axis"] = normalize_axis(int(attrs.get("axis", -1)), ctx.in_rank())
    if ctx.op_type == "GroupNormalization":
        attrs["num_groups"] = int(attrs["num_groups"])


def _reduce(attrs: dict[str, Any], ctx: NodeContext) -> None:
    rank = ctx.in_rank()
    if "axes" in attrs:
        axes = _axes(attrs["axes"], rank)
    elif ctx.in_value(1) is not None:
        axes = _axes(ctx.in_value(1), rank)
    else:
        axes = ()
    attrs["axes"] = tuple(sorted(axes))
    attrs["keepdims"] = int(attrs.get("keepdims", 1))
    attrs["noop_with_empty_axes"] = int(attrs.get("noop_with_empty_axes", 0))


def _arg(attrs: dict[str, Any], ctx: NodeContext) -> None:
    axis = normalize_axis(int(attrs.get("axis", 0)), ctx.in_rank())
    attrs["axis"] = axis
    attrs["axes"] = (axis,)
    attrs["keepdims"] = int(attrs.get("keepdims", 1))
    attrs["select_last_index"] = int(attrs.get("select_last_index", 0))


def _cumsum(attrs: dict[str, Any], ctx: NodeContext) -> None:
    v = ctx.in_value(1)
    if v is not None:
        attrs["axis"] = normalize_axis(int(np.asarray(v).reshape(-1)[0]), ctx.in_rank())
    attrs["exclusive"] = int(attrs.get("exclusive", 0))
    attrs["reverse"] = int(attrs.get("reverse", 0))


def _split(attrs: dict[str, Any], ctx: NodeContext) -> None:
    rank = ctx.in_rank()
    axis = normalize_axis(int(attrs.get("axis", 0)), rank)
    attrs["axis"] = axis
    attrs["split"] = tuple(s[axis] for s in ctx.out_shapes if len(s) > axis)


def _topk(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["axis"] = normalize_axis(int(attrs.get("axis", -1)), ctx.in_rank())
    attrs["largest"] = int(attrs.get("largest", 1))
    attrs["sorted"] = int(attrs.get("sorted", 1))
    v = ctx.in_value(1)
    if v is not None:
        attrs["k"] = int(np.asarray(v).reshape(-1)[0])
    elif ctx.out_shapes:
        attrs["k"] = ctx.out_shapes[0][attrs["axis"]]


def _transpose(attrs: dict[str, Any], ctx: NodeContext) -> None:
    rank = ctx.in_rank()
    if "perm" not in attrs and rank is not None:
        attrs["perm"] = tuple(reversed(range(rank)))
    elif "perm" in attrs:
        attrs["perm"] = tuple(int(p) for p in attrs["perm"])


_RESIZE_MODES = ("nearest", "linear", "cubic")
_RESIZE_COORDS = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "tf_crop_and_resize",
)


def _resize(attrs: dict[str, Any], ctx: NodeContext) -> None:
    """Modes and scales the spec forbids are refused: a scale of 0 would be costed as an empty
    output, an unknown mode as whatever the cost rule assumes for nearest."""
    attrs["mode"] = str(attrs.get("mode", "nearest"))
    attrs["coordinate_transformation_mode"] = str(
        attrs.get("coordinate_transformation_mode", "half_pixel")
    )
    if attrs["mode"] not in _RESIZE_MODES:
        raise ValueError(f"mode {attrs['mode']!r} is not one of {', '.join(_RESIZE_MODES)}")
    ctm = attrs["coordinate_transformation_mode"]
    if ctm not in _RESIZE_COORDS:
        raise ValueError(
            f"coordinate_transformation_mode {ctm!r} is not one of {', '.join(_RESIZE_COORDS)}"
        )
    first = 1 if ctx.op_type == "Upsample" else 2  # Upsample(X, scales), Resize(X, roi, scales)
    scales = ctx.in_value(first)
    if scales is not None and scales.size:
        vals = np.asarray(scales, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(vals)) or np.any(vals <= 0):
            raise ValueError(f"scales {vals.tolist()} must be finite and > 0")
    sizes = ctx.in_value(3) if ctx.op_type == "Resize" else None
    if sizes is not None and sizes.size and np.any(np.asarray(sizes).reshape(-1) <= 0):
        raise ValueError(f"sizes {np.asarray(sizes).reshape(-1).tolist()} must be > 0")


def _cast(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["to"] = to_dtype(int(attrs["to"])).value


def _gelu(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["approximate"] = str(attrs.get("approximate", "none"))


_RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _rnn(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["direction"] = str(attrs.get("direction", "forward"))
    attrs["layout"] = int(attrs.get("layout", 0))
    if "hidden_size" not in attrs:
        r = ctx.in_shape(2)  # R: [num_directions, G*hidden, hidden]
        if r is not None:
            attrs["hidden_size"] = int(r[-1])
    else:
        attrs["hidden_size"] = int(attrs["hidden_size"])
    _check_rnn_weights(attrs, ctx)


def _check_rnn_weights(attrs: dict[str, Any], ctx: NodeContext) -> None:
    """W [dirs, G*hidden, input] and R [dirs, G*hidden, hidden] must fit X and hidden_size, as
    the runtime checks them: otherwise the cost rule counts a recurrence of the wrong size."""
    hidden = attrs.get("hidden_size")
    if hidden is not None and hidden < 1:
        raise ValueError(f"hidden_size {hidden} must be >= 1")
    gates = _RNN_GATES.get(ctx.op_type, 1)
    x, w, r = ctx.in_shape(0), ctx.in_shape(1), ctx.in_shape(2)
    if hidden is None:
        return
    for name, shape, last in (("W", w, None if x is None else x[-1]), ("R", r, hidden)):
        if shape is None:
            continue
        if len(shape) != 3 or shape[1] != gates * hidden or (last is not None and shape[2] != last):
            want = f"[dirs, {gates * hidden}, {'input_size' if last is None else last}]"
            raise ValueError(
                f"{name} of shape {list(shape)} does not fit hidden_size {hidden} and the "
                f"input (want {want})"
            )


def _squeeze(attrs: dict[str, Any], ctx: NodeContext) -> None:
    rank = ctx.in_rank() if ctx.op_type == "Squeeze" else len(ctx.out_shapes[0])
    if "axes" in attrs:
        attrs["axes"] = tuple(sorted(_axes(attrs["axes"], rank)))
    elif ctx.in_value(1) is not None:
        attrs["axes"] = tuple(sorted(_axes(ctx.in_value(1), rank)))


def _pad(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["mode"] = str(attrs.get("mode", "constant"))
    v = ctx.in_value(1)
    if "pads" not in attrs and v is not None:
        attrs["pads"] = tuple(int(p) for p in np.asarray(v).reshape(-1))


def _flatten(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["axis"] = normalize_axis(int(attrs.get("axis", 1)), ctx.in_rank())


def _lp(attrs: dict[str, Any], ctx: NodeContext) -> None:
    attrs["axis"] = normalize_axis(int(attrs.get("axis", -1)), ctx.in_rank())
    attrs["p"] = int(attrs.get("p", 2))


def _defaults(**defaults: Any) -> Callable[[dict[str, Any], NodeContext], None]:
    def rule(attrs: dict[str, Any], ctx: NodeContext) -> None:
        for k, v in defaults.items():
            attrs.setdefault(k, v)

    return rule


_RULES: dict[str, Callable[[dict[str, Any], NodeContext], None]] = {
    "Conv": _conv,
    "ConvTranspose": _conv,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "LpPool": _pool,
    "Gemm": _gemm,
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "Hardmax": _softmax,
    "Concat": _axis(0, rank_from_output=True),
    "Gather": _axis(0),
    "GatherElements": _axis(0),
    "ScatterElements": _axis(0),
    "Split": _split,
    "CumSum": _cumsum,
    "Flatten": _flatten,
    "BatchNormalization": _norm,
    "InstanceNormalization": _norm,
    "LayerNormalization": _norm,
    "RMSNormalization": _norm,
    "GroupNormalization": _norm,
    "LpNormalization": _lp,
    "ArgMax": _arg,
    "ArgMin": _arg,
    "TopK": _topk,
    "Transpose": _transpose,
    "Resize": _resize,
    "Cast": _cast,
    "Gelu": _gelu,
    "LSTM": _rnn,
    "GRU": _rnn,
    "RNN": _rnn,
    "Squeeze": _squeeze,
    "Unsqueeze": _squeeze,
    "Pad": _pad,
    "LeakyRelu": _defaults(alpha=0.01),
    "Elu": _defaults(alpha=1.0),
    "Celu": _defaults(alpha=1.0),
    "Selu": _defaults(alpha=1.67326319217681884765625, gamma=1.05070102214813232421875),
    "HardSigmoid": _defaults(alpha=0.2, beta=0.5),
    "DepthToSpace": _defaults(mode="DCR"),
}
for _r in (
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
    "ReduceLogSumExp",
):
    _RULES[_r] = _reduce


#: Constant operands copied into attrs (as int tuples) so reports and rules need no tensor values.
_OPERAND_ATTRS: dict[str, tuple[tuple[int, str], ...]] = {
    "Reshape": ((1, "shape"),),
    "Expand": ((1, "shape"),),
    "Tile": ((1, "repeats"),),
    "Slice": ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")),
    "Resize": ((3, "sizes"),),
}


def _operand_attrs(attrs: dict[str, Any], ctx: NodeContext) -> None:
    for idx, key in _OPERAND_ATTRS.get(ctx.op_type, ()):
        v = ctx.in_value(idx)
        if v is not None and key not in attrs and np.issubdtype(np.asarray(v).dtype, np.integer):
            attrs[key] = tuple(int(x) for x in np.asarray(v).reshape(-1))


def normalize_attrs(node: onnx.NodeProto, ctx: NodeContext) -> dict[str, Any]:
    """The IR attributes of ``node``: ONNX names, every implied default written out."""
    attrs = raw_attrs(node)
    if node.domain in ("", "ai.onnx"):
        rule = _RULES.get(ctx.op_type)
        if rule is not None:
            rule(attrs, ctx)
        _operand_attrs(attrs, ctx)
    return attrs
