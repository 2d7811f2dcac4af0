"""The JSON reports keep the published, versioned schemas (estimator/report/schemas/)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from estimator.analysis import analyze_graph
from estimator.estimate import estimate
from estimator.loading import load_model
from estimator.report import cost_report, estimate_report

SCHEMAS = Path(__file__).resolve().parents[2] / "estimator" / "report" / "schemas"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def test_cost_json_matches_schema() -> None:
    doc = json.loads(cost_report.cost_json(analyze_graph(load_model(EXAMPLE))))
    jsonschema.validate(doc, _schema("cost"))
    assert doc["totals"]["macs"] == sum(n["macs"] for n in doc["nodes"])


@pytest.mark.parametrize("hw", ["i7-12700K", "h100", "pixel-3"])
def test_estimate_json_matches_schema(hw: str) -> None:
    doc = json.loads(estimate_report.estimates_json([estimate(EXAMPLE, hw=hw)]))
    jsonschema.validate(doc, _schema("estimate"))
    assert doc["latency_ms"] == pytest.approx(sum(k["time_ms"] for k in doc["kernels"]))


def test_compare_json_is_an_array_of_estimates() -> None:
    docs = json.loads(
        estimate_report.estimates_json([estimate(EXAMPLE, hw=h) for h in ("a100", "i7-12700H")])
    )
    assert isinstance(docs, list) and len(docs) == 2
    for d in docs:
        jsonschema.validate(d, _schema("estimate"))


def test_csv_has_one_row_per_kernel_and_device() -> None:
    results = [estimate(EXAMPLE, hw=h) for h in ("a100", "i7-12700H")]
    lines = estimate_report.estimates_csv(results).strip().splitlines()
    assert len(lines) == 1 + sum(len(r.kernels) for r in results)
