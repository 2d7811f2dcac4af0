"""``GET /metrics``: request counts, a latency histogram and the model cache, in Prometheus text.

Each app has its own registry (no process-wide globals), and requests are labelled by route
template (``/v1/hardware/{hw_id}``), never by raw path, so a client cannot grow the label set.
With ``--workers N`` each worker process reports its own counters.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Histogram buckets in seconds: sub-millisecond cache hits up to time-limited parses.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "estimator_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "estimator_http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "estimator_model_cache_lookups",
            "Parsed-model cache lookups, by result (hit or miss)",
            ["result"],
            registry=self.registry,
        )
        self.cache_bytes = Gauge(
            "estimator_model_cache_bytes",
            "Approximate memory held by the parsed-model cache",
            registry=self.registry,
        )
        self.cache_entries = Gauge(
            "estimator_model_cache_entries",
            "Models held by the parsed-model cache",
            registry=self.registry,
        )

    def lookup(self, hit: bool) -> None:
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request (the route is known once the router has run) and
    says the server-side time in a ``Server-Timing: app;dur=<ms>, recv;dur=<ms>`` header (``recv``:
    the part spent waiting for the client to send the body)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        waited = 0.0  # in receive(): the client still sending the body
        status = 500

        async def timed_receive() -> Message:
            nonlocal waited
            t0 = time.perf_counter()
            try:
                return await receive()
            finally:
                waited += time.perf_counter() - t0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # server-side time to the answer, and how much of it went on receiving the body
                total, recv = (time.perf_counter() - start) * 1e3, waited * 1e3
                timing = f"app;dur={total:.3f}, recv;dur={recv:.3f}"
                headers = [*message.get("headers", ()), (b"server-timing", timing.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, timed_receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
