"""Mappers for call_module nodes: the torch.nn layers the tracer keeps as leaves.

Keeping these layers whole (instead of tracing into them) gives the IR the module path as
``Node.source`` and lets composite layers expand into the exact IR the cost model expects:
``nn.MultiheadAttention`` becomes projections + views + one ``Attention`` node, and recurrent
layers become one ``LSTM``/``GRU``/``RNN`` node per layer with ONNX-layout weights.

Recurrent nodes output ``Y`` as torch lays it out, ``[seq, batch, dirs * H]`` (ONNX would use
``[seq, dirs, batch, H]``: same size), so the next layer reads it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from estimator.frontends.torch_build import Call, tensor_infos
from estimator.frontends.torch_functions import FUNCTIONS
from estimator.frontends.torch_functions import register as register_function
from estimator.frontends.torch_layers import (
    emit_adaptive_pool,
    emit_batch_norm,
    emit_conv,
    emit_layer_norm,
    emit_pool,
    norm_operand,
    spatial_rank,
)
from estimator.ir import DType, OpType, TensorInfo

ModuleHandler = Callable[[Call, Any], Any]
MODULES: dict[type[nn.Module], ModuleHandler] = {}


def register(*types: type[nn.Module]) -> Callable[[ModuleHandler], ModuleHandler]:
    def deco(fn: ModuleHandler) -> ModuleHandler:
        for t in types:
            MODULES[t] = fn
        return fn

    return deco


def handler_for(module: nn.Module) -> ModuleHandler | None:
    for cls in type(module).__mro__:
        if cls in MODULES:
            return MODULES[cls]
    return None


def _param(c: Call, m: nn.Module, attr: str) -> TensorInfo | None:
    """The const TensorInfo of ``m.<attr>``, registered by the interpreter under its state key."""
    t: Any = m
    for part in attr.split("."):
        t = getattr(t, part, None)
    if t is None:
        return None
    return c.builder.param(t, f"{c.source}.{attr}")


def _weight(c: Call, m: Any) -> TensorInfo:
    w = _param(c, m, "weight")
    assert w is not None
    return w


def _x(c: Call) -> TensorInfo:
    v = c.args[0] if c.args else next(iter(tensor_infos(c.kwargs)))
    assert isinstance(v, TensorInfo)
    return v


@register(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(c: Call, m: Any) -> Any:
    return emit_conv(
        c,
        _x(c),
        _weight(c, m),
        _param(c, m, "bias"),
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        groups=m.groups,
        padding_mode=m.padding_mode,
    )


@register(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_t(c: Call, m: Any) -> Any:
    return emit_conv(
        c,
        _x(c),
        _weight(c, m),
        _param(c, m, "bias"),
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        groups=m.groups,
        transposed=True,
        output_padding=m.output_padding,
    )


@register(nn.Linear)
def _linear(c: Call, m: Any) -> Any:
    ins = tensor_infos([_x(c), _param(c, m, "weight"), _param(c, m, "bias")])
    return c.single(OpType.GEMM, ins, {"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0})


@register(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
def _bn(c: Call, m: Any) -> Any:
    return emit_batch_norm(
        c,
        _x(c),
        _param(c, m, "weight"),
        _param(c, m, "bias"),
        _param(c, m, "running_mean"),
        _param(c, m, "running_var"),
        m.eps,
    )


@register(nn.LayerNorm)
def _ln(c: Call, m: Any) -> Any:
    return emit_layer_norm(
        c,
        OpType.LAYER_NORM,
        _x(c),
        m.normalized_shape,
        _param(c, m, "weight"),
        _param(c, m, "bias"),
        m.eps,
    )


@register(nn.RMSNorm)
def _rms(c: Call, m: Any) -> Any:
    return emit_layer_norm(
        c, OpType.RMS_NORM, _x(c), m.normalized_shape, _param(c, m, "weight"), None, m.eps
    )


@register(nn.GroupNorm)
def _gn(c: Call, m: Any) -> Any:
    x = _x(c)
    ch = (m.num_channels,)
    scale = norm_operand(c, _param(c, m, "weight"), "scale", ch, x.dtype, True)
    bias = norm_operand(c, _param(c, m, "bias"), "B", ch, x.dtype, True)
    attrs = {"num_groups": int(m.num_groups), "epsilon": float(m.eps)}
    return c.single(OpType.GROUP_NORM, tensor_infos([x, scale, bias]), attrs)


@register(nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
def _in(c: Call, m: Any) -> Any:
    x = _x(c)
    ch = (x.shape[1],) if x.rank > 2 else (x.shape[0],)
    scale = norm_operand(c, _param(c, m, "weight"), "scale", ch, x.dtype, True)
    bias = norm_operand(c, _param(c, m, "bias"), "B", ch, x.dtype, True)
    return c.single(OpType.INSTANCE_NORM, tensor_infos([x, scale, bias]), {"epsilon": m.eps})


def _simple(op: str, attrs: Callable[[Any], dict[str, Any]] = lambda m: {}) -> ModuleHandler:
    def h(c: Call, m: Any) -> Any:
        return c.single(op, [_x(c)], attrs(m))

    return h


register(nn.ReLU)(_simple(OpType.RELU))
register(nn.ReLU6)(_simple(OpType.CLIP, lambda m: {"min": 0.0, "max": 6.0}))
register(nn.Hardtanh)(_simple(OpType.CLIP, lambda m: {"min": m.min_val, "max": m.max_val}))
register(nn.GELU)(_simple(OpType.GELU, lambda m: {"approximate": m.approximate}))
register(nn.SiLU)(_simple(OpType.SILU))
register(nn.Hardswish)(_simple(OpType.HARD_SWISH))
register(nn.Hardsigmoid)(_simple(OpType.HARD_SIGMOID, lambda m: {"alpha": 1 / 6, "beta": 0.5}))
register(nn.Sigmoid)(_simple(OpType.SIGMOID))
register(nn.Tanh)(_simple(OpType.TANH))
register(nn.LeakyReLU)(_simple(OpType.LEAKY_RELU, lambda m: {"alpha": m.negative_slope}))
register(nn.ELU)(_simple(OpType.ELU, lambda m: {"alpha": m.alpha}))
register(nn.CELU)(_simple(OpType.CELU, lambda m: {"alpha": m.alpha}))
register(nn.SELU)(_simple(OpType.SELU))
register(nn.Mish)(_simple(OpType.MISH))
register(nn.Softsign)(_simple(OpType.SOFTSIGN))
register(nn.Softplus)(
    _simple(OpType.SOFTPLUS, lambda m: {"beta": m.beta, "threshold": m.threshold})
)
register(nn.Flatten)(lambda c, m: FUNCTIONS["flatten"](_as_call(c, m.start_dim, m.end_dim)))
register(nn.Unflatten)(lambda c, m: FUNCTIONS["view"](c))
register(nn.PixelShuffle)(
    _simple(OpType.DEPTH_TO_SPACE, lambda m: {"blocksize": m.upscale_factor, "mode": "CRD"})
)


@register(nn.PReLU)
def _prelu(c: Call, m: Any) -> Any:
    return c.single(OpType.PRELU, tensor_infos([_x(c), _param(c, m, "weight")]))


@register(nn.Softmax, nn.LogSoftmax)
def _softmax(c: Call, m: Any) -> Any:
    x = _x(c)
    dim = m.dim if m.dim is not None else (0 if x.rank in (0, 1, 3) else 1)
    op = OpType.SOFTMAX if isinstance(m, nn.Softmax) else OpType.LOG_SOFTMAX
    return c.single(op, [x], {"axis": dim + x.rank if dim < 0 else dim})


@register(nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)
def _alias(c: Call, m: Any) -> Any:
    return _x(c)


@register(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def _maxpool(c: Call, m: Any) -> Any:
    x = _x(c)
    return emit_pool(
        c,
        OpType.MAX_POOL,
        x,
        kernel=m.kernel_size,
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        ceil_mode=m.ceil_mode,
        count_include_pad=False,
        spatial=spatial_rank(type(m).__name__, 2),
    )


@register(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def _avgpool(c: Call, m: Any) -> Any:
    x = _x(c)
    return emit_pool(
        c,
        OpType.AVERAGE_POOL,
        x,
        kernel=m.kernel_size,
        stride=m.stride,
        padding=m.padding,
        ceil_mode=m.ceil_mode,
        count_include_pad=m.count_include_pad,
        spatial=spatial_rank(type(m).__name__, 2),
    )


@register(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
def _adaptive_avg(c: Call, m: Any) -> Any:
    x = _x(c)
    n = spatial_rank(type(m).__name__, 2)
    return emit_adaptive_pool(c, OpType.GLOBAL_AVERAGE_POOL, OpType.AVERAGE_POOL, x, n)


@register(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def _adaptive_max(c: Call, m: Any) -> Any:
    x = _x(c)
    n = spatial_rank(type(m).__name__, 2)
    return emit_adaptive_pool(c, OpType.GLOBAL_MAX_POOL, OpType.MAX_POOL, x, n)


@register(nn.Upsample)
def _upsample(c: Call, m: Any) -> Any:
    modes = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}
    return c.single(OpType.RESIZE, [_x(c)], {"mode": modes.get(m.mode, m.mode)})


@register(nn.Embedding)
def _embedding(c: Call, m: Any) -> Any:
    return c.single(OpType.GATHER, tensor_infos([_param(c, m, "weight"), _x(c)]), {"axis": 0})


def _as_call(c: Call, *extra: Any) -> Call:
    """The module call seen as the functional call ``f(x, *extra)``."""
    return Call(
        c.builder,
        c.node,
        c.key,
        (_x(c), *extra),
        {},
        c.result,
        c.source,
        c.source_op,
        c.native_op,
        c.module,
    )


# -- MultiheadAttention --------------------------------------------------------------------------
@register(nn.MultiheadAttention)
def _mha(c: Call, m: Any) -> Any:
    names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
             "average_attn_weights", "is_causal")  # fmt: skip
    a = {n: (c.args[i] if i < len(c.args) else c.kwargs.get(n)) for i, n in enumerate(names)}
    q_in, k_in, v_in = a["query"], a["key"], a["value"]
    if m.bias_k is not None or m.add_zero_attn or not isinstance(q_in, TensorInfo):
        return c.unknown()
    assert isinstance(k_in, TensorInfo) and isinstance(v_in, TensorInfo)
    e, h = m.embed_dim, m.num_heads
    dh = e // h
    dt = q_in.dtype
    batched = q_in.rank == 3
    bf = m.batch_first or not batched
    if not batched:  # [L, E] -> one batch of batch_first layout
        q_in, k_in, v_in = (_view(c, t, (1, *t.shape), f"unsq_{n}") for t, n in
                            ((q_in, "q"), (k_in, "k"), (v_in, "v")))  # fmt: skip

    def seq_batch(t: TensorInfo) -> tuple[int, int]:
        return (t.shape[1], t.shape[0]) if bf else (t.shape[0], t.shape[1])

    (lq, n), (lk, _) = seq_batch(q_in), seq_batch(k_in)
    w_raw, b_raw = m.in_proj_weight, m.in_proj_bias
    gemm = {"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0}
    projected: list[TensorInfo] = []
    if q_in is k_in is v_in and w_raw is not None:
        w_in, b_in = _param(c, m, "in_proj_weight"), _param(c, m, "in_proj_bias")
        qkv = c.scratch("in_proj", (*q_in.shape[:-1], 3 * e), dt)
        c.emit(OpType.GEMM, tensor_infos([q_in, w_in, b_in]), [qkv], gemm, suffix="in_proj")
        projected = [c.scratch(s, (*q_in.shape[:-1], e), dt) for s in ("q", "k", "v")]
        c.emit(
            OpType.SPLIT,
            [qkv],
            projected,
            {"axis": qkv.rank - 1, "split": (e, e, e)},
            suffix="split_qkv",
        )
    else:
        for i, (t, s) in enumerate(((q_in, "q"), (k_in, "k"), (v_in, "v"))):
            fb = f"{c.source}.in_proj"
            w: TensorInfo | None
            if w_raw is not None:
                w = c.builder.param_slice(w_raw, i, 3, fb + "_weight")
            else:
                w = _param(c, m, f"{s}_proj_weight")
            b = c.builder.param_slice(b_raw, i, 3, fb + "_bias") if b_raw is not None else None
            out = c.scratch(f"{s}_proj", (*t.shape[:-1], e), dt)
            c.emit(OpType.GEMM, tensor_infos([t, w, b]), [out], gemm, suffix=f"{s}_proj")
            projected.append(out)
    heads = []
    for t, s, length in zip(projected, ("q", "k", "v"), (lq, lk, lk), strict=True):
        split = _view(c, t, (*t.shape[:-1], h, dh), f"{s}_heads")
        perm = (0, 2, 1, 3) if bf else (1, 2, 0, 3)
        ht = c.scratch(f"{s}_bhld", (n, h, length, dh), dt)
        c.emit(OpType.TRANSPOSE, [split], [ht], {"perm": perm}, suffix=f"{s}_transpose")
        heads.append(ht)
    mask = a["attn_mask"] if isinstance(a["attn_mask"], TensorInfo) else a["key_padding_mask"]
    attn = c.scratch("attn", (n, h, lq, dh), dt)
    outs = [attn]
    weights_result = c.result[1] if isinstance(c.result, tuple) else None
    probs = None
    if weights_result is not None:
        probs = c.scratch("attn_weights", (n, h, lq, lk), dt)
        outs.append(probs)
    attrs = {"num_heads": h, "is_causal": int(bool(a["is_causal"])), "scale": None}
    c.emit(OpType.ATTENTION, tensor_infos([*heads, mask]), outs, attrs, suffix="attention")
    perm = (0, 2, 1, 3) if bf else (2, 0, 1, 3)
    merged_shape = (n, lq, h, dh) if bf else (lq, n, h, dh)
    merged = c.scratch("merge_heads", merged_shape, dt)
    c.emit(OpType.TRANSPOSE, [attn], [merged], {"perm": perm}, suffix="merge_transpose")
    flat = _view(c, merged, (*merged_shape[:2], e), "merge")
    out = c.out(0)
    ins = tensor_infos([flat, _param(c, m, "out_proj.weight"), _param(c, m, "out_proj.bias")])
    if not batched:
        proj = c.scratch("out_proj", flat.shape, dt)
        c.emit(OpType.GEMM, ins, [proj], gemm, suffix="out_proj")
        c.emit(OpType.RESHAPE, [proj], [out], {"shape": out.shape}, suffix="squeeze")
    else:
        c.emit(OpType.GEMM, ins, [out], gemm, suffix="out_proj")
    w_out: TensorInfo | None = None
    if probs is not None:
        w_out = c.out(1)
        if w_out.shape != probs.shape:
            red = {"axes": (1,), "keepdims": 0}
            c.emit(OpType.REDUCE_MEAN, [probs], [w_out], red, suffix="average_weights")
        else:
            w_out = probs
    return (out, w_out)


def _view(c: Call, t: TensorInfo, shape: tuple[int, ...], suffix: str) -> TensorInfo:
    out = c.scratch(suffix, shape, t.dtype)
    c.emit(OpType.RESHAPE, [t], [out], {"shape": shape}, suffix=suffix)
    return out


# -- recurrent layers ----------------------------------------------------------------------------
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


@register(nn.LSTM, nn.GRU, nn.RNN)
def _rnn(c: Call, m: Any) -> Any:
    kind = type(m).__name__ if type(m).__name__ in _GATES else m.mode.split("_")[0]
    if getattr(m, "proj_size", 0) or not isinstance(c.args[0], TensorInfo):
        return c.unknown()
    hx = c.args[1] if len(c.args) > 1 else c.kwargs.get("hx")
    h0, c0 = hx if isinstance(hx, tuple) else (hx, None)
    gates, hid, dirs = _GATES[kind], m.hidden_size, 2 if m.bidirectional else 1

    def weights(layer: int, in_size: int) -> list[TensorInfo]:
        sfx = [f"_l{layer}", f"_l{layer}_reverse"][:dirs]

        def params(*bases: str) -> list[Any]:
            return [getattr(m, f"{b}{s}") for s in sfx for b in bases]

        join = c.builder.param_join
        out = [
            join(params("weight_ih"), c.source, (dirs, gates * hid, in_size)),
            join(params("weight_hh"), c.source, (dirs, gates * hid, hid)),
        ]
        if m.bias:
            out.append(join(params("bias_ih", "bias_hh"), c.source, (dirs, 2 * gates * hid)))
        return out

    result = c.ir_result()
    states = result[1] if isinstance(result[1], tuple) else (result[1],)
    emit_rnn(c, kind, c.args[0], h0, c0, m.num_layers, dirs, hid, m.batch_first,
             getattr(m, "nonlinearity", "tanh"), weights, result[0], list(states))  # fmt: skip
    return result


def emit_rnn(
    c: Call,
    kind: str,
    x: TensorInfo,
    h0: Any,
    c0: Any,
    num_layers: int,
    dirs: int,
    hid: int,
    batch_first: bool,
    nonlinearity: str,
    weights: Callable[[int, int], list[TensorInfo]],
    out_y: TensorInfo,
    final_states: list[TensorInfo],
) -> None:
    """One ONNX-style node per layer, plus the layout glue torch's fused kernel hides."""
    dt = x.dtype
    unbatched = x.rank == 2
    if unbatched:
        x = _view(c, x, (x.shape[0], 1, x.shape[1]), "unsqueeze")
    elif batch_first:
        xt = c.scratch("x_seq_first", (x.shape[1], x.shape[0], x.shape[2]), dt)
        c.emit(OpType.TRANSPOSE, [x], [xt], {"perm": (1, 0, 2)}, suffix="to_seq_first")
        x = xt
    seq, batch = x.shape[0], x.shape[1]
    h_states = _split_states(c, h0, num_layers, "h0")
    c_states = _split_states(c, c0, num_layers, "c0")
    y_h: list[TensorInfo] = []
    y_c: list[TensorInfo] = []
    attrs: dict[str, Any] = {
        "hidden_size": hid,
        "layout": 0,
        "direction": "bidirectional" if dirs == 2 else "forward",
    }
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ("Relu",) if nonlinearity == "relu" else ("Tanh",)
    for layer in range(num_layers):
        ins = [x, *weights(layer, x.shape[2])]
        ins += tensor_infos([h_states[layer], c_states[layer]])
        y = c.scratch(f"Y_l{layer}", (seq, batch, dirs * hid), dt)
        outs = [y, c.scratch(f"Y_h_l{layer}", (dirs, batch, hid), dt)]
        if kind == "LSTM":
            outs.append(c.scratch(f"Y_c_l{layer}", (dirs, batch, hid), dt))
        c.emit(kind, ins, outs, attrs, suffix=f"layer{layer}")
        x = y
        y_h.append(outs[1])
        if kind == "LSTM":
            y_c.append(outs[2])
    if unbatched:
        c.emit(OpType.RESHAPE, [x], [out_y], {"shape": out_y.shape}, suffix="squeeze")
    elif batch_first:
        c.emit(OpType.TRANSPOSE, [x], [out_y], {"perm": (1, 0, 2)}, suffix="to_batch_first")
    else:
        c.emit(OpType.IDENTITY, [x], [out_y], suffix="output")
    for per_layer, final, s in zip((y_h, y_c), final_states, ("h_n", "c_n"), strict=False):
        if len(per_layer) == 1 and per_layer[0].shape == final.shape:
            c.emit(OpType.IDENTITY, per_layer, [final], suffix=s)
        elif len(per_layer) == 1:
            c.emit(OpType.RESHAPE, per_layer, [final], {"shape": final.shape}, suffix=s)
        else:
            c.emit(OpType.CONCAT, per_layer, [final], {"axis": 0}, suffix=s)


