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

FfnType = Literal["gelu", "swiglu"]
NormType = Literal["layernorm", "rmsnorm"]
Mode = Literal["prefill", "decode"]


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    """Shape of a decoder-only transformer.

    ``max_positions`` set: learned absolute position embeddings (GPT-2); ``None``: rotary
    embeddings (Llama). ``bias`` puts biases on every projection (GPT-2 does, Llama does not).
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

    def __post_init__(self) -> None:
        for field in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"DecoderConfig.{field} must be a positive integer, got {value!r}")
        if self.hidden % self.heads:
            raise InputError(
                f"DecoderConfig.hidden ({self.hidden}) is not divisible by heads ({self.heads})"
            )
        if self.heads % self.kv_heads:
            raise InputError(
                f"DecoderConfig.heads ({self.heads}) is not divisible by kv_heads ({self.kv_heads})"
            )
        if self.ffn_type not in ("gelu", "swiglu"):
            raise InputError(
                f"DecoderConfig.ffn_type must be gelu or swiglu, got {self.ffn_type!r}"
            )
        if self.norm not in ("layernorm", "rmsnorm"):
            raise InputError(f"DecoderConfig.norm must be layernorm or rmsnorm, got {self.norm!r}")
        if self.max_positions is not None and self.max_positions < 1:
            raise InputError(
                f"DecoderConfig.max_positions must be positive or None, got {self.max_positions}"
            )
        if self.max_positions is None and self.head_dim % 2:
            raise InputError(f"rotary embeddings need an even head_dim, got {self.head_dim}")

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def rotary(self) -> bool:
        return self.max_positions is None


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


class _Builder:
    """Appends nodes in topological order; every node's name is its source module path."""

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
    ) -> tuple[TensorInfo, ...]:
        if len(shapes) == 1:
            outs: tuple[TensorInfo, ...] = (TensorInfo(name, shapes[0], self.dtype),)
        else:
            outs = tuple(TensorInfo(f"{name}.{i}", s, self.dtype) for i, s in enumerate(shapes))
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

    def norm(self, name: str, x: TensorInfo, cfg: DecoderConfig) -> TensorInfo:
        c = x.shape[-1]
        attrs = {"axis": x.rank - 1, "epsilon": cfg.norm_eps}
        scale = self.const(f"{name}.weight", (c,))
        if cfg.norm == "rmsnorm":
            return self.one(name, "RMSNormalization", (x, scale), x.shape, attrs, "RMSNorm")
        bias = self.const(f"{name}.bias", (c,))
        return self.one(name, "LayerNormalization", (x, scale, bias), x.shape, attrs, "LayerNorm")


def _heads(b: _Builder, name: str, x: TensorInfo, heads: int, d: int) -> TensorInfo:
    """[B, L, heads*d] -> [B, heads, L, d]: a free view, then a real transpose."""
    bsz, length = x.shape[0], x.shape[1]
    v = b.one(f"{name}.view", "Reshape", (x,), (bsz, length, heads, d), source_op="view")
    return b.one(
        f"{name}.transpose", "Transpose", (v,), (bsz, heads, length, d), {"perm": (0, 2, 1, 3)}
    )


