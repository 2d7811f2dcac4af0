"""An ONNX decoder with past-key-value inputs estimated as a generation: the project's own tiny
decoder exported with its cache, compared with the config route for the same architecture, the
dims each pass binds, and the one-line errors for files that are not such a decoder."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from estimator.analysis import analyze_graph
from estimator.errors import InputError
from estimator.estimate import estimate
from estimator.frontends.onnx_frontend import load_onnx
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph
from estimator.llm import Generation, estimate_generation, kv_cache_bytes
from estimator.llm.blocks import block_of
from estimator.llm.onnx_decoder import bound_shapes
from estimator.zoo.decoders_ir import DecoderConfig, tiny_llama

# 2 layers, hidden 64, 4 query heads of 16, 2 KV heads (GQA), SwiGLU 128, vocab 256, rotary
CFG: DecoderConfig = replace(tiny_llama(), name="onnx_tiny")
KV_HEADS, HEAD_DIM = 2, 16
PROMPT, GENERATE, BATCH = 16, 6, 2
CPU, GPU = "i7-12700K", "h100"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from estimator.zoo.export import export_decoder

    return export_decoder(CFG, tmp_path_factory.mktemp("onnx_decoder") / "decoder.onnx")


def _pass(path: Path, seq: int, past: int) -> Graph:
    """The file with one pass's shapes written into its inputs (past 0 declared as a fixed 0)."""
    proto = onnx.load(str(path))
    shapes = bound_shapes(proto, BATCH, seq, past)
    for vi in proto.graph.input:
        for d, v in zip(vi.type.tensor_type.shape.dim, shapes[vi.name], strict=True):
            d.Clear()
            d.dim_value = v
    return load_onnx(proto)


def test_the_export_binds_prefill_and_decode(exported: Path) -> None:
    assert bound_shapes(exported, 4, 512, 0) == {
        "input_ids": (4, 512),
        **{f"past_key_values.{i}.{k}": (4, 2, 0, 16) for i in range(2) for k in ("key", "value")},
    }
    assert bound_shapes(exported, 4, 1, 700)["past_key_values.1.value"] == (4, 2, 700, 16)


