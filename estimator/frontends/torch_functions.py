"""Mappers for call_function / call_method nodes: torch, F, Tensor methods, operator and aten.

Keys are normalized target names (see ``Call.key``), so ``torch.add``, ``operator.add``,
``x.add_`` and ``aten.add.Tensor`` share one mapper. Operands are read by keyword first (aten
schemas and Python signatures use the same names), then by position.

Conventions a cost rule may rely on (docs/design/ir.md lists the normalized attributes):

* Python scalars are attributes (``scalar``, ``min``/``max`` of Clip, ``value`` of masked_fill),
  never synthesized constant tensors: a constant operand would be counted as a parameter.
* ``rsqrt`` becomes ``Sqrt`` + ``Reciprocal``, as torch.onnx exports it, so both frontends agree.
* Integer indexing ``x[0]`` and ``select`` become a ``Slice`` (attrs ``starts``, ``ends``,
  ``axes``, ``steps``) whose output drops the indexed axis; tensor indexing becomes ``Gather``.
* ``stack`` is a ``Concat`` with ``new_axis=1``; ``unbind`` a ``Split`` whose outputs drop the axis.
* ``contiguous``, ``clone``, ``detach``, dropout and dtype-preserving ``.to()`` alias their input
  (no node); every other call without a mapper keeps its native name (``Call.unknown``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from estimator.frontends.torch_build import Call, tensor_infos, to_dtype
from estimator.frontends.torch_layers import (
    PAD_MODES,
    axes,
    axis,
    emit_adaptive_pool,
    emit_batch_norm,
    emit_conv,
    emit_layer_norm,
    emit_pool,
    onnx_pads,
    spatial_rank,
)
from estimator.ir import OpType, TensorInfo

Handler = Callable[[Call], Any]
FUNCTIONS: dict[str, Handler] = {}

#: Calls whose result is a constant (no runtime input): folded, never a node.
FACTORIES = frozenset(
    {
        "arange", "zeros", "ones", "full", "empty", "eye", "linspace", "logspace", "tensor",
        "as_tensor", "scalar_tensor", "rand", "randn", "randint", "zeros_like", "ones_like",
        "full_like", "empty_like", "rand_like", "randn_like", "new_zeros", "new_ones",
        "new_full", "new_empty", "new_tensor", "empty_strided", "tril_indices", "triu_indices",
    }
)  # fmt: skip

#: Calls that only alias their input at inference time.
ALIASES = frozenset(
    {
        "contiguous", "clone", "detach", "alias", "lift_fresh_copy", "dropout", "dropout1d",
        "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "native_dropout",
        "requires_grad", "cpu", "cuda", "_assert_tensor_metadata", "lift_fresh",
    }
)  # fmt: skip


def register(*keys: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for k in keys:
            FUNCTIONS[k] = fn
        return fn

    return deco


def _operands(c: Call, n: int) -> tuple[list[TensorInfo], dict[str, Any]]:
    """The first ``n`` operands split into tensors (inputs) and scalars (attributes)."""
    names = ("input", "other", "third")
    vals = [c.arg(i, names[i] if i < len(names) else f"arg{i}") for i in range(n)]
    if "other" not in c.kwargs and "exponent" in c.kwargs:
        vals[1] = c.kwargs["exponent"]
    ins = [v for v in vals if isinstance(v, TensorInfo)]
    scal = [v for v in vals if v is not None and not isinstance(v, TensorInfo)]
    attrs: dict[str, Any] = {}
    if scal:
        attrs["scalar"] = scal[0] if len(scal) == 1 else tuple(scal)
    return ins, attrs


def _binary(op: str, **extra: Any) -> Handler:
    def h(c: Call) -> Any:
        ins, attrs = _operands(c, 2)
        return c.single(op, ins, {**attrs, **extra})

    return h


def _unary(op: str, **fixed: Any) -> Handler:
    def h(c: Call) -> Any:
        return c.single(op, [c.x()], dict(fixed))

    return h


for _op, _keys in {
    OpType.ADD: ("add", "iadd", "radd", "__add__", "__radd__"),
    OpType.SUB: ("sub", "subtract", "isub", "__sub__"),
    OpType.MUL: ("mul", "multiply", "imul", "__mul__", "__rmul__"),
    OpType.DIV: ("truediv", "div", "divide", "itruediv", "__truediv__"),
    OpType.POW: ("pow", "__pow__", "float_power"),
    OpType.MAX: ("maximum", "fmax"),
    OpType.MIN: ("minimum", "fmin"),
    OpType.MOD: ("remainder", "fmod", "mod"),
    OpType.EQUAL: ("eq",),
    OpType.LESS: ("lt", "less"),
    OpType.LESS_OR_EQUAL: ("le", "less_equal"),
    OpType.GREATER: ("gt", "greater"),
    OpType.GREATER_OR_EQUAL: ("ge", "greater_equal"),
    OpType.AND: ("logical_and", "bitwise_and", "and_"),
    OpType.OR: ("logical_or", "bitwise_or", "or_"),
    OpType.XOR: ("logical_xor", "bitwise_xor", "xor"),
}.items():
    register(*_keys)(_binary(_op))
register("ne", "not_equal")(_binary(OpType.EQUAL, negate=1))
register("floordiv", "floor_divide")(_binary(OpType.DIV, rounding_mode="floor"))
register("rsub")(_binary(OpType.SUB, reversed=1))

for _op, _keys in {
    OpType.RELU: ("relu",),
    OpType.SIGMOID: ("sigmoid",),
    OpType.TANH: ("tanh",),
    OpType.EXP: ("exp",),
    OpType.LOG: ("log",),
    OpType.SQRT: ("sqrt",),
    OpType.RECIPROCAL: ("reciprocal",),
    OpType.ABS: ("abs", "absolute"),
    OpType.NEG: ("neg", "negative"),
    OpType.SIN: ("sin",),
    OpType.COS: ("cos",),
    OpType.FLOOR: ("floor",),
    OpType.CEIL: ("ceil",),
    OpType.ROUND: ("round",),
    OpType.SIGN: ("sign",),
    OpType.ERF: ("erf",),
    OpType.SILU: ("silu",),
    OpType.MISH: ("mish",),
    OpType.HARD_SWISH: ("hardswish",),
    OpType.SELU: ("selu",),
    OpType.SOFTSIGN: ("softsign",),
    OpType.NOT: ("logical_not", "bitwise_not", "not_", "invert"),
}.items():
    register(*_keys)(_unary(_op))
register("hardsigmoid")(_unary(OpType.HARD_SIGMOID, alpha=1 / 6, beta=0.5))
register("relu6")(_unary(OpType.CLIP, min=0.0, max=6.0))


@register("rsqrt")
def _rsqrt(c: Call) -> Any:
    x = c.x()
    mid = c.scratch("sqrt", x.shape, x.dtype)
    c.emit(OpType.SQRT, [x], [mid], suffix="sqrt")
    return c.single(OpType.RECIPROCAL, [mid])


@register("square")
def _square(c: Call) -> Any:
    x = c.x()
    return c.single(OpType.MUL, [x, x])


@register("gelu")
def _gelu(c: Call) -> Any:
    return c.single(OpType.GELU, [c.x()], {"approximate": str(c.arg(1, "approximate", "none"))})


@register("leaky_relu")
def _leaky(c: Call) -> Any:
    return c.single(OpType.LEAKY_RELU, [c.x()], {"alpha": float(c.arg(1, "negative_slope", 0.01))})


@register("elu", "celu")
def _elu(c: Call) -> Any:
    op = OpType.ELU if c.key == "elu" else OpType.CELU
    return c.single(op, [c.x()], {"alpha": float(c.arg(1, "alpha", 1.0))})


@register("softplus")
def _softplus(c: Call) -> Any:
    attrs = {"beta": float(c.arg(1, "beta", 1.0)), "threshold": float(c.arg(2, "threshold", 20.0))}
    return c.single(OpType.SOFTPLUS, [c.x()], attrs)


@register("prelu")
def _prelu(c: Call) -> Any:
    return c.single(OpType.PRELU, tensor_infos([c.x(), c.arg(1, "weight")]))


@register("hardtanh", "clamp", "clip")
def _clip(c: Call) -> Any:
    lo_name, hi_name = ("min_val", "max_val") if c.key == "hardtanh" else ("min", "max")
    default = (-1.0, 1.0) if c.key == "hardtanh" else (None, None)
    lo, hi = c.arg(1, lo_name, default[0]), c.arg(2, hi_name, default[1])
    ins = [c.x(), *tensor_infos([lo, hi])]
    attrs = {k: float(v) for k, v in (("min", lo), ("max", hi)) if isinstance(v, int | float)}
    return c.single(OpType.CLIP, ins, attrs)


@register("softmax", "log_softmax", "_softmax", "_log_softmax")
def _softmax(c: Call) -> Any:
    x = c.x()
    dim = c.arg(1, "dim")
    if dim is None:  # torch's legacy implicit dim (_get_softmax_dim)
        dim = 0 if x.rank in (0, 1, 3) else 1
    op = OpType.LOG_SOFTMAX if "log" in c.key else OpType.SOFTMAX
    return c.single(op, [x], {"axis": axis(int(dim), x.rank)})


# -- dense compute -----------------------------------------------------------------------------
@register("matmul", "mm", "bmm", "__matmul__", "imatmul")
def _matmul(c: Call) -> Any:
    return c.single(
        OpType.MATMUL,
        tensor_infos([c.arg(0, "input"), c.arg(1, "other")]) or tensor_infos(c.args[:2]),
    )


@register("linear")
def _linear(c: Call) -> Any:
    x, w, b = c.arg(0, "input"), c.arg(1, "weight"), c.arg(2, "bias")
    attrs = {"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0}
    return c.single(OpType.GEMM, tensor_infos([x, w, b]), attrs)


@register("addmm")
def _addmm(c: Call) -> Any:
    bias, a, b = c.arg(0, "input"), c.arg(1, "mat1"), c.arg(2, "mat2")
    attrs = {
        "transA": 0,
        "transB": 0,
        "alpha": float(c.arg(4, "alpha", 1.0)),
        "beta": float(c.arg(3, "beta", 1.0)),
    }
    return c.single(OpType.GEMM, tensor_infos([a, b, bias]), attrs)


@register("baddbmm", "addbmm")
def _baddbmm(c: Call) -> Any:
    bias, a, b = c.arg(0, "input"), c.arg(1, "batch1"), c.arg(2, "batch2")
    out = c.result_tensor()
    prod = c.scratch("matmul", tuple(int(d) for d in out.shape), to_dtype(out.dtype))
    c.emit(OpType.MATMUL, tensor_infos([a, b]), [prod], suffix="matmul")
    return c.single(OpType.ADD, tensor_infos([prod, bias]))


@register("einsum")
def _einsum(c: Call) -> Any:
    eq = str(c.arg(0, "equation")).replace(" ", "")
    ops = c.kwargs.get("tensors", c.args[1:])
    return c.single(OpType.EINSUM, tensor_infos(ops), {"equation": eq})


@register("conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d",
          "conv_transpose2d", "conv_transpose3d")  # fmt: skip
def _conv(c: Call) -> Any:
    x, w, b = c.x(), c.tensor_arg(1, "weight"), c.tensor_arg(2, "bias")
    assert w is not None
    if c.key in ("convolution", "_convolution"):
        transposed = bool(c.arg(6, "transposed", False))
        return emit_conv(
            c,
            x,
            w,
            b,
            stride=c.arg(3, "stride", 1),
            padding=c.arg(4, "padding", 0),
            dilation=c.arg(5, "dilation", 1),
            groups=int(c.arg(8, "groups", 1)),
            transposed=transposed,
            output_padding=c.arg(7, "output_padding", 0),
        )
    if c.key.startswith("conv_transpose"):
        return emit_conv(
            c,
            x,
            w,
            b,
            stride=c.arg(3, "stride", 1),
            padding=c.arg(4, "padding", 0),
            output_padding=c.arg(5, "output_padding", 0),
            groups=int(c.arg(6, "groups", 1)),
            dilation=c.arg(7, "dilation", 1),
            transposed=True,
        )
    return emit_conv(
        c,
        x,
        w,
        b,
        stride=c.arg(3, "stride", 1),
        padding=c.arg(4, "padding", 0),
        dilation=c.arg(5, "dilation", 1),
        groups=int(c.arg(6, "groups", 1)),
    )


def attention_node(
    c: Call, q: TensorInfo, k: TensorInfo, v: TensorInfo, mask: Any, is_causal: bool, scale: Any
) -> Any:
    attrs = {
        "num_heads": q.shape[-3] if q.rank >= 4 else 1,
        "is_causal": int(bool(is_causal)),
        "scale": None if scale is None else float(scale),
    }
    return c.single(OpType.ATTENTION, tensor_infos([q, k, v, mask]), attrs)


@register("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
          "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
          "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math")  # fmt: skip
def _sdpa(c: Call) -> Any:
    q, k, v = c.x(), c.arg(1, "key"), c.arg(2, "value")
    mask = c.kwargs.get("attn_mask", c.kwargs.get("attn_bias"))
    if c.key == "scaled_dot_product_attention":
        mask = c.arg(3, "attn_mask")
        causal = c.arg(5, "is_causal", False)
    else:
        causal = c.kwargs.get("is_causal", False)
    return attention_node(c, q, k, v, mask, bool(causal), c.kwargs.get("scale"))


# -- normalization -----------------------------------------------------------------------------
@register("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
          "_native_batch_norm_legit_no_training")  # fmt: skip
def _batch_norm(c: Call) -> Any:
    x = c.x()
    g = c.kwargs.get
    return emit_batch_norm(
        c, x, g("weight"), g("bias"), g("running_mean"), g("running_var"), float(g("eps", 1e-5))
    )


@register("layer_norm", "native_layer_norm")
def _layer_norm(c: Call) -> Any:
    return emit_layer_norm(
        c,
        OpType.LAYER_NORM,
        c.x(),
        c.arg(1, "normalized_shape"),
        c.arg(2, "weight"),
        c.arg(3, "bias"),
        float(c.arg(4, "eps", 1e-5)),
    )


@register("rms_norm")
def _rms_norm(c: Call) -> Any:
    return emit_layer_norm(
        c,
        OpType.RMS_NORM,
        c.x(),
        c.arg(1, "normalized_shape"),
        c.arg(2, "weight"),
        None,
        c.arg(3, "eps"),
    )


@register("group_norm")
def _group_norm(c: Call) -> Any:
    x = c.x()
    ch = (x.shape[1],)
    from estimator.frontends.torch_layers import norm_operand

    scale = norm_operand(c, c.arg(2, "weight"), "scale", ch, x.dtype, True)
    bias = norm_operand(c, c.arg(3, "bias"), "B", ch, x.dtype, True)
    attrs = {"num_groups": int(c.arg(1, "num_groups")), "epsilon": float(c.arg(4, "eps", 1e-5))}
    return c.single(OpType.GROUP_NORM, tensor_infos([x, scale, bias]), attrs)


@register("instance_norm")
def _instance_norm(c: Call) -> Any:
    x = c.x()
    ch = (x.shape[1],)
    from estimator.frontends.torch_layers import norm_operand

    scale = norm_operand(c, c.kwargs.get("weight"), "scale", ch, x.dtype, True)
    bias = norm_operand(c, c.kwargs.get("bias"), "B", ch, x.dtype, True)
    attrs = {"epsilon": float(c.kwargs.get("eps", 1e-5))}
    return c.single(OpType.INSTANCE_NORM, tensor_infos([x, scale, bias]), attrs)


@register("normalize")
def _normalize(c: Call) -> Any:
    x = c.x()
    attrs = {"p": int(c.arg(1, "p", 2)), "axis": axis(int(c.arg(2, "dim", 1)), x.rank)}
    return c.single(OpType.LP_NORM, [x], attrs)


# -- pooling and resampling ---------------------------------------------------------------------
@register("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
          "max_pool2d_with_indices", "max_pool3d_with_indices")  # fmt: skip
def _max_pool(c: Call) -> Any:
    x = c.x()
    return emit_pool(
        c,
        OpType.MAX_POOL,
        x,
        kernel=c.arg(1, "kernel_size"),
        stride=c.arg(2, "stride"),
        padding=c.arg(3, "padding", 0),
        dilation=c.arg(4, "dilation", 1),
        ceil_mode=c.arg(5, "ceil_mode", False),
        count_include_pad=False,
        spatial=spatial_rank(c.key, x.rank - 2),
    )


@register("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(c: Call) -> Any:
    x = c.x()
    return emit_pool(
        c,
        OpType.AVERAGE_POOL,
        x,
        kernel=c.arg(1, "kernel_size"),
        stride=c.arg(2, "stride"),
        padding=c.arg(3, "padding", 0),
        ceil_mode=c.arg(4, "ceil_mode", False),
        count_include_pad=c.arg(5, "count_include_pad", True),
        spatial=spatial_rank(c.key, x.rank - 2),
    )


@register("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
          "_adaptive_avg_pool2d", "_adaptive_avg_pool3d")  # fmt: skip
def _adaptive_avg(c: Call) -> Any:
    x = c.x()
    n = spatial_rank(c.key, x.rank - 2)
    return emit_adaptive_pool(c, OpType.GLOBAL_AVERAGE_POOL, OpType.AVERAGE_POOL, x, n)


@register("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
def _adaptive_max(c: Call) -> Any:
    x = c.x()
    n = spatial_rank(c.key, x.rank - 2)
    return emit_adaptive_pool(c, OpType.GLOBAL_MAX_POOL, OpType.MAX_POOL, x, n)


_RESIZE_MODES = {"nearest": "nearest", "nearest-exact": "nearest", "linear": "linear",
                 "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic",
                 "area": "linear"}  # fmt: skip


@register("interpolate", "upsample", "upsample_nearest1d", "upsample_nearest2d",
          "upsample_nearest3d", "upsample_bilinear2d", "upsample_linear1d",
          "upsample_trilinear3d", "upsample_bicubic2d", "_upsample_nearest_exact2d")  # fmt: skip
def _resize(c: Call) -> Any:
    if c.key in ("interpolate", "upsample"):
        mode = str(c.arg(3, "mode", "nearest"))
    else:
        mode = c.key.removeprefix("_").split("_")[1].rstrip("123d")
    return c.single(OpType.RESIZE, [c.x()], {"mode": _RESIZE_MODES.get(mode, mode)})


@register("pixel_shuffle", "pixel_unshuffle")
def _pixel_shuffle(c: Call) -> Any:
    op = OpType.DEPTH_TO_SPACE if c.key == "pixel_shuffle" else OpType.SPACE_TO_DEPTH
    factor = c.arg(1, "upscale_factor", c.kwargs.get("downscale_factor"))
    return c.single(op, [c.x()], {"blocksize": int(factor), "mode": "CRD"})


# -- reductions --------------------------------------------------------------------------------
def _reduce(op: str, dim_name: str = "dim") -> Handler:
    def h(c: Call) -> Any:
        x = c.x()
        dims = c.arg(1, dim_name)
        if not isinstance(dims, int | list | tuple):
            dims = None
        keep = c.arg(2, "keepdim", False)
        return c.single(op, [x], {"axes": axes(dims, x.rank), "keepdims": int(bool(keep))})

    return h


register("mean")(_reduce(OpType.REDUCE_MEAN))
register("sum")(_reduce(OpType.REDUCE_SUM))
register("amax")(_reduce(OpType.REDUCE_MAX))
register("amin")(_reduce(OpType.REDUCE_MIN))
register("prod")(_reduce(OpType.REDUCE_PROD))
register("logsumexp")(_reduce(OpType.REDUCE_LOG_SUM_EXP))
register("argmax")(_reduce(OpType.ARG_MAX))
register("argmin")(_reduce(OpType.ARG_MIN))


@register("max", "min")
def _max_min(c: Call) -> Any:
    other = c.arg(1, "other")
    if isinstance(other, TensorInfo):
        return _binary(OpType.MAX if c.key == "max" else OpType.MIN)(c)
    op = OpType.REDUCE_MAX if c.key == "max" else OpType.REDUCE_MIN
    return _reduce(op)(c)


@register("norm", "linalg_vector_norm")
def _norm(c: Call) -> Any:
    p = c.arg(1, "p", c.kwargs.get("ord", 2))
    if p not in (1, 2, "fro", None):
        return c.unknown()
    op = OpType.REDUCE_L1 if p == 1 else OpType.REDUCE_L2
    x = c.x()
    attrs = {"axes": axes(c.arg(2, "dim"), x.rank), "keepdims": int(bool(c.arg(3, "keepdim")))}
    return c.single(op, [x], attrs)


@register("cumsum")
def _cumsum(c: Call) -> Any:
    x = c.x()
    return c.single(OpType.CUM_SUM, [x], {"axis": axis(int(c.arg(1, "dim")), x.rank)})


@register("topk")
def _topk(c: Call) -> Any:
    x = c.x()
    attrs = {"k": int(c.arg(1, "k")), "axis": axis(int(c.arg(2, "dim", -1)), x.rank)}
    return c.single(OpType.TOP_K, [x], attrs)


# -- data movement -----------------------------------------------------------------------------
@register("cat", "concat", "concatenate", "stack")
def _cat(c: Call) -> Any:
    tensors = c.arg(0, "tensors")
    out_rank = c.result_tensor().dim()
    attrs: dict[str, Any] = {"axis": axis(int(c.arg(1, "dim", 0)), out_rank)}
    if c.key == "stack":
        attrs["new_axis"] = 1
    return c.single(OpType.CONCAT, tensor_infos(tensors), attrs)


@register("split", "chunk", "split_with_sizes", "tensor_split", "unbind", "unsafe_split",
          "unsafe_chunk")  # fmt: skip
def _split(c: Call) -> Any:
    x = c.x()
    dim_pos = 1 if c.key == "unbind" else 2
    dim = axis(int(c.arg(dim_pos, "dim", 0)), x.rank)
    res = c.ir_result()
    outs = tensor_infos(res)
    sizes = tuple(o.shape[dim] if o.rank == x.rank else 1 for o in outs)
    c.emit(OpType.SPLIT, [x], outs, {"axis": dim, "split": sizes})
    return res


@register("expand", "expand_as", "broadcast_to")
def _expand(c: Call) -> Any:
    return c.single(OpType.EXPAND, [c.x()], {"shape": tuple(c.result_tensor().shape)})


@register("repeat", "tile")
def _tile(c: Call) -> Any:
    return c.single(OpType.TILE, [c.x()])


@register("pad", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d")
@register("replication_pad1d", "replication_pad2d", "replication_pad3d", "circular_pad2d")
def _pad(c: Call) -> Any:
    x = c.x()
    pad = c.arg(1, "pad", c.kwargs.get("padding"))
    if c.key in ("pad", "constant_pad_nd"):
        mode = str(c.arg(2, "mode", "constant")) if c.key == "pad" else "constant"
    else:
        mode = c.key.split("_")[0]
    attrs = {"pads": onnx_pads(pad, x.rank), "mode": PAD_MODES.get(mode, mode)}
    return c.single(OpType.PAD, [x], attrs)


@register("where")
def _where(c: Call) -> Any:
    vals = [c.arg(0, "condition"), c.arg(1, "input", c.kwargs.get("self")), c.arg(2, "other")]
    scal = {f"scalar{i}": v for i, v in enumerate(vals) if isinstance(v, int | float | bool)}
    return c.single(OpType.WHERE, tensor_infos(vals), scal)


@register("masked_fill")
def _masked_fill(c: Call) -> Any:
    x, mask, value = c.x(), c.arg(1, "mask"), c.arg(2, "value")
    attrs = {"value": value} if not isinstance(value, TensorInfo) else {}
    return c.single(OpType.WHERE, tensor_infos([mask, x, value]), attrs)


@register("embedding")
def _embedding(c: Call) -> Any:
    a0, a1 = c.arg(0, "input"), c.arg(1, "weight")
    if "indices" in c.kwargs or (
        isinstance(a0, TensorInfo)
        and a0.is_const
        and not (isinstance(a1, TensorInfo) and a1.is_const)
    ):
        weight, idx = c.kwargs.get("weight", a0), c.kwargs.get("indices", a1)  # aten order
    else:
        weight, idx = a1, a0  # F.embedding(input, weight)
    return c.single(OpType.GATHER, tensor_infos([weight, idx]), {"axis": 0})


@register("index_select")
def _index_select(c: Call) -> Any:
    x = c.x()
    return c.single(
        OpType.GATHER,
        tensor_infos([x, c.arg(2, "index")]),
        {"axis": axis(int(c.arg(1, "dim")), x.rank)},
    )


@register("gather")
def _gather(c: Call) -> Any:
    x = c.x()
    return c.single(
        OpType.GATHER_ELEMENTS,
        tensor_infos([x, c.arg(2, "index")]),
        {"axis": axis(int(c.arg(1, "dim")), x.rank)},
    )


@register("scatter", "scatter_add", "scatter_reduce")
def _scatter(c: Call) -> Any:
    x = c.x()
    ins = tensor_infos([x, c.arg(2, "index"), c.arg(3, "src", c.kwargs.get("value"))])
    return c.single(OpType.SCATTER_ELEMENTS, ins, {"axis": axis(int(c.arg(1, "dim")), x.rank)})


@register("index_put")
def _index_put(c: Call) -> Any:
    return c.single(OpType.SCATTER_ND, tensor_infos((c.args, c.kwargs)))


@register("index")
def _aten_index(c: Call) -> Any:
    x, idx = c.x(), c.arg(1, "indices")
    present = [(d, t) for d, t in enumerate(idx) if isinstance(t, TensorInfo)]
    if len(present) == 1:
        return c.single(OpType.GATHER, [x, present[0][1]], {"axis": present[0][0]})
    return c.single(OpType.GATHER_ND, [x, *[t for _, t in present]])


# -- views and layout ----------------------------------------------------------------------------
@register("view", "reshape", "_unsafe_view", "view_as", "reshape_as", "unflatten", "ravel")
def _reshape(c: Call) -> Any:
    return c.single(OpType.RESHAPE, [c.x()], {"shape": tuple(c.result_tensor().shape)})


@register("flatten")
def _flatten(c: Call) -> Any:
    x = c.x()
    out = tuple(c.result_tensor().shape)
    start = axis(int(c.arg(1, "start_dim", 0)), x.rank) if x.rank else 0
    end = axis(int(c.arg(2, "end_dim", -1)), x.rank) if x.rank else 0
    if len(out) == 2 and end == x.rank - 1 and start in (0, 1):
        return c.single(OpType.FLATTEN, [x], {"axis": start})
    return c.single(OpType.RESHAPE, [x], {"shape": out})


@register("squeeze")
def _squeeze(c: Call) -> Any:
    x = c.x()
    dims = c.arg(1, "dim")
    if dims is None:
        dims = [i for i, d in enumerate(x.shape) if d == 1]
    ax = tuple(a for a in axes(dims, x.rank) if x.shape[a] == 1)
    return c.single(OpType.SQUEEZE, [x], {"axes": ax})


@register("unsqueeze")
def _unsqueeze(c: Call) -> Any:
    x = c.x()
    return c.single(OpType.UNSQUEEZE, [x], {"axes": (axis(int(c.arg(1, "dim")), x.rank + 1),)})


def _transpose_node(c: Call, perm: tuple[int, ...]) -> Any:
    return c.single(OpType.TRANSPOSE, [c.x()], {"perm": perm})


@register("permute")
def _permute(c: Call) -> Any:
    x = c.x()
    dims = c.kwargs.get("dims", c.args[1:])
    if len(dims) == 1 and isinstance(dims[0], list | tuple):
        dims = dims[0]
    return _transpose_node(c, tuple(axis(int(d), x.rank) for d in dims))


@register("transpose", "swapaxes", "swapdims")
def _transpose(c: Call) -> Any:
    x = c.x()
    d0, d1 = axis(int(c.arg(1, "dim0")), x.rank), axis(int(c.arg(2, "dim1")), x.rank)
    perm = list(range(x.rank))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _transpose_node(c, tuple(perm))


@register("t", "numpy_T")
def _t(c: Call) -> Any:
    x = c.x()
    if x.rank < 2:
        return x
    return _transpose_node(c, tuple(reversed(range(x.rank))))


@register("movedim", "moveaxis")
def _movedim(c: Call) -> Any:
    x = c.x()
    src, dst = c.arg(1, "source"), c.arg(2, "destination")
    src = [src] if isinstance(src, int) else list(src)
    dst = [dst] if isinstance(dst, int) else list(dst)
    src = [axis(s, x.rank) for s in src]
    dst = [axis(d, x.rank) for d in dst]
    rest = iter(i for i in range(x.rank) if i not in src)
    perm = [0] * x.rank
    placed = dict(zip(dst, src, strict=True))
    for i in range(x.rank):
        perm[i] = placed[i] if i in placed else next(rest)
    return _transpose_node(c, tuple(perm))


@register("getattr")
def _getattr(c: Call) -> Any:
    x, name = c.arg(0, "input"), c.args[1]
    if name in ("T", "mT") and isinstance(x, TensorInfo):
        perm = list(range(x.rank))
        if name == "T":
            perm.reverse()
        elif x.rank >= 2:
            perm[-1], perm[-2] = perm[-2], perm[-1]
        return _transpose_node(c, tuple(perm))
    if name in ("data", "real") and isinstance(x, TensorInfo):
        return x
    return c.unknown()


@register("select")
def _select(c: Call) -> Any:
    x = c.x()
    d = axis(int(c.arg(1, "dim")), x.rank)
    i = int(c.arg(2, "index"))
    i = i + x.shape[d] if i < 0 else i
    attrs = {"starts": (i,), "ends": (i + 1,), "axes": (d,), "steps": (1,), "squeeze_axes": (d,)}
    return c.single(OpType.SLICE, [x], attrs)


@register("slice", "narrow")
def _slice(c: Call) -> Any:
    x = c.x()
    d = axis(int(c.arg(1, "dim", 0)), x.rank)
    if c.key == "narrow":
        start = int(c.arg(2, "start"))
        sl = slice(start, start + int(c.arg(3, "length")), 1)
    else:
        sl = slice(c.arg(2, "start"), c.arg(3, "end"), c.arg(4, "step", 1))
    start, stop, step = sl.indices(x.shape[d])
    if (start, stop, step) == (0, x.shape[d], 1):
        return x
    attrs = {"starts": (start,), "ends": (stop,), "axes": (d,), "steps": (step,)}
    return c.single(OpType.SLICE, [x], attrs)


@register("getitem")
def _getitem(c: Call) -> Any:
    src, idx = c.args[0], c.args[1]
    if not isinstance(src, TensorInfo):
        return src[idx]  # an element of a tuple/list output: alias, no node
    return _tensor_index(c, src, idx)


def _add_slice(
    starts: list[int],
    ends: list[int],
    axs: list[int],
    steps: list[int],
    bounds: tuple[int, int, int],
    dim: int,
) -> None:
    starts.append(bounds[0])
    ends.append(bounds[1])
    steps.append(bounds[2])
    axs.append(dim)


def _tensor_index(c: Call, x: TensorInfo, idx: Any) -> Any:
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
    d = 0
    starts: list[int] = []
    ends: list[int] = []
    axs: list[int] = []
    steps: list[int] = []
    gathers: list[tuple[int, TensorInfo]] = []
    squeezed: list[int] = []
    for item in idx:
        if item is None:
            continue
        if item is Ellipsis:
            d += x.rank - n_real
            continue
        if isinstance(item, TensorInfo):
            gathers.append((d, item))
        elif isinstance(item, int):
            i = item + x.shape[d] if item < 0 else item
            _add_slice(starts, ends, axs, steps, (i, i + 1, 1), d)
            squeezed.append(d)
        elif isinstance(item, slice):
            s, e, st = item.indices(x.shape[d])
            if (s, e, st) != (0, x.shape[d], 1):
                _add_slice(starts, ends, axs, steps, (s, e, st), d)
        else:
            return c.unknown()
        d += 1
    if gathers:
        if len(gathers) == 1 and not axs:
            return c.single(OpType.GATHER, [x, gathers[0][1]], {"axis": gathers[0][0]})
        return c.single(OpType.GATHER_ND, [x, *[t for _, t in gathers]])
    if not axs:
        out_shape = tuple(c.result_tensor().shape)
        if out_shape == x.shape:
            return x
        return c.single(OpType.RESHAPE, [x], {"shape": out_shape})
    attrs = {
        "starts": tuple(starts),
        "ends": tuple(ends),
        "axes": tuple(axs),
        "steps": tuple(steps),
        "squeeze_axes": tuple(squeezed),
    }
    return c.single(OpType.SLICE, [x], attrs)


# -- dtype casts -------------------------------------------------------------------------------
@register("to", "type", "float", "half", "double", "int", "long", "bool", "bfloat16", "short",
          "char", "byte", "type_as", "_to_copy", "to_copy")  # fmt: skip
def _cast(c: Call) -> Any:
    x = c.x()
    out = c.result_tensor()
    if not isinstance(out, object) or to_dtype(out.dtype) == x.dtype:
        return x
    return c.single(OpType.CAST, [x], {"to": to_dtype(out.dtype).value})
