"""Few-shot fits over HTTP; registry writes only with the bearer token."""

from __future__ import annotations

import httpx
import pytest

from estimator.registry import read_efficiency_file
from estimator.transfer import estimate_nb201
from estimator.zoo.nb201 import random_archs

from ._server import Server

HW = "gtx-1080-ti"
RUNTIME = "pytorch-eager"
ARCHS = random_archs(8, seed=3)


def _rows(scale: float = 2.0) -> list[dict[str, object]]:
    lat = estimate_nb201(HW, ARCHS, runtime=RUNTIME).latency_ms * scale
    return [{"model": a, "latency_ms": float(v)} for a, v in zip(ARCHS, lat, strict=True)]


def _body(write: bool) -> dict[str, object]:
    return {"hw": HW, "runtime": RUNTIME, "measurements": _rows(), "write": write}


def test_fit_without_write_needs_no_token(client: httpx.Client, server: Server) -> None:
    r = client.post("/v1/calibrations/from-latencies", json=_body(False))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["kind"] == "few_shot_calibration" and doc["k"] == len(ARCHS)
    assert doc["written"] is None and doc["profile"]["calibrated"] is True
    assert not list(server.registry.rglob("efficiency_curves.json"))


def test_csv_body_and_its_bad_line(client: httpx.Client) -> None:
    csv = "model,latency_ms\n" + "".join(f"{r['model']},{r['latency_ms']}\n" for r in _rows())
    params = {"hw": HW, "runtime": RUNTIME}
    r = client.post("/v1/calibrations/from-latencies", content=csv, params=params,
                    headers={"content-type": "text/csv"})  # fmt: skip
    assert r.status_code == 200, r.text and r.json()["k"] == len(ARCHS)
    bad = csv + f"{ARCHS[0]},-3\n"
    r = client.post("/v1/calibrations/from-latencies", content=bad, params=params,
                    headers={"content-type": "text/csv"})  # fmt: skip
    msg = r.json()["error"]["message"]
    assert r.status_code == 422 and msg.startswith("latencies.csv: line 10:"), msg
    files = {"model": "/etc/passwd", "latency_ms": 3.0}
    r = client.post("/v1/calibrations/from-latencies",
                    json={"hw": HW, "runtime": RUNTIME, "measurements": [files]})  # fmt: skip
    assert r.status_code == 422 and "reads no files" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Basic abc"}, 401), ({"Authorization": "Bearer wrong"}, 403)],
)
def test_write_needs_the_token(
    client: httpx.Client, server: Server, headers: dict[str, str], status: int
) -> None:
    r = client.post("/v1/calibrations/from-latencies", json=_body(True), headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert not list(server.registry.rglob("efficiency_curves.json"))


def test_write_with_the_token_changes_estimates(client: httpx.Client, server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    before = client.post("/v1/estimate/batch", json={"archs": ARCHS, "devices": [HW]}).json()
    r = client.post("/v1/calibrations/from-latencies", json=_body(True), headers=auth)
    assert r.status_code == 200, r.text
    written = server.registry / r.json()["written"]
    assert written == server.registry / "gpu" / HW / "efficiency_curves.json"
    stored = read_efficiency_file(written)
    assert "uploads/latencies-" in stored.profiles[0].provenance.source
    after = client.post("/v1/estimate/batch", json={"archs": ARCHS, "devices": [HW]}).json()
    old, new = before["results"][0], after["results"][0]
    assert new["calibrated"] is True
    ratio = [b / a for a, b in zip(old["latency_ms"], new["latency_ms"], strict=True)]
    assert all(1.5 < x < 2.7 for x in ratio), ratio  # the fit moved towards the 2x latencies
    hw = client.get(f"/v1/hardware/{HW}").json()
    assert hw["calibrated"] is True and hw["profiles"][0]["runtime"] == RUNTIME