def test_generation_from_the_file_agrees_with_the_config_route(exported: Path) -> None:
    """Same architecture, same weights' shapes: parameters, weight and KV bytes agree exactly.

    What the two graphs differ by: the exported graph decomposes RMSNorm into Pow, ReduceMean,
    Add, Sqrt, Div and Mul (the config graph has one RMSNormalization), expands the 2 KV heads
    to 4 with Tile + Reshape (repeat_interleave; the config graph's Attention reads the 2 heads
    once), scales q and k by Mul before a MatMul-Softmax-MatMul attention, and computes the
    rotary tables from a stored inv_freq (8 floats read per pass). Hence prefill FLOPs within
    0.1%, decode FLOPs within 2% (the extra elementwise work is a larger share of one token),
    weight bytes read per step within 0.1%, and latency higher by the extra kernels: between
    1.0x and 1.6x of the config route's on this 64-wide model, for every pass.
    """
    kw = {"prompt": PROMPT, "generate": GENERATE, "batch": BATCH, "dtype": "fp32"}
    onnx_gen = estimate_generation(exported, CPU, runtime="onnxruntime-cpu", **kw)  # type: ignore[arg-type]
    cfg_gen = estimate_generation(CFG, CPU, runtime="onnxruntime-cpu", **kw)  # type: ignore[arg-type]
    final = PROMPT + GENERATE - 1
    assert onnx_gen.params == cfg_gen.params == 106_816
    assert onnx_gen.memory.weight_bytes == cfg_gen.memory.weight_bytes == 106_816 * 4
    # 2 (K, V) x 2 layers x batch 2 x 2 KV heads x 16 x 21 positions x 4 bytes
    assert onnx_gen.memory.kv_cache_bytes == 2 * 2 * BATCH * KV_HEADS * HEAD_DIM * final * 4
    assert onnx_gen.memory.kv_cache_bytes == kv_cache_bytes(CFG, BATCH, final, DType.FLOAT32)
    assert onnx_gen.family == "onnx" and onnx_gen.model == "decoder"
    assert [d.kv_len for d in onnx_gen.decode_steps] == list(range(PROMPT, PROMPT + GENERATE - 1))
    for a, b in zip(onnx_gen.decode_steps, cfg_gen.decode_steps, strict=True):
        cache = 2 * 2 * BATCH * KV_HEADS * HEAD_DIM * a.kv_len * 4
        assert a.kv_bytes_read == b.kv_bytes_read == cache
        assert a.weight_bytes_read == pytest.approx(b.weight_bytes_read, rel=1e-3)
        assert 1.0 <= a.tpot_ms / b.tpot_ms <= 1.6
        assert a.tpot_ms >= a.floor_ms
    pre_o, pre_c = onnx_gen.stage("prefill"), cfg_gen.stage("prefill")
    dec_o, dec_c = onnx_gen.stage("decode"), cfg_gen.stage("decode")
    assert pre_o and pre_c and dec_o and dec_c
    assert pre_o.flops == pytest.approx(pre_c.flops, rel=1e-3)
    assert dec_o.flops == pytest.approx(dec_c.flops, rel=0.02)
    assert 1.0 <= onnx_gen.ttft_ms / cfg_gen.ttft_ms <= 1.6
    assert 1.0 <= onnx_gen.tpot_mean_ms / cfg_gen.tpot_mean_ms <= 1.6
    # the exporter's scope names put every kernel in a block, as the builder's module paths do
    assert set(pre_o.blocks) == {"attention", "mlp", "norm", "embedding_head", "residual"}
    assert onnx_gen.e2e_ms == pytest.approx(onnx_gen.ttft_ms + dec_o.latency_ms, rel=1e-9)


def test_each_pass_is_the_bound_file_estimated(exported: Path) -> None:
    # a GPU has no cache levels, so streaming changes nothing: each stage is the plain estimate
    # of the file with that pass's shapes
    gen = estimate(exported, GPU, runtime="tensorrt", dtype="fp32", prompt=PROMPT, generate=3,
                   batch=BATCH)  # fmt: skip
    assert isinstance(gen, Generation)
    pre = estimate(_pass(exported, PROMPT, 0), GPU, runtime="tensorrt", dtype="fp32")
    assert gen.ttft_ms == pytest.approx(pre.latency_ms, rel=1e-12)
    steps = [
        estimate(_pass(exported, 1, kv), GPU, runtime="tensorrt", dtype="fp32")
        for kv in (PROMPT, PROMPT + 1)
    ]
    assert [d.tpot_ms for d in gen.decode_steps] == pytest.approx([s.latency_ms for s in steps])
    stage = gen.stage("prefill")
    assert stage is not None
    assert stage.flops == analyze_graph(_pass(exported, PROMPT, 0)).flops


def test_cli_estimates_the_file(exported: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "estimator.cli.estimate_latency", str(exported), "--hw", CPU,
         "--prompt", "16", "--generate", "4", "--batch", "2", "--format", "json"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["family"] == "onnx" and doc["runtime"] == "onnxruntime-cpu" and doc["batch"] == 2
    assert [d["kv_len"] for d in doc["decode_steps"]] == [16, 17, 18]
    assert doc["tpot_first_ms"] > 0 and doc["tokens_per_s"] > 0


def test_block_of_exporter_scope_names() -> None:
    assert block_of("/model/layers.0/self_attn/q_proj/MatMul") == "attention"
    assert block_of("/model/layers.1/mlp/down_proj/MatMul") == "mlp"
    assert block_of("/model/layers.0/input_layernorm/Pow") == "norm"
    assert block_of("/model/norm/Mul_1") == "norm"
    assert block_of("/model/layers.0/Add") == "residual"
    assert block_of("/model/embed_tokens/Gather") == "embedding_head"
    assert block_of("/lm_head/MatMul") == "embedding_head"
    assert block_of("/transformer/h.3/attn/c_attn/Gemm") == "attention"


# --- files that are not decoders with a KV cache: hand-built, only their inputs matter ---------


def _vi(name: str, dims: list[int | str], elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, dims)


def _model(inputs: list[onnx.ValueInfoProto], outputs: list[str]) -> onnx.ModelProto:
    nodes = [helper.make_node("Identity", [inputs[-1].name], [o]) for o in outputs]
    outs = [_vi(o, []) for o in outputs]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outs))


