"""Decoder-only transformers: presets, the torch module and the direct IR builder agree."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from estimator.analysis import analyze_graph
from estimator.errors import InputError
from estimator.zoo.decoders import (
    DecoderConfig,
    decoder_graph,
    decoder_module,
    gpt2_small,
    llama_7b,
    preset,
    tiny_llama,
)

TINY_GPT = DecoderConfig(
    layers=2, hidden=32, heads=4, kv_heads=4, ffn=64, vocab=100, max_positions=16, name="tiny_gpt"
)


def _module_params(cfg: DecoderConfig) -> int:
    with torch.device("meta"):
        model = decoder_module(cfg)
    return sum(p.numel() for p in model.parameters())  # tied weights are one Parameter


def test_gpt2_small_params() -> None:
    # HF gpt2: wte 50257*768 = 38,597,376; wpe 1024*768 = 786,432; per layer ln 2*1536 +
    # qkv 768*2304+2304 + proj 768*768+768 + fc 768*3072+3072 + proj 3072*768+768 = 7,087,872,
    # times 12 = 85,054,464; ln_f 1,536; lm_head tied: 124,439,808 (the published 124M).
    expected = 124_439_808
    assert analyze_graph(decoder_graph(gpt2_small(), seq_len=8)).params == expected
    assert _module_params(gpt2_small()) == expected


def test_llama_7b_params() -> None:
    # embed and lm_head 2*32000*4096 = 262,144,000; per layer 4*4096^2 + 3*4096*11008 + 2*4096 =
    # 202,383,360, times 32 = 6,476,267,520; final norm 4,096: 6,738,415,616 (LLaMA-7B).
    expected = 6_738_415_616
    assert analyze_graph(decoder_graph(llama_7b(), seq_len=4)).params == expected
    assert _module_params(llama_7b()) == expected


@pytest.mark.parametrize("cfg", [tiny_llama(), TINY_GPT], ids=lambda c: c.name)
def test_ir_constants_are_module_parameters(cfg: DecoderConfig) -> None:
    graph = decoder_graph(cfg, "decode", kv_len=5)
    graph.validate()
    model = decoder_module(cfg)
    named = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    consts = {t.name: t for n in graph.nodes for t in n.inputs if t.is_const}
    learnable = {name: t for name, t in consts.items() if name in named}
    assert set(learnable) == set(named)  # every parameter once, under the module's name
    for name, t in consts.items():
        if name.startswith("rotary_emb."):  # inv_freq's exponents and scale (not parameters)
            assert t.numel == cfg.head_dim // 2 or t.numel == 1
            assert "inv_freq" in buffers
            continue
        assert tuple(named[name].shape) == t.shape, name
    assert analyze_graph(graph).params == sum(p.numel() for p in model.parameters())


def test_tiny_llama_macs_by_hand() -> None:
    # tiny_llama: hidden 64, 4 heads of 16, 2 kv heads, ffn 128 (SwiGLU), vocab 256, 2 layers.
    # Weight MACs per token per layer: q 64*64 + k 64*32 + v 64*32 + o 64*64 + 3*64*128 = 36,864;
    # 2 layers 73,728, plus lm_head 64*256 = 16,384: 90,112 per token.
    # Attention per layer: heads * Lq * Lk * (D + Dv) = 4 * Lq * Lk * 32.
    per_token = 90_112
    prefill = analyze_graph(decoder_graph(tiny_llama(), "prefill", seq_len=8))
    assert prefill.macs == 8 * per_token + 2 * (4 * 8 * 8 * 32)  # 720,896 + 16,384 = 737,280
    decode = analyze_graph(decoder_graph(tiny_llama(), "decode", kv_len=8))
    assert decode.macs == per_token + 2 * (4 * 1 * 9 * 32)  # 90,112 + 2,304 = 92,416
    # a decode step is ~2 FLOPs per weight (2 * 90,112) plus attention and elementwise work
    assert 2 * decode.macs <= decode.flops <= 1.05 * 2 * decode.macs
    assert not decode.unmodeled and not prefill.unmodeled


def test_decode_attention_shapes_and_cache() -> None:
    cfg = tiny_llama()
    graph = decoder_graph(cfg, "decode", kv_len=10, batch=3)
    attn = [n for n in graph.nodes if n.op == "Attention"]
    assert len(attn) == cfg.layers
    q, k, v = attn[0].inputs
    assert q.shape == (3, 4, 1, 16)
    assert k.shape == v.shape == (3, 2, 11, 16)
    assert attn[0].attrs["is_causal"] == 0
    names = {t.name for t in graph.inputs}
    assert {"past_key.0", "past_value.1"} <= names
    concat = [n for n in graph.nodes if n.op == "Concat" and n.inputs[0].name == "past_key.0"]
    assert len(concat) == 1 and concat[0].outputs[0] is k
    prefill = decoder_graph(cfg, "prefill", seq_len=6)
    attn0 = next(n for n in prefill.nodes if n.op == "Attention")
    assert attn0.attrs["is_causal"] == 1 and attn0.inputs[1].shape == (1, 2, 6, 16)
    assert not any(t.name.startswith("past_") for t in prefill.inputs)


def test_tied_head_shares_the_embedding_tensor() -> None:
    graph = decoder_graph(gpt2_small(), seq_len=4)
    gather = next(n for n in graph.nodes if n.name == "embed_tokens")
    head = next(n for n in graph.nodes if n.name == "lm_head")
    assert head.inputs[1] is gather.inputs[0]
    assert head.outputs[0].shape == (1, 4, 50257)


@pytest.mark.parametrize("cfg", [tiny_llama(), TINY_GPT], ids=lambda c: c.name)
def test_module_kv_cache_matches_full_prefill(cfg: DecoderConfig) -> None:
    torch.manual_seed(0)
    model = decoder_module(cfg)
    ids = torch.randint(0, cfg.vocab, (2, 7))
    with torch.no_grad():
        full, _ = model(ids)
        _, past = model(ids[:, :6])
        step, present = model(ids[:, 6:], past)
    torch.testing.assert_close(step[:, 0], full[:, 6], rtol=1e-4, atol=1e-4)
    assert present[0][0].shape == (2, cfg.kv_heads, 7, cfg.head_dim)


def test_rotary_matches_reference_formula() -> None:
    # position p, pair (i, i + D/2) rotates by angle p / theta^(2i/D): check one layer's cache
    cfg = tiny_llama()
    torch.manual_seed(1)
    model: Any = decoder_module(cfg)
    ids = torch.randint(0, cfg.vocab, (1, 3))
    with torch.no_grad():
        _, present = model(ids)
        x = model.layers[0].input_layernorm(model.embed_tokens(ids))
        k = model.layers[0].self_attn.k_proj(x).view(1, 3, 2, 16).transpose(1, 2)
    d, p, i = 16, 2, 3
    angle = torch.tensor(p / 10000.0 ** (2 * i / d))
    a, b = k[0, 1, p, i], k[0, 1, p, i + d // 2]
    expected = a * torch.cos(angle) - b * torch.sin(angle)
    torch.testing.assert_close(present[0][0][0, 1, p, i], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"hidden": 30}, "hidden"),
        ({"kv_heads": 3}, "kv_heads"),
        ({"ffn_type": "relu"}, "ffn_type"),
        ({"layers": 0}, "layers"),
        ({"norm": "batchnorm"}, "norm"),
    ],
)
def test_bad_config_names_field(kwargs: dict[str, object], field: str) -> None:
    base = {"layers": 1, "hidden": 32, "heads": 4, "kv_heads": 4, "ffn": 64, "vocab": 10}
    with pytest.raises(InputError, match=field):
        DecoderConfig(**{**base, **kwargs})  # type: ignore[arg-type]


def test_bad_graph_arguments() -> None:
    with pytest.raises(InputError, match="mode"):
        decoder_graph(tiny_llama(), "train")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_positions"):
        decoder_graph(TINY_GPT, "decode", kv_len=16)
    with pytest.raises(InputError, match="seq_len"):
        decoder_graph(tiny_llama(), "prefill", seq_len=0)
    with pytest.raises(InputError, match="unknown decoder preset"):
        preset("gpt5")
    assert preset("gpt2_small") == gpt2_small()


def test_ir_matches_torch_fx_prefill() -> None:
    fx = pytest.importorskip("estimator.frontends.torch_fx", reason="torch.fx frontend not built")
    cfg = tiny_llama()
    traced = analyze_graph(
        fx.from_torch(decoder_module(cfg), (torch.zeros(1, 8, dtype=torch.int64),))
    )
    direct = analyze_graph(decoder_graph(cfg, "prefill", seq_len=8))
    assert traced.macs == direct.macs
    # the direct IR derives inv_freq from integer exponents (Mul + Exp over head_dim/2 = 8
    # elements), the module stores it as a buffer: 16 FLOPs apart, nothing else
    assert direct.flops - traced.flops == 16
