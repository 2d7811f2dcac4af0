"""Uploads: the content-hash cache, hostile ONNX (garbage, 100k-node-style graphs, external
data pointing at server files), bounds."""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path

import httpx

from ._onnx import external_weight_model, matmul_model, relu_chain
from ._server import MAX_NODES, Server


def _hits(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    m = re.search(r'^estimator_model_cache_lookups_total\{result="hit"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def _up(client: httpx.Client, data: bytes, name: str = "m.onnx", **f: str) -> httpx.Response:
    return client.post("/v1/estimate", files={"file": (name, data)}, data={"hw": "h100", **f})


def test_same_bytes_hit_the_cache(client: httpx.Client) -> None:
    data = matmul_model(seed=11)
    first = _up(client, data)
    assert first.status_code == 200, first.text
    before = _hits(client)
    again = _up(client, data)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["x-model-id"] == first.headers["x-model-id"]
    assert _hits(client) == before + 1
    by_id = client.post(
        "/v1/estimate", json={"model_id": first.headers["x-model-id"], "hw": "h100"}
    )
    assert by_id.status_code == 200 and by_id.json() == first.json()
    assert _hits(client) == before + 2
    other = _up(client, matmul_model(seed=12))  # other bytes, other id, a miss
    assert other.headers["x-model-id"] != first.headers["x-model-id"]
    assert _hits(client) == before + 2


def test_dims_are_part_of_the_key(client: httpx.Client) -> None:
    data = matmul_model(seed=13)
    mid = _up(client, data).headers["x-model-id"]
    r = client.post("/v1/estimate", json={"model_id": mid, "hw": "h100", "batch": 4})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_cached"


def test_garbage_is_refused(client: httpx.Client) -> None:
    r = _up(client, os.urandom(4096), "junk.onnx")
    assert r.status_code == 422 and "not an ONNX model" in r.json()["error"]["message"]


def test_too_many_nodes_is_refused_before_parsing(client: httpx.Client) -> None:
    r = _up(client, relu_chain(MAX_NODES + 1), "chain.onnx")
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_nodes"
    assert _up(client, relu_chain(50), "chain50.onnx").status_code == 200


def test_external_data_is_never_opened(client: httpx.Client, tmp_path: Path) -> None:
    """The weight names a FIFO: opening it would block the parse until the time limit."""
    fifo = tmp_path / "weights.bin"
    os.mkfifo(fifo)
    for location in (str(fifo), "../../../../etc/shadow"):
        start = time.monotonic()
        r = _up(client, external_weight_model(location), "ext.onnx")
        assert r.status_code in (200, 422), r.text
        assert time.monotonic() - start < 10
        assert "root:" not in r.text


def test_huge_declared_dims_never_500(client: httpx.Client) -> None:
    big = 1 << 40
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [big, big, big])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [big, big, big])],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    r = _up(client, data, "big.onnx")
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert all(math.isfinite(r.json()[k]) for k in ("latency_ms", "ci95_high_ms"))


def test_input_shape_field_binds_dims(server: Server) -> None:
    with server.client() as c:
        r = _up(c, matmul_model(seed=14), input_shape="X=1x4")
        assert r.status_code == 200, r.text
        bad = _up(c, matmul_model(seed=14), input_shape="X=1xfour")
        assert bad.status_code == 422 and "input_shape" in bad.json()["error"]["message"]
