"""Sliding-window attention (Mistral; Qwen2 with use_sliding_window from max_window_layers on):
attention over min(L, window) positions in the windowed layers, the KV cache capped at the
window where the runtime keeps a rolling cache, all hand-computed on a tiny config whose window
is smaller than the prompt."""

from __future__ import annotations

from dataclasses import replace

import pytest

from estimator.analysis import analyze_graph
from estimator.ir.dtypes import DType
from estimator.llm import estimate_generation, kv_cache_bytes, parse_config
from estimator.llm.generation import llm_context, measure_pass
from estimator.llm.memory import streamed_bytes
from estimator.llm.runtimes import llm_runtime
from estimator.zoo.decoders_ir import DecoderConfig, decoder_graph

# hidden 16, 4 query heads of 4, 2 KV heads, window 4 < prompt 10
W, P, G = 4, 10, 5
SWA = DecoderConfig(
    layers=2, hidden=16, heads=4, kv_heads=2, ffn=32, ffn_type="swiglu", vocab=50,
    norm="rmsnorm", tie_embeddings=False, max_positions=None, bias=False, name="swa",
    sliding_window=W,
)  # fmt: skip
FP16 = DType.FLOAT16


def _attention_macs(cfg: DecoderConfig, mode: str, kv: int, window: bool) -> list[int]:
    g = decoder_graph(cfg, mode, seq_len=P, kv_len=kv, attention_window=window)  # type: ignore[arg-type]
    cost = analyze_graph(g)
    return [nc.cost.macs for nc in cost.nodes if nc.node.op == "Attention"]


def test_attention_scores_min_of_length_and_window() -> None:
    # prefill: B * H * Lq * min(Lk, W) * (D + Dv) = 1 * 4 * 10 * 4 * 8 per layer
    assert _attention_macs(SWA, "prefill", 0, True) == [1280, 1280]
    assert _attention_macs(SWA, "prefill", 0, False) == [4 * 10 * 10 * 8] * 2
    # decode at KV length 10: W - 1 = 3 cached positions and the new one: 4 * 1 * 4 * 8
    assert _attention_macs(SWA, "decode", 10, True) == [128, 128]
    # inside the window nothing changes: KV length 2 -> 3 keys
    assert _attention_macs(SWA, "decode", 2, True) == _attention_macs(SWA, "decode", 2, False)
    g = decoder_graph(SWA, "decode", kv_len=10, dtype=FP16, attention_window=True)
    # cached K/V read: 2 (K, V) x 2 layers x 2 KV heads x 4 x 3 positions x 2 bytes
    assert streamed_bytes(g)[1] == 2 * 2 * 2 * 4 * 3 * 2 == 192


def test_generation_with_a_rolling_cache() -> None:
    assert llm_runtime("vllm")[1].sliding_window.policy == "rolling"
    kw = {"prompt": P, "generate": G, "dtype": "fp16"}
    swa = estimate_generation(SWA, "h100", runtime="vllm", **kw)  # type: ignore[arg-type]
    full = estimate_generation(replace(SWA, sliding_window=None), "h100", runtime="vllm", **kw)  # type: ignore[arg-type]
    # KV cache at the final length 10 + 5 - 1 = 14, capped at the window: 2 x 2 x 2 x 4 x 4 x 2
    assert swa.memory.kv_cache_bytes == 2 * 2 * 2 * 4 * W * 2 == 256
    assert full.memory.kv_cache_bytes == 2 * 2 * 2 * 4 * 14 * 2 == 896
    # prefill FLOPs: per layer 2 x (3200 - 1280) MACs and 7 FLOPs (scale, softmax, causal mask)
    # on each of the 4 x 10 x 6 scores left out
    pre_s, pre_f = swa.stage("prefill"), full.stage("prefill")
    assert pre_s is not None and pre_f is not None
    assert pre_f.flops - pre_s.flops == 2 * (2 * (3200 - 1280) + 7 * 4 * 10 * 6) == 11040
    # every decode step is past the window: each reads 3 cached positions, all cost the same
    assert {d.kv_bytes_read for d in swa.decode_steps} == {192}
    assert swa.tpot_first_ms == pytest.approx(swa.tpot_last_ms, rel=1e-12)
    assert [d.kv_bytes_read for d in full.decode_steps] == [64 * kv for kv in range(10, 14)]
    assert any("runtime policy 'rolling'" in n for n in swa.notes)


def test_full_policy_costs_every_cached_position() -> None:
    assert llm_runtime("pytorch-eager")[1].sliding_window.policy == "full"
    kw = {"prompt": P, "generate": G, "runtime": "pytorch-eager", "dtype": "fp16"}
    swa = estimate_generation(SWA, "h100", **kw)  # type: ignore[arg-type]
    full = estimate_generation(replace(SWA, sliding_window=None), "h100", **kw)  # type: ignore[arg-type]
    assert swa.ttft_ms == full.ttft_ms and swa.tpot_mean_ms == full.tpot_mean_ms
    assert swa.memory.kv_cache_bytes == full.memory.kv_cache_bytes == 896
    assert any("runtime policy 'full'" in n for n in swa.notes)


def test_qwen2_windows_layers_from_max_window_layers() -> None:
    spec = parse_config(
        {"model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
         "vocab_size": 50, "sliding_window": W, "use_sliding_window": True,
         "max_window_layers": 1, "tie_word_embeddings": False}
    )  # fmt: skip
    cfg = spec.text
    assert cfg.sliding_window == W and cfg.full_attention_layers == 1
    assert [cfg.windowed(i) for i in range(3)] == [False, True, True]
    # layer 0 holds all 14 positions, layers 1 and 2 the window: 2 x 2 x 4 x (14 + 4 + 4) x 2
    assert kv_cache_bytes(cfg, 1, 14, FP16, rolling=True) == 2 * 2 * 4 * 22 * 2 == 704
    gen = estimate_generation(cfg, "h100", prompt=P, generate=G, runtime="vllm", dtype="fp16")
    assert gen.memory.kv_cache_bytes == 704
    # a decode step at KV length 10 reads 10 + 3 + 3 cached positions
    assert gen.decode_steps[0].kv_bytes_read == 2 * 2 * 4 * 16 * 2 == 512
    # three layers of two kinds priced from 1- and 2-layer graphs of each kind: exactly the
    # pass of the whole 3-layer graph (a GPU has no cache levels: the footprint changes nothing)
    ctx, opts = llm_context("h100", "vllm", "fp16", None, None)
    whole = decoder_graph(
        cfg, "decode", kv_len=10, dtype=FP16, fused_projections=opts.fused_projections,
        last_logits_only=opts.last_logits_only, attention_window=True,
    )  # fmt: skip
    w, kv = streamed_bytes(whole)
    direct = measure_pass(whole, ctx, float(w + kv))
    assert gen.decode_steps[0].tpot_ms == pytest.approx(direct.time * 1e3, rel=1e-9)
    assert gen.decode_steps[0].kv_bytes_read == kv
    # use_sliding_window false: no window at all
    off = parse_config(
        {"model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
         "vocab_size": 50, "sliding_window": W, "use_sliding_window": False,
         "max_window_layers": 1}
    )  # fmt: skip
    assert off.text.sliding_window is None and off.text.windowed_layers == 0