def _rotary(b: _Builder, name: str, x: TensorInfo, cos: TensorInfo, sin: TensorInfo) -> TensorInfo:
    """x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1) (HF Llama)."""
    half = (*x.shape[:-1], x.shape[-1] // 2)
    x1, x2 = b.node(f"{name}.split", "Split", (x,), (half, half), {"axis": x.rank - 1})
    neg = b.one(f"{name}.neg", "Neg", (x2,), half)
    rot = b.one(f"{name}.cat", "Concat", (neg, x1), x.shape, {"axis": x.rank - 1})
    a = b.one(f"{name}.mul_cos", "Mul", (x, cos), x.shape)
    c = b.one(f"{name}.mul_sin", "Mul", (rot, sin), x.shape)
    return b.one(f"{name}.add", "Add", (a, c), x.shape)


def decoder_graph(
    cfg: DecoderConfig,
    mode: Mode = "prefill",
    seq_len: int = 128,
    kv_len: int = 0,
    batch: int = 1,
    *,
    dtype: DType = DType.FLOAT32,
) -> Graph:
    """The IR of one forward pass of ``cfg``.

    ``prefill``: ``seq_len`` new tokens attend causally to themselves (and to ``kv_len`` cached
    tokens when ``kv_len > 0``). ``decode``: one new token attends to ``kv_len`` cached tokens
    plus itself (Lk = kv_len + 1); ``seq_len`` is ignored.
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
    h, hkv, d, hid = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.hidden
    b = _Builder(dtype)
    ids = TensorInfo("input_ids", (batch, lq), DType.INT64)
    pos_ids = TensorInfo("position_ids", (1, lq), DType.INT64)
    inputs = [ids, pos_ids]
    outputs: list[TensorInfo] = []

    wte = b.const("embed_tokens.weight", (cfg.vocab, hid))
    x = b.one("embed_tokens", "Gather", (wte, ids), (batch, lq, hid), {"axis": 0}, "Embedding")
    cos = sin = x
    if cfg.max_positions is not None:
        wpe = b.const("embed_positions.weight", (cfg.max_positions, hid))
        p = b.one(
            "embed_positions", "Gather", (wpe, pos_ids), (1, lq, hid), {"axis": 0}, "Embedding"
        )
        x = b.one("embed_add", "Add", (x, p), x.shape, source_op="add")
    else:
        # HF LlamaRotaryEmbedding: freqs = position * inv_freq, emb = cat(freqs, freqs), with
        # inv_freq = theta^(-2i/D) = exp(2i * (-ln(theta)/D)) computed from integer exponents:
        # a stored float vector would read as a learned parameter to the cost model's params
        # rule, and inv_freq is a buffer, not a parameter.
        exps = b.const("rotary_emb.exponents", (d // 2,), DType.INT64)
        log_scale = b.const("rotary_emb.log_scale", ())
        expf = b.one("rotary_emb.exponents_cast", "Cast", (exps,), (d // 2,), {"to": dtype.value})
        scaled = b.one("rotary_emb.scale", "Mul", (expf, log_scale), (d // 2,))
        inv_freq = b.one("rotary_emb.inv_freq", "Exp", (scaled,), (d // 2,))
        posf = b.one("rotary_emb.cast", "Cast", (pos_ids,), (1, lq), {"to": dtype.value})
        pos3 = b.one("rotary_emb.unsqueeze", "Unsqueeze", (posf,), (1, lq, 1))
        freqs = b.one("rotary_emb.freqs", "Mul", (pos3, inv_freq), (1, lq, d // 2))
        emb = b.one("rotary_emb.cat", "Concat", (freqs, freqs), (1, lq, d), {"axis": 2})
        cos0 = b.one("rotary_emb.cos", "Cos", (emb,), (1, lq, d))
        sin0 = b.one("rotary_emb.sin", "Sin", (emb,), (1, lq, d))
        cos = b.one("rotary_emb.cos_view", "Unsqueeze", (cos0,), (1, 1, lq, d))
        sin = b.one("rotary_emb.sin_view", "Unsqueeze", (sin0,), (1, 1, lq, d))

    for i in range(cfg.layers):
        pre = f"layers.{i}"
        att = f"{pre}.self_attn"
        hn = b.norm(f"{pre}.input_layernorm", x, cfg)
        q = _heads(b, f"{att}.q", b.linear(f"{att}.q_proj", hn, h * d, cfg.bias), h, d)
        k = _heads(b, f"{att}.k", b.linear(f"{att}.k_proj", hn, hkv * d, cfg.bias), hkv, d)
        v = _heads(b, f"{att}.v", b.linear(f"{att}.v_proj", hn, hkv * d, cfg.bias), hkv, d)
        if cfg.rotary:
            q = _rotary(b, f"{att}.rotary_q", q, cos, sin)
            k = _rotary(b, f"{att}.rotary_k", k, cos, sin)
        if kv_len:
            past_k = TensorInfo(f"past_key.{i}", (batch, hkv, kv_len, d), dtype)
            past_v = TensorInfo(f"past_value.{i}", (batch, hkv, kv_len, d), dtype)
            inputs += [past_k, past_v]
            full = (batch, hkv, lk, d)
            k = b.one(f"{att}.cat_k", "Concat", (past_k, k), full, {"axis": 2}, "cat")
            v = b.one(f"{att}.cat_v", "Concat", (past_v, v), full, {"axis": 2}, "cat")
        outputs += [k, v]
        attrs = {"num_heads": h, "is_causal": int(lq > 1), "scale": None}
        o = b.one(
            f"{att}.sdpa", "Attention", (q, k, v), (batch, h, lq, d), attrs,
            "scaled_dot_product_attention",
        )  # fmt: skip
        o = b.one(
            f"{att}.o.transpose", "Transpose", (o,), (batch, lq, h, d), {"perm": (0, 2, 1, 3)}
        )
        o = b.one(f"{att}.o.view", "Reshape", (o,), (batch, lq, h * d), source_op="reshape")
        o = b.linear(f"{att}.o_proj", o, hid, cfg.bias)
        x = b.one(f"{pre}.attn_residual", "Add", (x, o), x.shape, source_op="add")

        hn = b.norm(f"{pre}.post_attention_layernorm", x, cfg)
        mlp = f"{pre}.mlp"
        if cfg.ffn_type == "swiglu":
            gate = b.linear(f"{mlp}.gate_proj", hn, cfg.ffn, cfg.bias)
            up = b.linear(f"{mlp}.up_proj", hn, cfg.ffn, cfg.bias)
            act = b.one(f"{mlp}.act", "Silu", (gate,), gate.shape, source_op="silu")
            m = b.one(f"{mlp}.mul", "Mul", (act, up), up.shape, source_op="mul")
            m = b.linear(f"{mlp}.down_proj", m, hid, cfg.bias)
        else:
            up = b.linear(f"{mlp}.up_proj", hn, cfg.ffn, cfg.bias)
            act = b.one(f"{mlp}.act", "Gelu", (up,), up.shape, {"approximate": "tanh"}, "gelu")
            m = b.linear(f"{mlp}.down_proj", act, hid, cfg.bias)
        x = b.one(f"{pre}.mlp_residual", "Add", (x, m), x.shape, source_op="add")

    x = b.norm("norm", x, cfg)
    head_w = wte if cfg.tie_embeddings else b.const("lm_head.weight", (cfg.vocab, hid))
    logits = b.linear_with("lm_head", (x, head_w), cfg.vocab)
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
