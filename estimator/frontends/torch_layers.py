"""Emitters shared by module and function mappers: one place turns torch's conv, pool and norm
arguments into the normalized ONNX-style attributes of docs/design/ir.md.

Both ``nn.Conv2d`` (a call_module) and ``F.conv2d`` / ``aten.conv2d`` (call_function) land here,
so the attribute conventions cannot drift between the fx and the torch.export paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from estimator.frontends.torch_build import Call
from estimator.ir import DType, OpType, TensorInfo

#: torch padding modes -> ONNX Pad modes.
PAD_MODES = {
    "constant": "constant",
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def tup(value: Any, n: int) -> tuple[int, ...]:
    """An int or a sequence of ints as an n-tuple (torch's ``_ntuple``)."""
    if isinstance(value, int):
        return (value,) * n
    vals = tuple(int(v) for v in value)
    if len(vals) == 1 and n > 1:
        return vals * n
    return vals


def axis(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


def axes(dims: Any, rank: int) -> tuple[int, ...]:
    """Normalized, sorted reduction axes; ``None`` / empty mean all axes (returned as ())."""
    if dims is None:
        return ()
    if isinstance(dims, int):
        dims = (dims,)
    return tuple(sorted(axis(int(d), rank) for d in dims))


def onnx_pads(torch_pad: Sequence[int], rank: int) -> tuple[int, ...]:
    """``F.pad``'s last-dim-first (left, right, ...) list -> ONNX begin..end over all dims."""
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(torch_pad) // 2):
        d = rank - 1 - i
        begins[d], ends[d] = int(torch_pad[2 * i]), int(torch_pad[2 * i + 1])
    return tuple(begins + ends)


def conv_pads(padding: Any, kernel: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """torch conv padding (int, tuple, 'same', 'valid') -> ONNX pads (begin..., end...)."""
    n = len(kernel)
    if padding == "valid":
        return (0,) * (2 * n)
    if padding == "same":
        # torch puts the odd extra element at the end (F.conv*d 'same', stride 1 only).
        total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return tuple(t // 2 for t in total) + tuple(t - t // 2 for t in total)
    p = tup(padding, n)
    return p + p


def emit_conv(
    c: Call,
    x: TensorInfo,
    w: TensorInfo,
    b: TensorInfo | None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    transposed: bool = False,
    output_padding: Any = 0,
    padding_mode: str = "zeros",
) -> TensorInfo:
    n = w.rank - 2
    kernel = tuple(w.shape[2:])
    dil = tup(dilation, n)
    pads = conv_pads(padding, kernel, dil)
    if padding_mode != "zeros" and not transposed:
        # nn.ConvNd pads explicitly (F.pad) for non-zero modes, then convolves unpadded.
        pad_all = (0, 0, *pads[:n], 0, 0, *pads[n:])
        shape = tuple(s + pad_all[i] + pad_all[i + x.rank] for i, s in enumerate(x.shape))
        padded = c.scratch("pad", shape, x.dtype)
        c.emit(
            OpType.PAD,
            [x],
            [padded],
            {"pads": pad_all, "mode": PAD_MODES[padding_mode]},
            suffix="pad",
        )
        x, pads = padded, (0,) * (2 * n)
    attrs: dict[str, Any] = {
        "kernel_shape": kernel,
        "strides": tup(stride, n),
        "pads": pads,
        "dilations": dil,
        "group": int(groups),
    }
    if transposed:
        attrs["output_padding"] = tup(output_padding, n)
    out = c.out()
    ins = [x, w] if b is None else [x, w, b]
    c.emit(OpType.CONV_TRANSPOSE if transposed else OpType.CONV, ins, [out], attrs)
    return out


def emit_pool(
    c: Call,
    op: str,
    x: TensorInfo,
    *,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    spatial: int,
) -> Any:
    n = spatial
    k = tup(kernel, n)
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else tup(stride, n)
    )
    p = tup(padding, n)
    attrs: dict[str, Any] = {
        "kernel_shape": k,
        "strides": s,
        "pads": p + p,
        "dilations": tup(dilation, n),
        "ceil_mode": int(bool(ceil_mode)),
        "count_include_pad": int(bool(count_include_pad)),
    }
    return c.single(op, [x], attrs)


def emit_adaptive_pool(
    c: Call, op_global: str, op_local: str, x: TensorInfo, n_spatial: int
) -> Any:
    """Adaptive pooling: output 1 -> Global*Pool; otherwise the fixed window that yields it.

    The window (stride = in // out, kernel = in - (out - 1) * stride) is exact when ``out``
    divides ``in`` and covers torch's variable windows otherwise.
    """
    out_shape = tuple(int(d) for d in c.result_tensor(0).shape)
    spatial = list(range(x.rank - n_spatial, x.rank))
    outs = [out_shape[i] for i in spatial]
    ins = [x.shape[i] for i in spatial]
    if all(o == 1 for o in outs):
        return c.single(op_global, [x], {})
    strides = tuple(max(i // o, 1) for i, o in zip(ins, outs, strict=True))
    kernels = tuple(i - (o - 1) * s for i, o, s in zip(ins, outs, strides, strict=True))
    attrs = {
        "kernel_shape": kernels,
        "strides": strides,
        "pads": (0,) * (2 * len(spatial)),
        "dilations": (1,) * len(spatial),
        "ceil_mode": 0,
        "count_include_pad": 0,
        "adaptive_output_size": tuple(outs),
    }
    return c.single(op_local, [x], attrs)


def spatial_rank(name: str, default: int) -> int:
    """The N of ``max_pool2d`` / ``AdaptiveAvgPool3d``: the last digit in the name."""
    digits = [ch for ch in name if ch.isdigit()]
    return int(digits[-1]) if digits else default


def norm_operand(
    c: Call, t: TensorInfo | None, hint: str, shape: Sequence[int], dtype: DType, fill: bool
) -> TensorInfo | None:
    """A norm's scale/bias/stat operand, synthesized as a constant when torch leaves it out."""
    if t is not None or not fill:
        return t
    return c.builder.implicit_const(f"{c.node.name}.{hint}", shape, dtype)


def emit_batch_norm(
    c: Call,
    x: TensorInfo,
    weight: TensorInfo | None,
    bias: TensorInfo | None,
    mean: TensorInfo | None,
    var: TensorInfo | None,
    eps: float,
) -> Any:
    ch = (x.shape[1],) if x.rank > 1 else (x.shape[0],)
    ops = [
        norm_operand(c, t, h, ch, x.dtype, True)
        for t, h in ((weight, "scale"), (bias, "B"), (mean, "mean"), (var, "var"))
    ]
    return c.single(
        OpType.BATCH_NORM, [x, *[o for o in ops if o is not None]], {"epsilon": float(eps)}
    )


def emit_layer_norm(
    c: Call,
    op: str,
    x: TensorInfo,
    normalized_shape: Sequence[int],
    weight: TensorInfo | None,
    bias: TensorInfo | None,
    eps: float | None,
) -> Any:
    shape = tuple(int(s) for s in normalized_shape)
    scale = norm_operand(c, weight, "scale", shape, x.dtype, True)
    ins = [x, scale] if bias is None else [x, scale, bias]
    if eps is None:  # torch.rms_norm: eps defaults to the dtype's machine epsilon
        import torch

        eps = float(torch.finfo(c.result_tensor(0).dtype).eps)
    attrs = {"axis": x.rank - len(shape), "epsilon": float(eps)}
    return c.single(op, [t for t in ins if t is not None], attrs)
