"""Bad requests are 4xx with ``{"error": {"code", "message"}}``, never a traceback."""

from __future__ import annotations

import httpx
import pytest


def _error(r: httpx.Response, status: int, code: str | None = None) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"code", "message"} and err["message"]
    assert "Traceback" not in r.text and "\n" not in err["message"]
    if code is not None:
        assert err["code"] == code
    return str(err["message"])


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"model": "resnet5O", "hw": "i7-12700K"}, 422, "invalid_input", "unknown model"),
        ({"model": "/etc/passwd", "hw": "i7-12700K"}, 422, "invalid_input", "unknown model"),
        ({"model": "resnet18", "hw": "no-such-hw"}, 422, "registry_error", "unknown hardware"),
        ({"model": "|bogus~0|+|x|+|y|", "hw": "h100"}, 422, "invalid_input", "NAS-Bench-201"),
        ({"model": "resnet18"}, 422, "invalid_input", "name a device"),
        ({"hw": "h100"}, 422, "invalid_input", "exactly one model"),
        ({"model": "resnet18", "hw": "h100", "dtype": "fp64"}, 422, "invalid_request", "dtype"),
        ({"model": "resnet18", "hw": "h100", "nope": 1}, 422, "invalid_request", "nope"),
        ({"model": "resnet18", "hw": "h100", "batch": 10**9}, 422, "limit", "batch"),
        ({"model_id": "sha256:" + "0" * 64, "hw": "h100"}, 404, "model_not_cached", "upload"),
        ({"model_id": "../../etc", "hw": "h100"}, 422, "invalid_input", "not an id"),
    ],
)
def test_bad_estimate_requests(
    client: httpx.Client, body: dict[str, object], status: int, code: str, says: str
) -> None:
    assert says in _error(client.post("/v1/estimate", json=body), status, code)


def test_not_json_and_wrong_media_type(client: httpx.Client) -> None:
    r = client.post(
        "/v1/estimate", content=b"{not json", headers={"content-type": "application/json"}
    )
    _error(r, 422, "invalid_request")
    _error(client.post("/v1/estimate", content=b"x", headers={"content-type": "text/plain"}), 415)
    _error(client.post("/v1/estimate/batch", data={"archs": "x"}), 415)


def test_batch_errors(client: httpx.Client) -> None:
    _error(client.post("/v1/estimate/batch", json={"devices": ["h100"]}), 422, "invalid_input")
    _error(client.post("/v1/estimate/batch", json={"archs": ["|x|"], "devices": []}), 422)
    r = client.post("/v1/estimate/batch", json={"archs": ["nope"], "devices": ["h100"]})
    assert "NAS-Bench-201" in _error(r, 422)


def test_unknown_route_and_method(client: httpx.Client) -> None:
    _error(client.get("/v2/estimate"), 404, "not_found")
    _error(client.get("/v1/estimate"), 405, "method_not_allowed")


def test_multipart_without_file(client: httpx.Client) -> None:
    r = client.post("/v1/estimate", files={"other": ("a", b"b")}, data={"hw": "h100"})
    _error(r, 422, "invalid_request")
