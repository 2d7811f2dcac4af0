"""Generations priced stage by stage: hand-computed counts, agreement with the decoder graphs
and the public estimate(), MoE accounting, workload errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from estimator.analysis import analyze_graph
from estimator.device import device_context
from estimator.errors import InputError
from estimator.estimate import estimate
from estimator.ir.dtypes import DType
from estimator.llm import Generation, estimate_generation, kv_cache_bytes
from estimator.llm.generation import (
    decode_points,
    interpolation_weights,
    measure_pass,
    price_stack,
)
from estimator.llm.memory import decoder_params, streamed_bytes
from estimator.zoo.decoders_ir import DecoderConfig, decoder_graph, expert_loads

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "llm"
# hidden 16, 4 query heads of 4, 2 KV heads, SwiGLU 32, vocab 50, untied, rotary
TINY = DecoderConfig(
    layers=2, hidden=16, heads=4, kv_heads=2, ffn=32, ffn_type="swiglu", vocab=50,
    norm="rmsnorm", tie_embeddings=False, max_positions=None, bias=False, name="tiny",
)  # fmt: skip
FP16 = DType.FLOAT16


def _attention_macs(graph_cfg: DecoderConfig, mode: str, seq: int, kv: int) -> int:
    g = decoder_graph(graph_cfg, mode, seq_len=seq, kv_len=kv)  # type: ignore[arg-type]
    return sum(
        analyze_graph(g).nodes[i].cost.macs for i, n in enumerate(g.nodes) if n.op == "Attention"
    )


def test_attention_matmuls_grow_with_sequence_length() -> None:
    # per layer B * H * Lq * Lk * (D + Dv) = 4 * Lq * Lk * 8 MACs, 2 layers
    assert _attention_macs(TINY, "prefill", 8, 0) == 2 * 4 * 8 * 8 * 8
    assert _attention_macs(TINY, "prefill", 16, 0) == 4 * _attention_macs(TINY, "prefill", 8, 0)
    assert _attention_macs(TINY, "decode", 1, 10) == 2 * 4 * 1 * 11 * 8
    assert _attention_macs(TINY, "decode", 1, 21) == 2 * _attention_macs(TINY, "decode", 1, 10)


def test_gqa_kv_bytes_follow_kv_heads_not_query_heads() -> None:
    # 2 (K, V) x 2 layers x batch 3 x 2 KV heads x head_dim 4 x 7 positions x 2 bytes
    assert kv_cache_bytes(TINY, 3, 7, FP16) == 2 * 2 * 3 * 2 * 4 * 7 * 2 == 1344
    assert kv_cache_bytes(replace(TINY, kv_heads=4), 3, 7, FP16) == 2 * 1344
    more_q = replace(TINY, hidden=32, heads=8)  # head_dim stays 4, KV heads stay 2
    assert kv_cache_bytes(more_q, 3, 7, FP16) == 1344
    for cfg, expected in ((TINY, 1344), (replace(TINY, kv_heads=4), 2688), (more_q, 1344)):
        g = decoder_graph(cfg, "decode", kv_len=7, batch=3, dtype=FP16)
        assert streamed_bytes(g)[1] == expected  # the cache a decode step reads


def test_kv_cache_is_exactly_the_present_tensors() -> None:
    g = decoder_graph(TINY, "prefill", seq_len=9, batch=2, dtype=FP16)
    present = sum(t.nbytes for t in g.outputs[1:])
    assert present == kv_cache_bytes(TINY, 2, 9, FP16)
    gen = estimate_generation(TINY, "a100", prompt=6, generate=4, batch=2, runtime="tensorrt")
    assert gen.memory.kv_cache_bytes == kv_cache_bytes(TINY, 2, 6 + 4 - 1, FP16)
    assert gen.memory.weight_bytes == decoder_params(TINY) * 2


def test_stages_agree_with_the_decoder_graphs_and_estimate() -> None:
    # a GPU has no cache bandwidths, so streaming changes nothing: stages equal plain estimates
    gen = estimate_generation(TINY, "a100", prompt=8, generate=5, batch=2, runtime="tensorrt")
    pre = decoder_graph(TINY, "prefill", seq_len=8, batch=2, dtype=FP16)
    est = estimate(pre, "a100", runtime="tensorrt", dtype="fp16")
    stage = gen.stage("prefill")
    assert stage is not None and stage.flops == analyze_graph(pre).flops
    assert stage.latency_ms == pytest.approx(est.latency_ms, rel=1e-12)
    assert gen.ttft_ms == pytest.approx(est.latency_ms, rel=1e-12)
    steps = [decoder_graph(TINY, "decode", kv_len=kv, batch=2, dtype=FP16) for kv in range(8, 12)]
    decode = gen.stage("decode")
    assert decode is not None and decode.passes == 4
    assert decode.flops == sum(analyze_graph(g).flops for g in steps)
    per_step = [estimate(g, "a100", runtime="tensorrt", dtype="fp16").latency_ms for g in steps]
    assert decode.latency_ms == pytest.approx(sum(per_step), rel=1e-12)
    assert [d.kv_len for d in gen.decode_steps] == [8, 9, 10, 11]
    assert gen.tpot_first_ms == pytest.approx(per_step[0]) and gen.tpot_last_ms == pytest.approx(
        per_step[-1]
    )
    assert gen.e2e_ms == pytest.approx(gen.ttft_ms + decode.latency_ms)
    assert gen.tokens_per_s == pytest.approx(2 * 5 / (gen.e2e_ms / 1e3))
    assert sum(stage.blocks.values()) == pytest.approx(stage.latency_ms)
    assert set(stage.blocks) <= {"attention", "mlp", "norm", "embedding_head", "residual"}


def test_layer_extrapolation_is_exact() -> None:
    # streaming matters on a CPU with cache bandwidths: the 4-layer pass priced whole equals the
    # extrapolation from 1 and 2 layers, footprint included
    cfg = replace(TINY, layers=4)
    ctx = device_context("xeon-6-vm-2vcpu", runtime="onnxruntime-cpu", threads=1)
    full = decoder_graph(cfg, "decode", kv_len=30, batch=2)
    w, kv = streamed_bytes(full)
    whole = measure_pass(full, ctx, float(w + kv))
    stacked, _ = price_stack(
        lambda n: decoder_graph(replace(cfg, layers=n), "decode", kv_len=30, batch=2), 4, ctx
    )
    assert (stacked.weight_read, stacked.kv_read, stacked.flops) == (w, kv, whole.flops)
    assert stacked.time == pytest.approx(whole.time, rel=1e-9)
    assert stacked.kernel_var == pytest.approx(whole.kernel_var, rel=1e-9)
    assert stacked.blocks == pytest.approx(whole.blocks, rel=1e-9)


def test_decode_points_and_interpolation() -> None:
    assert decode_points(5) == [0, 1, 2, 3, 4]
    pts = decode_points(127)
    assert len(pts) == 9 and pts[0] == 0 and pts[-1] == 126
    w = interpolation_weights(pts, 127)
    assert w.sum() == pytest.approx(127)
    # a linear f is summed exactly: sum_{s<127} (3 + 2 s) = 381 + 2 * 8001
    assert w @ [3 + 2 * p for p in pts] == pytest.approx(3 * 127 + 2 * (126 * 127 // 2))


def test_moe_flops_count_active_experts_memory_counts_all() -> None:
    dense = TINY
    moe = replace(TINY, experts=4, experts_per_token=2, name="tiny_moe")
    assert expert_loads(1, 4, 2) == [1, 1] and expert_loads(3, 4, 2) == [2, 2, 1, 1]
    # one token, 2 of 4 experts: router 16*4 + one more expert 3*16*32 MACs per layer
    extra_macs = 2 * (16 * 4 + 3 * 16 * 32)
    d_moe = analyze_graph(decoder_graph(moe, "decode", kv_len=5)).macs
    assert d_moe - analyze_graph(decoder_graph(dense, "decode", kv_len=5)).macs == extra_macs
    # memory holds all 4 experts: router + 3 more experts per layer
    assert decoder_params(moe) - decoder_params(dense) == 2 * (16 * 4 + 3 * 3 * 16 * 32)
    gen = estimate_generation(moe, "a100", prompt=4, generate=3, runtime="tensorrt")
    assert gen.memory.weight_bytes == 2 * decoder_params(moe)
    step = gen.decode_steps[0]
    assert step.weight_bytes_read < gen.memory.weight_bytes  # only the routed experts stream
    assert any("MoE" in n for n in gen.notes)


def test_public_estimate_routes_decoders() -> None:
    cfg = str(EXAMPLES / "gpt2" / "config.json")
    g = estimate(cfg, "h100", dtype="fp16", prompt=32, generate=4, batch=2)
    assert isinstance(g, Generation) and g.model == "gpt2" and g.batch == 2
    assert g.runtime == "llm-serving-gpu"  # the GPU's usual LLM runtime
    as_dict = estimate(
        {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 128,
         "vocab_size": 100},
        "h100", dtype="fp16", prompt=16, generate=4,
    )  # fmt: skip
    assert isinstance(as_dict, Generation) and as_dict.prompt == 16
    assert estimate("tiny_llama", "h100", prompt=8, generate=2).model == "tiny_llama"
    with pytest.raises(InputError, match="pass prompt="):
        estimate(cfg, "h100")
    with pytest.raises(InputError, match="apply to decoders"):
        estimate("resnet18", "h100", prompt=8)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"prompt": 0}, "prompt must be an integer >= 1"),
        ({"images": 1}, "no vision tower"),
        ({"prompt": 1000, "generate": 30}, "exceed max_positions"),
        ({"dtype": "int8"}, "support dtypes"),
        ({"runtime": "nope"}, "unknown runtime"),
    ],
)
def test_bad_workloads(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        estimate_generation(EXAMPLES / "gpt2" / "config.json", "h100", **kwargs)  # type: ignore[arg-type]


def test_rotary_max_position_embeddings() -> None:
    with pytest.raises(InputError, match="max_position_embeddings=4096"):
        estimate_generation(
            EXAMPLES / "llama-2-7b" / "config.json", "h100", prompt=4096, generate=2
        )


def test_json_document() -> None:
    g = estimate_generation(TINY, "h100", prompt=8, generate=3)
    d = g.to_dict()
    assert next(iter(d)) == "schema_version" and d["memory"]["fits"] is True
    assert [s["name"] for s in d["stages"]] == ["prefill", "decode"]
    assert d["decode_steps"][0]["kv_len"] == 8
