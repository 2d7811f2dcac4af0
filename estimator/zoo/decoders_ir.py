"""Decoder-only transformers (GPT-2 and Llama families) as the IR, built without torch.

An LLM is estimated per stage: *prefill* runs ``seq_len`` new tokens through the model at once,
*decode* runs one token against a KV cache of ``kv_len`` earlier tokens. Tracing a 7B model is slow
and needs its weights' shapes in memory, so this builder writes the IR directly; tensor names are
the module paths of :func:`estimator.zoo.decoders.decoder_module` (``layers.3.self_attn.q_proj``)
so both paths name the same parameters, and tied embeddings share one tensor name, which the
analysis counts once.

Graph layout per layer (HF Llama / GPT-2 order): norm, q/k/v ``Gemm`` (transB=1 on 3-D inputs),
``Reshape`` + ``Transpose`` to heads, rotary (``Split``, ``Neg``, ``Concat`` for rotate-half, then
``Mul``, ``Mul``, ``Add``) when the config has no learned positions, ``Concat`` of the cached K/V
(graph inputs ``past_key.<i>``/``past_value.<i>``, outputs ``present_key.<i>``...) when
``kv_len > 0``, ``Attention`` (K/V keep ``kv_heads`` heads), back to ``[B, L, hidden]``, output
projection, residual ``Add``, norm, MLP (``Gelu`` tanh, or ``Silu`` * up for SwiGLU), residual
``Add``. Then the final norm and the LM head over every new position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from estimator.errors import InputError
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo

FfnType = Literal["gelu", "swiglu", "geglu"]
NormType = Literal["layernorm", "rmsnorm"]
Mode = Literal["prefill", "decode"]


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    """Shape of a decoder-only transformer.

    ``max_positions`` set: learned absolute position embeddings (GPT-2); ``None``: rotary
    embeddings (Llama). ``bias`` puts biases on every projection (GPT-2 does, Llama does not).

    The fields after ``name`` cover the other Hugging Face families (estimator.llm.config reads
    them from a ``config.json``): ``attn_head_dim`` a head size that is not ``hidden / heads``
    (Gemma), ``qkv_bias`` biases on the q/k/v projections only (Qwen2; None: as ``bias``),
    ``head_bias`` a bias on the LM head (Phi-2), ``experts`` / ``experts_per_token`` a
    mixture-of-experts MLP (Mixtral; 0: dense), ``parallel_block`` attention and MLP reading
    the same norm (Phi-2), ``rotary_dim`` partial rotary embeddings (Phi-2; None: the whole
    head), ``embed_scale`` the sqrt(hidden) embedding multiplier (Gemma), ``sliding_window``
    the attention window (Mistral; Qwen2 with ``use_sliding_window``): a query attends to the
    last ``sliding_window`` positions, itself included, in every layer from
    ``full_attention_layers`` on (Qwen2's ``max_window_layers``: the layers before it attend to
    every position). :func:`decoder_graph` applies the window only when asked
    (``attention_window=True``: the runtime's attention honours it).
    """

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    ffn_type: FfnType = "gelu"
    vocab: int = 50257
    norm: NormType = "layernorm"
    tie_embeddings: bool = True
    max_positions: int | None = 1024
    bias: bool = True
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    name: str = "decoder"
    attn_head_dim: int | None = None
    qkv_bias: bool | None = None
    head_bias: bool = False
    experts: int = 0
    experts_per_token: int = 0
    parallel_block: bool = False
    rotary_dim: int | None = None
    embed_scale: bool = False
    sliding_window: int | None = None
    full_attention_layers: int = 0

    def __post_init__(self) -> None:
        for field in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab"):
            value = getattr(self, field)
            if not _positive(value):
                raise InputError(f"DecoderConfig.{field} must be a positive integer, got {value!r}")
        for field in ("attn_head_dim", "rotary_dim", "sliding_window"):
            value = getattr(self, field)
            if value is not None and not _positive(value):
                raise InputError(
                    f"DecoderConfig.{field} must be a positive integer or None, got {value!r}"
                )
        if self.attn_head_dim is None and self.hidden % self.heads:
            raise InputError(
                f"DecoderConfig.hidden ({self.hidden}) is not divisible by heads ({self.heads})"
            )
        if self.heads % self.kv_heads:
            raise InputError(
                f"DecoderConfig.heads ({self.heads}) is not divisible by kv_heads ({self.kv_heads})"
            )
        if self.ffn_type not in ("gelu", "swiglu", "geglu"):
            raise InputError(
                f"DecoderConfig.ffn_type must be gelu, swiglu or geglu, got {self.ffn_type!r}"
            )
        if self.norm not in ("layernorm", "rmsnorm"):
            raise InputError(f"DecoderConfig.norm must be layernorm or rmsnorm, got {self.norm!r}")
        if self.max_positions is not None and self.max_positions < 1:
            raise InputError(
                f"DecoderConfig.max_positions must be positive or None, got {self.max_positions}"
            )
        fal = self.full_attention_layers
        if not isinstance(fal, int) or isinstance(fal, bool) or fal < 0:
            raise InputError(
                f"DecoderConfig.full_attention_layers must be an integer >= 0, got {fal!r}"
            )
        if self.experts < 0 or self.experts_per_token < 0:
            raise InputError("DecoderConfig.experts and experts_per_token must be >= 0")
        if self.experts and not 1 <= self.experts_per_token <= self.experts:
            raise InputError(
                f"DecoderConfig.experts_per_token must be in 1..experts ({self.experts}), "
                f"got {self.experts_per_token}"
            )
        if self.rotary_dim is not None and self.rotary_dim > self.head_dim:
            raise InputError(
                f"DecoderConfig.rotary_dim ({self.rotary_dim}) exceeds head_dim ({self.head_dim})"
            )
        if self.max_positions is None and self.rotated_dim % 2:
            raise InputError(f"rotary embeddings need an even head_dim, got {self.rotated_dim}")

    def windowed(self, layer: int) -> bool:
        """Whether layer ``layer`` (0-based) attends through the sliding window."""
        return self.sliding_window is not None and layer >= self.full_attention_layers

    @property
    def windowed_layers(self) -> int:
        """Layers that attend through the sliding window."""
        return sum(self.windowed(i) for i in range(self.layers))

    @property
    def head_dim(self) -> int:
        return self.attn_head_dim if self.attn_head_dim is not None else self.hidden // self.heads

    @property
    def rotary(self) -> bool:
        return self.max_positions is None

    @property
    def rotated_dim(self) -> int:
        """Channels of each head the rotary embedding turns (the whole head unless partial)."""
        return self.head_dim if self.rotary_dim is None else self.rotary_dim

    @property
    def has_qkv_bias(self) -> bool:
        return self.bias if self.qkv_bias is None else self.qkv_bias

    @property
    def moe(self) -> bool:
        return self.experts > 0

    @property
    def gated(self) -> bool:
        """The MLP multiplies an activated gate projection with an up projection."""
        return self.ffn_type in ("swiglu", "geglu")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def gpt2_small() -> DecoderConfig:
    """GPT-2 small (Radford et al. 2019; HF ``gpt2``): 124,439,808 parameters."""
    return DecoderConfig(
        layers=12,
        hidden=768,
        heads=12,
        kv_heads=12,
        ffn=3072,
        ffn_type="gelu",
        vocab=50257,
        norm="layernorm",
        tie_embeddings=True,
        max_positions=1024,
        bias=True,
        norm_eps=1e-5,
        name="gpt2_small",
    )


def llama_7b() -> DecoderConfig:
    """LLaMA-7B (Touvron et al. 2023; HF ``llama-7b`` config): 6,738,415,616 parameters."""
    return DecoderConfig(
        layers=32,
        hidden=4096,
        heads=32,
        kv_heads=32,
        ffn=11008,
        ffn_type="swiglu",
        vocab=32000,
        norm="rmsnorm",
        tie_embeddings=False,
        max_positions=None,
        bias=False,
        norm_eps=1e-6,
        name="llama_7b",
    )


def tiny_llama() -> DecoderConfig:
    """A 2-layer Llama-style model with grouped-query attention, small enough for tests."""
    return DecoderConfig(
        layers=2,
        hidden=64,
        heads=4,
        kv_heads=2,
        ffn=128,
        ffn_type="swiglu",
        vocab=256,
        norm="rmsnorm",
        tie_embeddings=False,
        max_positions=None,
        bias=False,
        norm_eps=1e-6,
        name="tiny_llama",
    )


PRESETS = {"gpt2_small": gpt2_small, "llama_7b": llama_7b, "tiny_llama": tiny_llama}


def preset(name: str) -> DecoderConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise InputError(
            f"unknown decoder preset {name!r}; known: {', '.join(sorted(PRESETS))}"
        ) from None


class GraphBuilder:
    """Appends nodes in topological order; every node's name is its source module path.

    Shared by the decoder and by the vision towers of :mod:`estimator.llm.vision`.
    """

    def __init__(self, dtype: DType) -> None:
        self.dtype = dtype
        self.nodes: list[Node] = []
        self.consts: dict[str, TensorInfo] = {}

    def const(self, name: str, shape: tuple[int, ...], dtype: DType | None = None) -> TensorInfo:
        t = self.consts.get(name)
        if t is None:
            t = TensorInfo(name, shape, dtype or self.dtype, is_const=True)
            self.consts[name] = t
        elif t.shape != shape:  # pragma: no cover - a builder bug
            raise AssertionError(f"constant {name!r} reused with shape {shape} != {t.shape}")
        return t

    def node(
        self,
        name: str,
        op: str,
        inputs: tuple[TensorInfo, ...],
        shapes: tuple[tuple[int, ...], ...],
        attrs: dict[str, Any] | None = None,
        source_op: str = "",
        dtypes: tuple[DType, ...] | None = None,
    ) -> tuple[TensorInfo, ...]:
        types = dtypes or (self.dtype,) * len(shapes)
        if len(shapes) == 1:
            outs: tuple[TensorInfo, ...] = (TensorInfo(name, shapes[0], types[0]),)
        else:
            outs = tuple(
                TensorInfo(f"{name}.{i}", s, t)
                for i, (s, t) in enumerate(zip(shapes, types, strict=True))
            )
        self.nodes.append(Node(name, op, inputs, outs, attrs or {}, name, source_op or op))
        return outs

    def one(
        self,
        name: str,
        op: str,
        inputs: tuple[TensorInfo, ...],
        shape: tuple[int, ...],
        attrs: dict[str, Any] | None = None,
        source_op: str = "",
    ) -> TensorInfo:
        return self.node(name, op, inputs, (shape,), attrs, source_op)[0]

    def linear(self, name: str, x: TensorInfo, out: int, bias: bool) -> TensorInfo:
        w = self.const(f"{name}.weight", (out, x.shape[-1]))
        ins = (x, w, self.const(f"{name}.bias", (out,))) if bias else (x, w)
        return self.linear_with(name, ins, out)

    def linear_with(self, name: str, ins: tuple[TensorInfo, ...], out: int) -> TensorInfo:
        attrs = {"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0}
        return self.one(name, "Gemm", ins, (*ins[0].shape[:-1], out), attrs, "Linear")

    def split_last(
        self, name: str, x: TensorInfo, sizes: tuple[int, ...]
    ) -> tuple[TensorInfo, ...]:
        shapes = tuple((*x.shape[:-1], n) for n in sizes)
        return self.node(name, "Split", (x,), shapes, {"axis": x.rank - 1})

    def norm(self, name: str, x: TensorInfo, cfg: DecoderConfig) -> TensorInfo:
        c = x.shape[-1]
        attrs = {"axis": x.rank - 1, "epsilon": cfg.norm_eps}
        scale = self.const(f"{name}.weight", (c,))
        if cfg.norm == "rmsnorm":
            return self.one(name, "RMSNormalization", (x, scale), x.shape, attrs, "RMSNorm")
        bias = self.const(f"{name}.bias", (c,))
        return self.one(name, "LayerNormalization", (x, scale, bias), x.shape, attrs, "LayerNorm")


def _heads(b: GraphBuilder, name: str, x: TensorInfo, heads: int, d: int) -> TensorInfo:
    """[B, L, heads*d] -> [B, heads, L, d]: a free view, then a real transpose."""
    bsz, length = x.shape[0], x.shape[1]
    v = b.one(f"{name}.view", "Reshape", (x,), (bsz, length, heads, d), source_op="view")
    return b.one(
        f"{name}.transpose", "Transpose", (v,), (bsz, heads, length, d), {"perm": (0, 2, 1, 3)}
    )


def _rotate(
    b: GraphBuilder, name: str, x: TensorInfo, cos: TensorInfo, sin: TensorInfo
) -> TensorInfo:
    """x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1) (HF Llama)."""
    half = (*x.shape[:-1], x.shape[-1] // 2)
    x1, x2 = b.node(f"{name}.split", "Split", (x,), (half, half), {"axis": x.rank - 1})
    neg = b.one(f"{name}.neg", "Neg", (x2,), half)
    rot = b.one(f"{name}.cat", "Concat", (neg, x1), x.shape, {"axis": x.rank - 1})
    a = b.one(f"{name}.mul_cos", "Mul", (x, cos), x.shape)
    c = b.one(f"{name}.mul_sin", "Mul", (rot, sin), x.shape)
    return b.one(f"{name}.add", "Add", (a, c), x.shape)


def _rotary(
    b: GraphBuilder, name: str, x: TensorInfo, cos: TensorInfo, sin: TensorInfo
) -> TensorInfo:
    """Rotary embedding over the first ``cos.shape[-1]`` channels of each head (all of them
    unless partial, as Phi-2's): the rest pass through and are concatenated back."""
    r, d = cos.shape[-1], x.shape[-1]
    if r == d:
        return _rotate(b, name, x, cos, sin)
    part, rest = b.split_last(f"{name}.partial", x, (r, d - r))
    turned = _rotate(b, name, part, cos, sin)
    return b.one(f"{name}.partial_cat", "Concat", (turned, rest), x.shape, {"axis": x.rank - 1})


@dataclass(frozen=True, slots=True)
class LayerInputs:
    """What every transformer layer of one pass reads besides the residual stream.

    ``rope``: (cos, sin) of the rotary embedding, None for learned positions; ``kv_len``:
    cached positions (graph inputs ``past_key.<i>``/``past_value.<i>``); ``causal``: the mask
    of a decoder (an image encoder attends both ways); ``fused_projections``: q/k/v (and
    gate/up) as one GEMM each, as LLM serving engines load them; ``window``: the sliding
    window of the layers that use one (None: every layer attends to every position).
    """

    rope: tuple[TensorInfo, TensorInfo] | None
    kv_len: int = 0
    causal: bool = True
    fused_projections: bool = False
    window: int | None = None


def transformer_layer(
    b: GraphBuilder, prefix: str, index: int, x: TensorInfo, cfg: DecoderConfig, io: LayerInputs
) -> tuple[TensorInfo, tuple[TensorInfo, TensorInfo], list[TensorInfo]]:
    """One pre-norm transformer layer: (new residual stream, present (K, V), new graph inputs)."""
    pre = f"{prefix}{index}"
    att = f"{pre}.self_attn"
    batch, lq = x.shape[0], x.shape[1]
    h, hkv, d, hid = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.hidden
    hn = b.norm(f"{pre}.input_layernorm", x, cfg)
    qkv_bias = cfg.has_qkv_bias
    if io.fused_projections:
        qkv = b.linear(f"{att}.qkv_proj", hn, (h + 2 * hkv) * d, qkv_bias)
        qf, kf, vf = b.split_last(f"{att}.qkv_split", qkv, (h * d, hkv * d, hkv * d))
    else:
        qf = b.linear(f"{att}.q_proj", hn, h * d, qkv_bias)
        kf = b.linear(f"{att}.k_proj", hn, hkv * d, qkv_bias)
        vf = b.linear(f"{att}.v_proj", hn, hkv * d, qkv_bias)
    q = _heads(b, f"{att}.q", qf, h, d)
    k = _heads(b, f"{att}.k", kf, hkv, d)
    v = _heads(b, f"{att}.v", vf, hkv, d)
    if io.rope is not None:
        cos, sin = io.rope
        q = _rotary(b, f"{att}.rotary_q", q, cos, sin)
        k = _rotary(b, f"{att}.rotary_k", k, cos, sin)
    new_inputs: list[TensorInfo] = []
    window = io.window if cfg.windowed(index) else None
    # a windowed layer reads the window's last positions only: W - 1 cached ones and the new
    past = io.kv_len if window is None else min(io.kv_len, window - 1)
    if past:
        past_k = TensorInfo(f"past_key.{index}", (batch, hkv, past, d), b.dtype)
        past_v = TensorInfo(f"past_value.{index}", (batch, hkv, past, d), b.dtype)
        new_inputs += [past_k, past_v]
        full = (batch, hkv, past + lq, d)
        k = b.one(f"{att}.cat_k", "Concat", (past_k, k), full, {"axis": 2}, "cat")
        v = b.one(f"{att}.cat_v", "Concat", (past_v, v), full, {"axis": 2}, "cat")
    attrs: dict[str, Any] = {"num_heads": h, "is_causal": int(io.causal and lq > 1), "scale": None}
    if window is not None:
        attrs["window"] = window  # each query scores at most ``window`` keys
    o = b.one(
        f"{att}.sdpa", "Attention", (q, k, v), (batch, h, lq, d), attrs,
        "scaled_dot_product_attention",
    )  # fmt: skip
    o = b.one(f"{att}.o.transpose", "Transpose", (o,), (batch, lq, h, d), {"perm": (0, 2, 1, 3)})
    o = b.one(f"{att}.o.view", "Reshape", (o,), (batch, lq, h * d), source_op="reshape")
    o = b.linear(f"{att}.o_proj", o, hid, cfg.bias)
    if cfg.parallel_block:  # Phi-2 / GPT-J: x + attn(ln(x)) + mlp(ln(x))
        m = _mlp(b, pre, hn, cfg, io.fused_projections)
        x = b.one(f"{pre}.attn_residual", "Add", (x, o), x.shape, source_op="add")
        return (
            b.one(f"{pre}.mlp_residual", "Add", (x, m), x.shape, source_op="add"),
            (k, v),
            (new_inputs),
        )
    x = b.one(f"{pre}.attn_residual", "Add", (x, o), x.shape, source_op="add")
    hn = b.norm(f"{pre}.post_attention_layernorm", x, cfg)
    m = _mlp(b, pre, hn, cfg, io.fused_projections)
    x = b.one(f"{pre}.mlp_residual", "Add", (x, m), x.shape, source_op="add")
    return x, (k, v), new_inputs


def _activation(b: GraphBuilder, name: str, x: TensorInfo, cfg: DecoderConfig) -> TensorInfo:
    if cfg.ffn_type == "swiglu":
        return b.one(name, "Silu", (x,), x.shape, source_op="silu")
    return b.one(name, "Gelu", (x,), x.shape, {"approximate": "tanh"}, "gelu")


def _dense_mlp(
    b: GraphBuilder,
    mlp: str,
    hn: TensorInfo,
    cfg: DecoderConfig,
    fused: bool,
    names: tuple[str, str, str],
) -> TensorInfo:
    """gate/up/down (``names``) projections of one dense MLP or one expert."""
    gate_n, up_n, down_n = names
    hid = hn.shape[-1]
    if not cfg.gated:
        up = b.linear(f"{mlp}.{up_n}", hn, cfg.ffn, cfg.bias)
        return b.linear(f"{mlp}.{down_n}", _activation(b, f"{mlp}.act", up, cfg), hid, cfg.bias)
    if fused:
        both = b.linear(f"{mlp}.gate_up_proj", hn, 2 * cfg.ffn, cfg.bias)
        gate, up = b.split_last(f"{mlp}.gate_up_split", both, (cfg.ffn, cfg.ffn))
    else:
        gate = b.linear(f"{mlp}.{gate_n}", hn, cfg.ffn, cfg.bias)
        up = b.linear(f"{mlp}.{up_n}", hn, cfg.ffn, cfg.bias)
    act = _activation(b, f"{mlp}.act", gate, cfg)
    m = b.one(f"{mlp}.mul", "Mul", (act, up), up.shape, source_op="mul")
    return b.linear(f"{mlp}.{down_n}", m, hid, cfg.bias)


def expert_loads(tokens: int, experts: int, per_token: int) -> list[int]:
    """Tokens each routed expert processes: ``tokens * per_token`` slots spread as evenly as
    possible over ``min(experts, slots)`` experts (balanced routing, the assumption a router
    trained with a load-balancing loss aims for)."""
    slots = tokens * per_token
    active = min(experts, slots)
    base, extra = divmod(slots, active)
    return [base + (1 if j < extra else 0) for j in range(active)]


def _moe_mlp(
    b: GraphBuilder, pre: str, hn: TensorInfo, cfg: DecoderConfig, fused: bool
) -> TensorInfo:
    """Mixtral's sparse MLP: router, top-k, each routed expert on its tokens, weighted sum.

    Only the experts that receive tokens appear (their weights are read, their FLOPs counted);
    the others hold memory but do no work, which :mod:`estimator.llm.memory` accounts for.
    """
    moe = f"{pre}.block_sparse_moe"
    batch, length, hid = hn.shape
    k = cfg.experts_per_token
    tokens = batch * length
    router = b.linear(f"{moe}.gate", hn, cfg.experts, False)
    top_w, top_i = b.node(
        f"{moe}.topk", "TopK", (router,), ((batch, length, k), (batch, length, k)),
        {"axis": 2}, "topk", (b.dtype, DType.INT64),
    )  # fmt: skip
    weights = b.one(f"{moe}.routing_softmax", "Softmax", (top_w,), top_w.shape, {"axis": 2})
    flat = b.one(f"{moe}.flat", "Reshape", (hn,), (tokens, hid), source_op="view")
    outs: list[TensorInfo] = []
    for j, load in enumerate(expert_loads(tokens, cfg.experts, k)):
        ex = f"{moe}.experts.{j}"
        idx = b.one(f"{ex}.route", "Slice", (top_i,), (load,), {"axis": 0})
        xs = b.one(f"{ex}.dispatch", "Gather", (flat, idx), (load, hid), {"axis": 0})
        outs.append(_dense_mlp(b, ex, xs, cfg, fused, ("w1", "w3", "w2")))
    cat = b.one(f"{moe}.combine_cat", "Concat", tuple(outs), (tokens * k, hid), {"axis": 0})
    per = b.one(f"{moe}.combine_view", "Reshape", (cat,), (batch, length, k, hid))
    w4 = b.one(f"{moe}.routing_view", "Unsqueeze", (weights,), (batch, length, k, 1))
    scaled = b.one(f"{moe}.combine_scale", "Mul", (per, w4), per.shape)
    return b.one(f"{moe}.combine_sum", "ReduceSum", (scaled,), (batch, length, hid), {"axes": (2,)})


def _mlp(b: GraphBuilder, pre: str, hn: TensorInfo, cfg: DecoderConfig, fused: bool) -> TensorInfo:
    if cfg.moe:
        return _moe_mlp(b, pre, hn, cfg, fused)
    return _dense_mlp(b, f"{pre}.mlp", hn, cfg, fused, ("gate_proj", "up_proj", "down_proj"))


def rotary_tables(
    b: GraphBuilder, pos_ids: TensorInfo, rotated: int, dtype: DType
) -> tuple[TensorInfo, TensorInfo]:
    """cos and sin [1, 1, L, rotated] of the rotary embedding at ``pos_ids``.

    HF LlamaRotaryEmbedding: freqs = position * inv_freq, emb = cat(freqs, freqs), with
    inv_freq = theta^(-2i/D) = exp(2i * (-ln(theta)/D)) computed from integer exponents: a
    stored float vector would read as a learned parameter to the cost model's params rule, and
    inv_freq is a buffer, not a parameter.
    """
    lq, half = pos_ids.shape[1], rotated // 2
    exps = b.const("rotary_emb.exponents", (half,), DType.INT64)
    log_scale = b.const("rotary_emb.log_scale", ())
    expf = b.one("rotary_emb.exponents_cast", "Cast", (exps,), (half,), {"to": dtype.value})
    scaled = b.one("rotary_emb.scale", "Mul", (expf, log_scale), (half,))
    inv_freq = b.one("rotary_emb.inv_freq", "Exp", (scaled,), (half,))
    posf = b.one("rotary_emb.cast", "Cast", (pos_ids,), (1, lq), {"to": dtype.value})
    pos3 = b.one("rotary_emb.unsqueeze", "Unsqueeze", (posf,), (1, lq, 1))
    freqs = b.one("rotary_emb.freqs", "Mul", (pos3, inv_freq), (1, lq, half))
    emb = b.one("rotary_emb.cat", "Concat", (freqs, freqs), (1, lq, rotated), {"axis": 2})
    cos0 = b.one("rotary_emb.cos", "Cos", (emb,), (1, lq, rotated))
    sin0 = b.one("rotary_emb.sin", "Sin", (emb,), (1, lq, rotated))
    cos = b.one("rotary_emb.cos_view", "Unsqueeze", (cos0,), (1, 1, lq, rotated))
    sin = b.one("rotary_emb.sin_view", "Unsqueeze", (sin0,), (1, 1, lq, rotated))
    return cos, sin


def decoder_graph(
    cfg: DecoderConfig,
    mode: Mode = "prefill",
    seq_len: int = 128,
    kv_len: int = 0,
    batch: int = 1,
    *,
    dtype: DType = DType.FLOAT32,
    fused_projections: bool = False,
    last_logits_only: bool = False,
    attention_window: bool = False,
) -> Graph:
    """The IR of one forward pass of ``cfg``.

    ``prefill``: ``seq_len`` new tokens attend causally to themselves (and to ``kv_len`` cached
    tokens when ``kv_len > 0``). ``decode``: one new token attends to ``kv_len`` cached tokens
    plus itself (Lk = kv_len + 1); ``seq_len`` is ignored. ``fused_projections``: q/k/v and
    gate/up as one GEMM each (``qkv_proj``, ``gate_up_proj``), as serving engines load them.
    ``last_logits_only``: the LM head runs on the last position only (what a serving engine
    samples from); otherwise on every new position, as ``forward()`` returns them.
    ``attention_window``: the layers :meth:`DecoderConfig.windowed` names attend to the last
    ``sliding_window`` positions only (their cache inputs hold ``min(kv_len, window - 1)``
    positions, their Attention carries ``window``); otherwise every layer attends to all.
    """
    if mode not in ("prefill", "decode"):
        raise InputError(f"decoder mode must be 'prefill' or 'decode', got {mode!r}")
    for label, value, low in (("seq_len", seq_len, 1), ("kv_len", kv_len, 0), ("batch", batch, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise InputError(f"decoder {label} must be an integer >= {low}, got {value!r}")
    lq = 1 if mode == "decode" else seq_len
    lk = kv_len + lq
    if cfg.max_positions is not None and lk > cfg.max_positions:
        raise InputError(f"{cfg.name}: {lk} positions exceed max_positions={cfg.max_positions}")
    hid = cfg.hidden
    b = GraphBuilder(dtype)
    ids = TensorInfo("input_ids", (batch, lq), DType.INT64)
    pos_ids = TensorInfo("position_ids", (1, lq), DType.INT64)
    inputs = [ids, pos_ids]
    outputs: list[TensorInfo] = []

    wte = b.const("embed_tokens.weight", (cfg.vocab, hid))
    x = b.one("embed_tokens", "Gather", (wte, ids), (batch, lq, hid), {"axis": 0}, "Embedding")
    if cfg.embed_scale:  # Gemma multiplies the embeddings by sqrt(hidden)
        scale = b.const("embed_tokens.normalizer", ())
        x = b.one("embed_scale", "Mul", (x, scale), x.shape, source_op="mul")
    rope: tuple[TensorInfo, TensorInfo] | None = None
    if cfg.max_positions is not None:
        wpe = b.const("embed_positions.weight", (cfg.max_positions, hid))
        p = b.one(
            "embed_positions", "Gather", (wpe, pos_ids), (1, lq, hid), {"axis": 0}, "Embedding"
        )
        x = b.one("embed_add", "Add", (x, p), x.shape, source_op="add")
    else:
        rope = rotary_tables(b, pos_ids, cfg.rotated_dim, dtype)

    window = cfg.sliding_window if attention_window else None
    io = LayerInputs(rope, kv_len, True, fused_projections, window)
    for i in range(cfg.layers):
        x, (k, v), new_inputs = transformer_layer(b, "layers.", i, x, cfg, io)
        inputs += new_inputs
        outputs += [k, v]

    x = b.norm("norm", x, cfg)
    if last_logits_only and lq > 1:
        x = b.one("last_position", "Slice", (x,), (batch, 1, hid), {"axis": 1}, "select")
    head_w = wte if cfg.tie_embeddings else b.const("lm_head.weight", (cfg.vocab, hid))
    head_in = (x, head_w, b.const("lm_head.bias", (cfg.vocab,))) if cfg.head_bias else (x, head_w)
    logits = b.linear_with("lm_head", head_in, cfg.vocab)
    return Graph(
        name=f"{cfg.name}:{mode}",
        nodes=b.nodes,
        inputs=inputs,
        outputs=[logits, *outputs],
        metadata={
            "source": "decoder",
            "config": cfg.name,
            "mode": mode,
            "seq_len": lq,
            "kv_len": kv_len,
            "batch": batch,
        },
    )
