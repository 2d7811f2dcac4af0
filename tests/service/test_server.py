"""A server of its own: the time limit over HTTP, and kill -9 during registry writes."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from estimator.registry import read_efficiency_file

from ._server import start_server, stop_server
from .test_calibrations import HW, _body


def test_time_limit_503_then_kill_9_during_writes(tmp_path: Path) -> None:
    """A server of its own (it is killed): a parse past --time-limit is 503 and the server
    goes on answering; registry writes are not time-limited, and a kill -9 while they run
    leaves every registry file valid."""
    srv = start_server(tmp_path, "--time-limit", "0.2")
    try:
        with srv.client() as c:
            slow = c.post("/v1/estimate", json={"model": "densenet121", "hw": "h100"})
            assert slow.status_code == 503, slow.text
            assert slow.json()["error"]["code"] == "time_limit" and "retry-after" in slow.headers
            assert c.get("/healthz").status_code == 200
        auth = {"Authorization": f"Bearer {srv.token}"}
        with srv.client() as c:
            first = c.post("/v1/calibrations/from-latencies", json=_body(True), headers=auth)
            assert first.status_code == 200, first.text
        stop = threading.Event()

        def hammer() -> None:
            with srv.client() as c:
                while not stop.is_set():
                    try:
                        c.post("/v1/calibrations/from-latencies", json=_body(True), headers=auth)
                    except httpx.TransportError:
                        return

        workers = [threading.Thread(target=hammer) for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        stop.set()
        for w in workers:
            w.join(30)
        target = srv.registry / "gpu" / HW / "efficiency_curves.json"
        doc = read_efficiency_file(target)  # valid JSON, passes the schema
        assert doc.profiles and doc.audit
        for other in srv.registry.rglob("efficiency_curves.json*"):
            if other.name.startswith("efficiency_curves.json.bak-"):
                read_efficiency_file(other)
    finally:
        stop_server(srv)
