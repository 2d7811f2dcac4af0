"""``/metrics`` in Prometheus text: requests by route template, the latency histogram, cache."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def test_metrics_count_requests_by_route(client: httpx.Client) -> None:
    client.get("/v1/hardware/h100")
    client.get("/v1/hardware/not-a-device")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    samples = families["estimator_http_requests"].samples
    routes = {(s.labels["route"], s.labels["status"]) for s in samples}
    assert ("/v1/hardware/{hw_id}", "200") in routes
    assert ("/v1/hardware/{hw_id}", "404") in routes
    assert not any("not-a-device" in r for r, _ in routes)  # templates, not raw paths
    hist = families["estimator_http_request_duration_seconds"].samples
    assert any(s.name.endswith("_bucket") and s.labels["le"] == "+Inf" for s in hist)
    assert "estimator_model_cache_lookups" in families
    assert "estimator_model_cache_bytes" in families


def test_server_timing_header(client: httpx.Client) -> None:
    timing = dict(
        part.strip().split(";dur=")
        for part in client.get("/healthz").headers["server-timing"].split(",")
    )
    assert set(timing) == {"app", "recv"}
    assert 0 <= float(timing["recv"]) <= float(timing["app"]) < 10_000
