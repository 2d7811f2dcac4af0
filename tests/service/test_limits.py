"""413 without reading the body, the time limit (503), and the threads that keep parsing off
the event loop."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from estimator.service.errors import ServiceError
from estimator.service.limits import Runner

from ._server import MAX_UPLOAD_MB, Server


def test_declared_oversize_body_is_413_unread(server: Server) -> None:
    """Content-Length over the cap: answered 413 before a byte of the body is sent."""
    host, port = server.url.removeprefix("http://").split(":")
    declared = (MAX_UPLOAD_MB << 20) * 100
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            b"POST /v1/estimate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: " + str(declared).encode() + b"\r\n\r\n"
        )
        chunks = []
        while chunk := s.recv(65536):  # the server closes the connection after its answer
            chunks.append(chunk)
    reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"payload_too_large"' in reply


def test_streamed_oversize_body_is_413(client: httpx.Client) -> None:
    """No Content-Length (chunked): refused once the bytes pass the cap."""

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(4 * MAX_UPLOAD_MB * 16):
            yield b"x" * 65536

    r = client.post("/v1/estimate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert client.get("/healthz").status_code == 200


def test_multipart_oversize_upload_is_413(client: httpx.Client) -> None:
    data = b"\0" * ((MAX_UPLOAD_MB << 20) + 1)
    r = client.post("/v1/estimate", files={"file": ("big.onnx", data)}, data={"hw": "h100"})
    assert r.status_code == 413


def test_runner_answers_503_past_the_limit() -> None:
    async def go() -> None:
        runner = Runner(1, 0.05)
        assert await runner.run(lambda: 7) == 7
        with pytest.raises(ServiceError) as err:
            await runner.run(time.sleep, 1.0, what="sleeping")
        assert err.value.status == 503 and err.value.code == "time_limit"
        assert await runner.run(time.sleep, 0.2, limited=False) is None
        runner.shutdown()

    asyncio.run(go())
