"""Decoder-only transformers: configs, presets, the torch module and the direct IR builder.

The torch module mirrors :func:`decoder_graph` (same parameter names, same op order) so the
direct builder can be checked against it; torch is imported only when a module is built.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from estimator.errors import InputError
from estimator.zoo.decoders_ir import (
    PRESETS,
    DecoderConfig,
    decoder_graph,
    gpt2_small,
    llama_7b,
    preset,
    tiny_llama,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "PRESETS",
    "DecoderConfig",
    "decoder_graph",
    "decoder_module",
    "gpt2_small",
    "llama_7b",
    "preset",
    "tiny_llama",
]

KVCache = list[tuple["torch.Tensor", "torch.Tensor"]]

#: Config fields the torch module does not implement, with the value that means "not used".
_GRAPH_ONLY: dict[str, object] = {
    "attn_head_dim": None,
    "head_bias": False,
    "experts": 0,
    "parallel_block": False,
    "rotary_dim": None,
    "embed_scale": False,
}


@cache
def _classes() -> dict[str, Any]:
    """Define the module classes on first use so importing this file does not import torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class RMSNorm(nn.RMSNorm):
        """``nn.RMSNorm`` that the opset-17 ONNX exporter can write (as HF Llama exports do)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not torch.onnx.is_in_onnx_export():
                return super().forward(x)
            eps = self.eps if self.eps is not None else torch.finfo(x.dtype).eps
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

    def norm(cfg: DecoderConfig) -> nn.Module:
        if cfg.norm == "rmsnorm":
            return RMSNorm(cfg.hidden, eps=cfg.norm_eps)
        return nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)

    def rotate_half(x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    class Attention(nn.Module):
        def __init__(self, cfg: DecoderConfig) -> None:
            super().__init__()
            self.cfg = cfg
            d = cfg.head_dim
            self.q_proj = nn.Linear(cfg.hidden, cfg.heads * d, bias=cfg.bias)
            self.k_proj = nn.Linear(cfg.hidden, cfg.kv_heads * d, bias=cfg.bias)
            self.v_proj = nn.Linear(cfg.hidden, cfg.kv_heads * d, bias=cfg.bias)
            self.o_proj = nn.Linear(cfg.heads * d, cfg.hidden, bias=cfg.bias)

        def forward(
            self,
            x: torch.Tensor,
            rope: tuple[torch.Tensor, torch.Tensor] | None,
            past: tuple[torch.Tensor, torch.Tensor] | None,
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            cfg = self.cfg
            bsz, n, _ = x.shape
            d = cfg.head_dim
            q = self.q_proj(x).view(bsz, n, cfg.heads, d).transpose(1, 2)
            k = self.k_proj(x).view(bsz, n, cfg.kv_heads, d).transpose(1, 2)
            v = self.v_proj(x).view(bsz, n, cfg.kv_heads, d).transpose(1, 2)
            if rope is not None:
                cos, sin = rope
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
            if past is not None:
                k = torch.cat((past[0], k), dim=2)
                v = torch.cat((past[1], v), dim=2)
            # bool(): the ONNX tracer hands sizes over as tensors
            causal = bool(n > 1)
            gqa = cfg.kv_heads != cfg.heads
            ka, va = k, v
            if gqa and torch.onnx.is_in_onnx_export():  # the exporter has no enable_gqa
                group = cfg.heads // cfg.kv_heads
                ka, va = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
                gqa = False
            o = F.scaled_dot_product_attention(q, ka, va, is_causal=causal, enable_gqa=gqa)
            o = o.transpose(1, 2).reshape(bsz, n, cfg.heads * d)
            return self.o_proj(o), (k, v)

    class Mlp(nn.Module):
        def __init__(self, cfg: DecoderConfig) -> None:
            super().__init__()
            self.swiglu = cfg.ffn_type == "swiglu"
            if self.swiglu:
                self.gate_proj = nn.Linear(cfg.hidden, cfg.ffn, bias=cfg.bias)
            self.up_proj = nn.Linear(cfg.hidden, cfg.ffn, bias=cfg.bias)
            self.down_proj = nn.Linear(cfg.ffn, cfg.hidden, bias=cfg.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.swiglu:
                h = F.silu(self.gate_proj(x)) * self.up_proj(x)
            else:
                h = F.gelu(self.up_proj(x), approximate="tanh")
            return self.down_proj(h)

    class Layer(nn.Module):
        def __init__(self, cfg: DecoderConfig) -> None:
            super().__init__()
            self.input_layernorm = norm(cfg)
            self.self_attn = Attention(cfg)
            self.post_attention_layernorm = norm(cfg)
            self.mlp = Mlp(cfg)

        def forward(
            self,
            x: torch.Tensor,
            rope: tuple[torch.Tensor, torch.Tensor] | None,
            past: tuple[torch.Tensor, torch.Tensor] | None,
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            a, present = self.self_attn(self.input_layernorm(x), rope, past)
            x = x + a
            x = x + self.mlp(self.post_attention_layernorm(x))
            return x, present

    class Decoder(nn.Module):
        """forward(input_ids [B, N], past_kv=None) -> (logits [B, N, vocab], present_kv)."""

        inv_freq: torch.Tensor

        def __init__(self, cfg: DecoderConfig) -> None:
            super().__init__()
            self.cfg = cfg
            self.embed_tokens = nn.Embedding(cfg.vocab, cfg.hidden)
            if cfg.max_positions is not None:
                self.embed_positions = nn.Embedding(cfg.max_positions, cfg.hidden)
            else:
                d = cfg.head_dim
                inv = 1.0 / cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
                self.register_buffer("inv_freq", inv, persistent=False)
            self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
            self.norm = norm(cfg)
            self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
            if cfg.tie_embeddings:
                self.lm_head.weight = self.embed_tokens.weight

        def forward(
            self, input_ids: torch.Tensor, past_kv: KVCache | None = None
        ) -> tuple[torch.Tensor, KVCache]:
            n = input_ids.shape[1]
            past_len = 0 if past_kv is None else past_kv[0][0].shape[2]
            if past_kv is not None and n > 1:
                raise InputError("decoder_module: with past_kv, feed one new token at a time")
            pos = torch.arange(past_len, past_len + n, device=input_ids.device)
            x = self.embed_tokens(input_ids)
            rope: tuple[torch.Tensor, torch.Tensor] | None = None
            if self.cfg.max_positions is not None:
                x = x + self.embed_positions(pos)[None]
            else:
                freqs = pos[None, :, None].to(x.dtype) * self.inv_freq
                emb = torch.cat((freqs, freqs), dim=-1)
                rope = (emb.cos()[:, None], emb.sin()[:, None])
            present: KVCache = []
            for i, layer in enumerate(self.layers):
                x, kv = layer(x, rope, None if past_kv is None else past_kv[i])
                present.append(kv)
            return self.lm_head(self.norm(x)), present

    return {"Decoder": Decoder}


def decoder_module(cfg: DecoderConfig) -> nn.Module:
    """The torch module of ``cfg`` (random init, eval mode).

    Build it under ``torch.device("meta")`` to count the parameters of a large model without
    allocating them.
    """
    if not isinstance(cfg, DecoderConfig):
        raise InputError(f"decoder_module needs a DecoderConfig, got {type(cfg).__name__}")
    unsupported = [f for f, default in _GRAPH_ONLY.items() if getattr(cfg, f) != default]
    if cfg.qkv_bias is not None and cfg.qkv_bias != cfg.bias:
        unsupported.append("qkv_bias")
    if cfg.ffn_type == "geglu":
        unsupported.append("ffn_type=geglu")
    if unsupported:
        raise InputError(
            f"decoder_module: {cfg.name} uses {', '.join(unsupported)}, which only the IR "
            "builder (decoder_graph) models; the torch module covers the GPT-2 and Llama families"
        )
    model: nn.Module = _classes()["Decoder"](cfg)
    return model.eval()
