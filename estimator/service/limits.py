"""Limits that keep one client from taking the server: body size and time.

* :class:`BodyLimit` (ASGI middleware) answers 413 for a body over the cap: at once when
  ``Content-Length`` says so, else as soon as the streamed bytes pass it; the rest of the body
  is never read.
* :class:`Runner` runs the library's CPU-heavy calls (parsing, estimating) in worker threads, off
  the event loop, with a wall-clock limit: past it the request is answered 503 ``time_limit``.
  Python cannot stop a thread, so a call past its limit finishes in the background; the node and
  batch bounds of the request keep that finite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from estimator.service.errors import ServiceError, error_body

T = TypeVar("T")


class _TooLarge(Exception):
    pass


def _too_large_message(cap: int) -> str:
    return f"request body over the server's limit of {cap / (1 << 20):g} MiB (--max-upload-mb)"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app made of the cut body, the answer is 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await _send_413(send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, cap: int) -> None:
    body = error_body("payload_too_large", _too_large_message(cap))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Runner:
    """A bounded pool of worker threads with a per-call time limit."""

    def __init__(self, threads: int, time_limit_s: float) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="estimate")
        self.time_limit_s = time_limit_s

    async def run(
        self, fn: Callable[..., T], *args: Any, what: str = "request", limited: bool = True
    ) -> T:
        """``fn(*args)`` in a worker thread; ``limited=False``: no time limit (start-up, and
        registry writes, which must not be reported failed and then complete)."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        try:
            return await asyncio.wait_for(future, self.time_limit_s if limited else None)
        except TimeoutError:
            raise ServiceError(
                503,
                "time_limit",
                f"{what} took longer than the server's limit of {self.time_limit_s:g} s",
                {"Retry-After": "30"},
            ) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
