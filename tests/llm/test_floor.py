"""The physical floor of a decode step on every GPU in the registry: TPOT >= (weights read +
KV bytes read) / DRAM bandwidth, for dense and MoE models, batch 1 and 16, both GPU runtimes."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from estimator.estimate import estimate
from estimator.ir.dtypes import DType
from estimator.llm import estimate_generation, kv_cache_bytes
from estimator.llm.memory import decoder_params
from estimator.registry import list_hardware, load_hardware
from estimator.registry.loader import builtin_registry
from estimator.zoo.decoders_ir import DecoderConfig, decoder_graph

# 4 layers of 1024 wide with an 8192-token vocabulary: 54 M parameters, 108 MB in fp16, more
# than any GPU's L2 in the registry
MEDIUM = DecoderConfig(
    layers=4, hidden=1024, heads=16, kv_heads=4, ffn=2816, ffn_type="swiglu", vocab=8192,
    norm="rmsnorm", tie_embeddings=False, max_positions=None, bias=False, name="medium",
)  # fmt: skip
GPUS = sorted(n for n in list_hardware() if str(load_hardware(n).type) == "gpu")


def test_every_gpu_is_checked() -> None:
    assert {"a100", "h100", "rtx-4090", "gtx-1080-ti"} <= set(GPUS)


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("cfg", [MEDIUM, replace(MEDIUM, experts=4, experts_per_token=2)])
def test_decode_respects_the_bandwidth_floor(gpu: str, cfg: DecoderConfig) -> None:
    hw = load_hardware(gpu)
    for runtime in ("llm-serving-gpu", "pytorch-eager"):
        for batch in (1, 16):
            g = estimate_generation(
                cfg, gpu, prompt=256, generate=3, batch=batch, runtime=runtime, dtype="fp16"
            )
            for step in g.decode_steps:
                kv = kv_cache_bytes(cfg, batch, step.kv_len, DType.FLOAT16)
                assert step.kv_bytes_read == kv
                if not cfg.moe:  # every weight but the untied embedding table, plus its rows
                    table = cfg.vocab * cfg.hidden * 2
                    assert step.weight_bytes_read == (
                        2 * decoder_params(cfg) - table + batch * cfg.hidden * 2
                    )
                floor = (step.weight_bytes_read + kv) / hw.dram_bandwidth() * 1e3
                assert step.floor_ms == pytest.approx(floor, rel=1e-12)
                assert step.tpot_ms >= step.floor_ms, (gpu, runtime, batch, step)
                assert step.ci95_low_ms >= step.floor_ms


def test_streaming_keeps_cache_bandwidth_out_of_decode(tmp_path: Path) -> None:
    # a GPU whose L2 has a (made-up, 4x DRAM) bandwidth: one layer's weights fit in it, the
    # model does not, so a decode step's weights still stream from DRAM
    src = Path(builtin_registry()) / "gpu" / "h100" / "hardware.json"
    data = json.loads(src.read_text())
    data.update(id="h100-l2", aliases=[], fingerprint={})
    data["caches"][1]["bandwidth_gbs"] = 4 * data["memory"]["dram_bandwidth_gbs"]
    (tmp_path / "gpu" / "h100-l2").mkdir(parents=True)
    (tmp_path / "gpu" / "h100-l2" / "hardware.json").write_text(json.dumps(data))
    shutil.copytree(Path(builtin_registry()) / "priors", tmp_path / "priors")
    big = replace(MEDIUM, layers=8)
    g = estimate_generation(big, "h100-l2", prompt=64, generate=2, registry=tmp_path, dtype="fp16")
    step = g.decode_steps[0]
    assert step.tpot_ms >= step.floor_ms
    # the same step estimated as a lone graph takes each kernel's own (cache-sized) working set
    lone = decoder_graph(big, "decode", kv_len=64, dtype=DType.FLOAT16, fused_projections=True)
    plain = estimate(lone, "h100-l2", runtime="llm-serving-gpu", dtype="fp16", registry=tmp_path)
    assert plain.latency_ms < step.tpot_ms
