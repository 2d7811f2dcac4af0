"""Every failure as ``{"error": {"code", "message"}}``: 4xx for what the client sent, 500 (and a
log line with the traceback) for our bugs; a traceback never reaches the response.

The codes are stable strings clients can branch on; the message is the library's own one line
(the same text ``estimate-latency`` prints after ``error:``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from estimator.errors import (
    EstimatorError,
    InputError,
    ModelLoadError,
    RegistryError,
    UnboundDimError,
    UnsupportedOpError,
)

log = logging.getLogger("estimator.service")

#: Library error -> (HTTP status, code). First match in order wins (subclasses first).
_LIBRARY_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (ModelLoadError, 422, "model_load_error"),
    (UnboundDimError, 422, "unbound_dims"),
    (UnsupportedOpError, 422, "unsupported_op"),
    (RegistryError, 422, "registry_error"),
    (InputError, 422, "invalid_input"),
)


class ServiceError(Exception):
    """A refusal decided by the service itself (a limit, a missing token, an unknown id)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> bytes:
    """The one error shape; the message made one line here, whatever built it (a message may
    quote what the client sent, newlines included)."""
    return json.dumps({"error": {"code": code, "message": one_line(message)}}).encode()


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        error_body(code, message),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


def library_error(exc: EstimatorError) -> tuple[int, str]:
    for kind, status, code in _LIBRARY_ERRORS:
        if isinstance(exc, kind):
            return status, code
    return 500, "internal_error"


def _validation_message(errors: Sequence[Any]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one JSON shape."""

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(EstimatorError)
    async def _library(request: Request, exc: EstimatorError) -> Response:
        status, code = library_error(exc)
        if status >= 500:
            log.error("estimator error on %s", request.url.path, exc_info=exc)
            return error_response(500, code, "internal error (logged on the server)")
        return error_response(status, code, one_line(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return error_response(422, "invalid_request", one_line(_validation_message(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code, code, one_line(str(exc.detail)), getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal error (logged on the server)")
