"""Fusion rule files: schema, runtime names and aliases, user-facing errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.errors import InputError, RegistryError
from estimator.partition.rules import (
    FUSION_DIR,
    load_rules,
    parse_rules,
    resolve_runtime,
    runtime_names,
)


def test_every_shipped_rules_file_validates() -> None:
    assert runtime_names() == ["llm-serving-gpu", "onnxruntime-cpu", "pytorch-eager", "tensorrt"]
    for name in runtime_names():
        rules = load_rules(name)
        assert rules.provenance["sources"], name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("onnxruntime", "onnxruntime-cpu"),
        ("ORT", "onnxruntime-cpu"),
        ("torch", "pytorch-eager"),
        ("trt", "tensorrt"),
        ("tensorrt", "tensorrt"),
    ],
)
def test_aliases(alias: str, canonical: str) -> None:
    assert resolve_runtime(alias) == canonical


def test_unknown_runtime_lists_valid_names() -> None:
    with pytest.raises(InputError) as exc:
        resolve_runtime("tvm")
    msg = str(exc.value)
    assert "tvm" in msg and "\n" not in msg
    for name in ("onnxruntime-cpu", "pytorch-eager", "tensorrt"):
        assert name in msg


def test_bad_rules_file_names_the_field() -> None:
    data = json.loads((FUSION_DIR / "onnxruntime-cpu.json").read_text())
    data["absorb"][0]["mode"] = "melt"
    with pytest.raises(RegistryError, match=r"bad\.json: absorb/0/mode"):
        parse_rules(data, "bad.json")


def test_optional_first_pattern_step_is_refused() -> None:
    data = json.loads((FUSION_DIR / "tensorrt.json").read_text())
    data["patterns"][0]["steps"][0] = {"ops": ["MatMul"], "optional": True}
    with pytest.raises(RegistryError, match="first and last steps"):
        parse_rules(data, "trt.json")


@pytest.mark.parametrize(
    "path", sorted(p for p in FUSION_DIR.glob("*.json") if p.name != "fusion.schema.json")
)
def test_shipped_rules_pass_their_schema(path: Path) -> None:
    # run time skips the schema for speed (it only words errors), so the suite holds the line
    import jsonschema

    schema = json.loads((FUSION_DIR / "fusion.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)


def test_elementary_work_table_is_checked() -> None:
    data = json.loads((FUSION_DIR / "onnxruntime-cpu.json").read_text())
    assert parse_rules(data).elementary_work["Gelu"] > parse_rules(data).elementary_work["Sigmoid"]
    data["elementary_work"]["flop_equivalents"]["Gelu"] = -3
    with pytest.raises(RegistryError, match=r"bad\.json: elementary_work/flop_equivalents/Gelu"):
        parse_rules(data, "bad.json")
    del data["elementary_work"]["provenance"]
    data["elementary_work"]["flop_equivalents"]["Gelu"] = 3
    with pytest.raises(RegistryError, match=r"bad\.json: elementary_work: 'provenance'"):
        parse_rules(data, "bad.json")
