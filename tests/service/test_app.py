"""Every endpoint of API v1 over real HTTP: the documents are the library's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from estimator.analysis import analyze_graph
from estimator.estimate import estimate
from estimator.loading import load_model
from estimator.report import cost_report, estimate_report
from estimator.transfer import estimate_nb201
from estimator.zoo.nb201_ir import arch_string

from ._onnx import matmul_model

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tiny_convnet.onnx"
ARCH = arch_string(
    ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
)
ARCH2 = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def _upload(
    client: httpx.Client, path: str, data: bytes, name: str, **fields: str
) -> httpx.Response:
    return client.post(path, files={"file": (name, data, "application/octet-stream")}, data=fields)


def test_healthz_and_index(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert client.get("/").headers["content-type"].startswith("text/html")  # test_page.py


def test_estimate_upload_is_the_cli_document(client: httpx.Client) -> None:
    """Byte for byte what ``estimate-latency FILE --hw ... --format json`` prints."""
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("estimate-latency")), str(EXAMPLE), "--hw",
         "i7-12700K", "--threads", "2", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    r = _upload(client, "/v1/estimate", EXAMPLE.read_bytes(), EXAMPLE.name, hw="i7-12700K",
                threads="2")  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.text == cli.stdout
    assert r.headers["x-model-id"].startswith("sha256:")


def test_estimate_json_zoo_arch_and_several_devices(client: httpx.Client) -> None:
    r = client.post("/v1/estimate", json={"model": ARCH, "devices": ["i7-12700K", "h100"]})
    assert r.status_code == 200, r.text
    docs = r.json()
    assert [d["hardware"] for d in docs] == ["i7-12700K", "h100"]
    lib = [estimate(ARCH, hw=h) for h in ("i7-12700K", "h100")]
    assert docs == json.loads(estimate_report.estimates_json(lib))


def test_cost_hand_counted(client: httpx.Client) -> None:
    """MatMul [1,4] x [4,3]: 12 MACs, 24 FLOPs, 12 parameters."""
    r = _upload(client, "/v1/cost", matmul_model(), "mm.onnx")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["kind"] == "cost" and doc["model"] == "mm"
    assert (doc["totals"]["macs"], doc["totals"]["flops"], doc["totals"]["params"]) == (12, 24, 12)


def test_cost_json_zoo_arch_matches_library(client: httpx.Client) -> None:
    r = client.post("/v1/cost", json={"model": ARCH, "batch": 2})
    assert r.status_code == 200, r.text
    lib = cost_report.cost_to_dict(analyze_graph(load_model(ARCH, batch=2)))
    assert r.json() == lib


def test_batch_matches_the_library(client: httpx.Client) -> None:
    body = {"archs": [ARCH, ARCH2], "devices": ["gtx-1080-ti", "i7-12700K"]}
    r = client.post("/v1/estimate/batch", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["kind"] == "batch" and len(doc["results"]) == 2
    for block, hw in zip(doc["results"], body["devices"], strict=True):
        lib = estimate_nb201(hw, [ARCH, ARCH2])
        assert block["hardware"] == hw and block["models"] == [ARCH, ARCH2]
        assert block["runtime"] == lib.runtime and block["threads"] == lib.threads
        assert block["latency_ms"] == pytest.approx(lib.latency_ms.tolist(), rel=1e-12)
        assert block["ci95_high_ms"] == pytest.approx(lib.ci95_high_ms.tolist(), rel=1e-12)


def test_batch_of_uploaded_model_ids(client: httpx.Client) -> None:
    up = _upload(client, "/v1/cost", matmul_model(seed=5), "mm5.onnx")
    mid = up.headers["x-model-id"]
    r = client.post("/v1/estimate/batch", json={"models": [mid, ARCH], "devices": ["a100"]})
    assert r.status_code == 200, r.text
    (block,) = r.json()["results"]
    assert block["models"] == ["mm5", f"nb201:{ARCH}"]
    one = client.post("/v1/estimate", json={"model_id": mid, "hw": "a100"}).json()
    assert block["latency_ms"][0] == pytest.approx(one["latency_ms"], rel=1e-9)


def test_hardware_list_and_one(client: httpx.Client) -> None:
    devices = client.get("/v1/hardware").json()["devices"]
    ids = {d["id"] for d in devices}
    assert {"i7-12700K", "h100", "pixel-3"} <= ids
    assert all(isinstance(d["calibrated"], bool) and "curves" not in d for d in devices)
    one = client.get("/v1/hardware/h100").json()
    assert one["id"] == "h100" and one["hardware"]["type"] == "gpu"
    assert len(one["curves"]) == len(one["profiles"])
    assert one["calibrated"] == any(p["calibrated"] for p in one["profiles"])
    missing = client.get("/v1/hardware/no-such-device")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_hardware"


def test_decoder_config_is_a_generation(client: httpx.Client) -> None:
    config = json.loads((REPO / "examples" / "llm" / "gpt2" / "config.json").read_text())
    r = client.post(
        "/v1/estimate", json={"config": config, "hw": "h100", "prompt": 64, "generate": 8}
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    lib = estimate(config, "h100", prompt=64, generate=8)
    assert doc == json.loads(json.dumps(lib.to_dict()))


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/estimate",
        "/v1/cost",
        "/v1/estimate/batch",
        "/v1/hardware",
        "/v1/hardware/{hw_id}",
        "/v1/calibrations/from-latencies",
        "/healthz",
        "/metrics",
    ):
        assert p in paths, p  # fmt: skip
    body = paths["/v1/estimate"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert "EstimateRequest" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.text
