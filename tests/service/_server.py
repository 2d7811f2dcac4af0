"""Start a real ``estimate-server`` (the console script, as a user starts it) on a free
127.0.0.1 port and wait for /healthz; the service tests and benchmarks/ drive it with httpx."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SCRIPT = Path(sys.executable).with_name("estimate-server")
#: Upload cap of the test server: small, so a 413 needs only a small body.
MAX_UPLOAD_MB = 1
MAX_NODES = 2000
START_TIMEOUT_S = 180.0


@dataclass
class Server:
    url: str
    token: str
    registry: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120.0, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, *extra: str) -> Server:
    registry = root / "registry"
    registry.mkdir()
    token = secrets.token_hex(24)
    token_file = root / "token"
    token_file.write_text(token + "\n")
    port = free_port()
    log = root / "server.log"
    env = {**os.environ, "XDG_DATA_HOME": str(root / "xdg")}
    env.pop("ESTIMATOR_REGISTRY", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT), "--port", str(port), "--registry", str(registry), "--token-file",
             str(token_file), "--max-upload-mb", str(MAX_UPLOAD_MB), "--max-nodes",
             str(MAX_NODES), "--log-level", "warning", *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"estimate-server exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=2.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"estimate-server did not start: {log.read_text()}")
        time.sleep(0.2)
    return Server(url, token, registry, proc, log)


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
