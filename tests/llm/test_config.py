"""HF config.json parsing: every family, published parameter counts, one-line field errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from estimator.errors import InputError
from estimator.llm.config import is_decoder_config, load_config, parse_config
from estimator.llm.memory import decoder_params

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "llm"

# Published totals (the models' cards / HF parameter counts), reproduced from the configs alone.
PUBLISHED = {
    "gpt2": 124_439_808,
    "llama-2-7b": 6_738_415_616,
    "mistral-7b-v0.1": 7_241_732_096,
    "qwen2-0.5b": 494_032_768,
    "gemma-2b": 2_506_172_416,
    "mixtral-8x7b-v0.1": 46_702_792_704,
    "phi-2": 2_779_683_840,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name: str) -> None:
    spec = load_config(EXAMPLES / name / "config.json")
    assert spec.name == name
    assert decoder_params(spec.text) == PUBLISHED[name]


def test_family_features() -> None:
    mistral = load_config(EXAMPLES / "mistral-7b-v0.1" / "config.json").text
    assert (mistral.heads, mistral.kv_heads, mistral.head_dim) == (32, 8, 128)  # GQA
    assert mistral.sliding_window == 4096 and not mistral.tie_embeddings and mistral.rotary
    qwen = load_config(EXAMPLES / "qwen2-0.5b" / "config.json").text
    assert qwen.has_qkv_bias and not qwen.bias and qwen.tie_embeddings
    assert qwen.sliding_window is None  # use_sliding_window: false
    gemma = load_config(EXAMPLES / "gemma-2b" / "config.json").text
    assert (gemma.kv_heads, gemma.head_dim, gemma.ffn_type) == (1, 256, "geglu")  # MQA
    assert gemma.embed_scale and gemma.tie_embeddings
    mixtral = load_config(EXAMPLES / "mixtral-8x7b-v0.1" / "config.json").text
    assert (mixtral.experts, mixtral.experts_per_token) == (8, 2)
    phi = load_config(EXAMPLES / "phi-2" / "config.json").text
    assert phi.parallel_block and phi.rotary_dim == 32 and phi.head_bias and phi.norm == "layernorm"
    gpt2 = load_config(EXAMPLES / "gpt2" / "config.json").text
    assert gpt2.max_positions == 1024 and gpt2.ffn == 3072 and not gpt2.rotary


def test_gemma_7b_head_dim_differs_from_hidden_over_heads() -> None:
    data = json.loads((EXAMPLES / "gemma-2b" / "config.json").read_text())
    data.update(hidden_size=3072, num_attention_heads=16, num_key_value_heads=16)
    cfg = parse_config(data).text
    assert cfg.head_dim == 256 and cfg.attn_head_dim == 256  # 16 x 256 = 4096 != 3072


def test_llava_vision_tower() -> None:
    spec = load_config(EXAMPLES / "llava-1.5-7b" / "config.json")
    assert spec.vision is not None and spec.family == "llama"
    assert spec.vision.patches == 576 and spec.vision.sequence == 577  # (336/14)^2 + CLS
    assert spec.vision.image_tokens == 576  # "default" strategy drops the CLS feature
    assert spec.text.vocab == 32064


def _llama() -> dict[str, Any]:
    return json.loads((EXAMPLES / "llama-2-7b" / "config.json").read_text())


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"hidden_size": None}, "missing field 'hidden_size'"),
        ({"num_attention_heads": None}, "missing field 'num_attention_heads'"),
        ({"frobnicate": 3}, "unknown field 'frobnicate'"),
        ({"quantization_config": {"bits": 4}}, "unknown field 'quantization_config'"),
        ({"hidden_size": "4096"}, "field 'hidden_size' must be a positive integer"),
        ({"hidden_act": "relu"}, "field 'hidden_act' = 'relu'"),
        ({"mlp_bias": True}, "field 'mlp_bias'"),
        ({"model_type": "t5"}, "field 'model_type' = 't5'"),
        ({"model_type": None}, "missing field 'model_type'"),
        ({"num_key_value_heads": 5}, "kv_heads"),
    ],
)
def test_bad_fields_are_one_line_errors(edit: dict[str, Any], needle: str) -> None:
    data = {k: v for k, v in {**_llama(), **edit}.items() if v is not None}
    with pytest.raises(InputError, match=needle.replace("(", r"\(")) as err:
        parse_config(data, where="cfg.json")
    assert "\n" not in str(err.value)


def test_llava_missing_text_config_and_unknown_vision_field() -> None:
    data = json.loads((EXAMPLES / "llava-1.5-7b" / "config.json").read_text())
    with pytest.raises(InputError, match="missing field 'text_config'"):
        parse_config({k: v for k, v in data.items() if k != "text_config"})
    data["vision_config"]["use_rope"] = True
    with pytest.raises(InputError, match="vision_config: unknown field 'use_rope'"):
        parse_config(data)


def test_files(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "missing.json")
    assert is_decoder_config(EXAMPLES / "gpt2" / "config.json")
    other = tmp_path / "latencies.json"
    other.write_text("[1, 2]")
    assert not is_decoder_config(other) and not is_decoder_config(tmp_path / "x.onnx")
