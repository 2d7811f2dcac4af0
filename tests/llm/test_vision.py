"""VLM: the CLIP tower counted by hand, the image stage before the prefill, --images."""

from __future__ import annotations

from pathlib import Path

import pytest

from estimator.analysis import analyze_graph
from estimator.llm import estimate_generation, load_config
from estimator.llm.vision import vision_graph

LLAVA = Path(__file__).resolve().parents[2] / "examples" / "llm" / "llava-1.5-7b" / "config.json"


def test_clip_l14_336_parameters_by_hand() -> None:
    tower = load_config(LLAVA).vision
    assert tower is not None
    graph = vision_graph(tower, 4096, 1)
    # patch conv 1024*3*14*14 + CLS 1024 + positions 577*1024 + pre-LN 2048
    # + 24 layers x (4 x (1024^2 + 1024) + 2 LN 4096 + MLP 2*1024*4096 + 4096 + 1024)
    # + projector 1024*4096 + 4096 + 4096^2 + 4096
    per_layer = 4 * (1024 * 1024 + 1024) + 4096 + 2 * 1024 * 4096 + 4096 + 1024
    tower_params = 602_112 + 1024 + 577 * 1024 + 2048 + 24 * per_layer
    assert analyze_graph(graph).params == tower_params + 1024 * 4096 + 4096 + 4096**2 + 4096
    assert graph.outputs[0].shape == (1, 576, 4096)


def test_images_add_a_vision_stage_and_prompt_tokens() -> None:
    g = estimate_generation(LLAVA, "h100", prompt=64, generate=2, images=2, batch=3)
    assert g.image_tokens == 576 and g.prefill_tokens == 64 + 2 * 576
    vision, prefill = g.stage("vision"), g.stage("prefill")
    assert vision is not None and prefill is not None
    assert g.ttft_ms == pytest.approx(vision.latency_ms + prefill.latency_ms)
    assert "projector" in vision.blocks and "attention" in vision.blocks
    assert g.memory.weight_bytes == 2 * 7_063_425_024
    # the vision FLOPs of 6 images are six times those of one (batch 3 x 2 images)
    one = estimate_generation(LLAVA, "h100", prompt=64, generate=2, images=1)
    one_v = one.stage("vision")
    assert one_v is not None and vision.flops == 6 * one_v.flops
    text_only = estimate_generation(LLAVA, "h100", prompt=64, generate=2)
    assert text_only.stage("vision") is None and text_only.prefill_tokens == 64