IDS = _vi("input_ids", ["batch_size", "sequence_length"], TensorProto.INT64)


def _past(layer: int, kind: str, heads: int | str = 2) -> onnx.ValueInfoProto:
    return _vi(f"past_key_values.{layer}.{kind}", ["batch_size", heads, "past_sequence_length", 4])


PAIR = [_past(0, "key"), _past(0, "value")]


def test_attention_mask_and_position_ids_are_bound() -> None:
    proto = _model(
        [
            IDS,
            _vi("attention_mask", ["batch_size", "past_sequence_length + 1"], TensorProto.INT64),
            _vi("position_ids", [1, "sequence_length"], TensorProto.INT64),
            *PAIR,
        ],
        ["logits", "present.0.key"],
    )
    shapes = bound_shapes(proto, 3, 1, 40)
    assert shapes["attention_mask"] == (3, 41) and shapes["position_ids"] == (1, 1)
    assert shapes["past_key_values.0.key"] == (3, 2, 40, 4)
    assert bound_shapes(proto, 3, 9, 0)["attention_mask"] == (3, 9)


@pytest.mark.parametrize(
    ("inputs", "outputs", "needle"),
    [
        ([_vi("input", [1, 3, 8, 8])], ["output"], "input 'input' is not a decoder input"),
        ([IDS], ["logits"], "no past key/value inputs"),
        ([IDS, _vi("use_cache_branch", [1], TensorProto.BOOL), *PAIR], ["present.0.key"],
         "input 'use_cache_branch' is not a decoder input.*decoder_with_past_model"),
        ([IDS, _past(0, "key", "num_heads"), _past(0, "value")], ["present.0.key"],
         r"input 'past_key_values.0.key' dim 1 \(kv_heads\) is 'num_heads'"),
        ([IDS, _past(0, "key")], ["present.0.key"],
         r"layer 0 has a cached key but no cached value input \(past_key_values.0.value\)"),
        ([IDS, *PAIR], ["logits"], "no present.* output"),
        ([PAIR[0], PAIR[1]], ["present.0.key"], "no input_ids input"),
        ([_vi("input_ids", [1, 1], TensorProto.INT64), *PAIR], ["present.0.key"],
         "input 'input_ids' dim 1 is fixed at 1 in the file; the prefill .* needs 16"),
        ([_vi("input_ids", ["b"], TensorProto.INT64), *PAIR], ["present.0.key"],
         "input 'input_ids' has rank 1, a decoder's has 2"),
    ],
)  # fmt: skip
def test_not_a_decoder_with_a_cache(
    tmp_path: Path, inputs: list[onnx.ValueInfoProto], outputs: list[str], needle: str
) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_model(inputs, outputs), str(path))
    with pytest.raises(InputError, match=needle) as err:
        estimate(path, CPU, prompt=16, generate=4)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_cli_error_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "cnn.onnx"
    onnx.save(_model([_vi("input", [1, 3, 8, 8])], ["output"]), str(path))
    proc = subprocess.run(
        [sys.executable, "-m", "estimator.cli.estimate_latency", str(path), "--hw", CPU,
         "--prompt", "16"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "input 'input' is not a decoder input" in lines[0]


def test_images_are_refused(exported: Path) -> None:
    with pytest.raises(InputError, match="an ONNX decoder has no vision tower"):
        estimate_generation(exported, CPU, prompt=8, generate=2, images=1)