@register_function("lstm", "gru", "rnn_tanh", "rnn_relu")
def _aten_rnn(c: Call) -> Any:
    """ATen's fused recurrent op (torch.export path): flat params per layer and direction."""
    if c.kwargs.get("params") is None or not isinstance(c.kwargs.get("input"), TensorInfo):
        return c.unknown()
    kind = {"lstm": "LSTM", "gru": "GRU"}.get(c.key, "RNN")
    x: TensorInfo = c.kwargs["input"]
    params: list[TensorInfo] = list(c.kwargs["params"])
    has_bias = bool(c.kwargs.get("has_biases", True))
    layers, dirs = int(c.kwargs["num_layers"]), 2 if c.kwargs.get("bidirectional") else 1
    per = 4 if has_bias else 2
    hid = params[1].shape[1]
    gates = _GATES[kind]
    if len(params) != layers * dirs * per:
        return c.unknown()
    hx = c.kwargs.get("hx")
    h0, c0 = (hx[0], hx[1]) if isinstance(hx, list | tuple) else (hx, None)

    def weights(layer: int, in_size: int) -> list[TensorInfo]:
        group = params[layer * dirs * per : (layer + 1) * dirs * per]
        pick = [[group[d * per + i] for d in range(dirs)] for i in range(per)]
        join = c.builder.join_consts
        out = [
            join(pick[0], (dirs, gates * hid, in_size)),
            join(pick[1], (dirs, gates * hid, hid)),
        ]
        if has_bias:
            both = [t for d in range(dirs) for t in (pick[2][d], pick[3][d])]
            out.append(join(both, (dirs, 2 * gates * hid)))
        return out

    result = c.ir_result()
    nonlin = "relu" if c.key == "rnn_relu" else "tanh"
    emit_rnn(c, kind, x, h0, c0, layers, dirs, hid, bool(c.kwargs.get("batch_first")), nonlin,
             weights, result[0], list(result[1:]))  # fmt: skip
    return result


def _split_states(c: Call, t: Any, layers: int, hint: str) -> list[TensorInfo | None]:
    """Initial states ``[layers * dirs, batch, H]`` -> one slice per layer (Split)."""
    if not isinstance(t, TensorInfo):
        return [None] * layers
    if layers == 1:
        return [t]
    per = t.shape[0] // layers
    outs: list[TensorInfo | None] = [
        c.scratch(f"{hint}_l{i}", (per, *t.shape[1:]), t.dtype) for i in range(layers)
    ]
    c.emit(
        OpType.SPLIT,
        [t],
        tensor_infos(outs),
        {"axis": 0, "split": (per,) * layers},
        suffix=f"split_{hint}",
    )
    return outs


__all__ = ["MODULES", "DType", "handler_for"]
