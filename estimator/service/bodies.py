"""Read a request body into a request model: JSON, a multipart form with an ONNX file, or CSV.

FastAPI validates JSON bodies itself only when an endpoint takes one content type; the estimate
endpoints take JSON *or* an upload, so they read the body here, with the same pydantic models
(and the same 422 on a bad field).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from estimator.cli.common import parse_shape_binding
from estimator.service.errors import ServiceError

M = TypeVar("M", bound=BaseModel)
#: Largest non-file field of a multipart form (a device list, a shape).
_MAX_FIELD_BYTES = 64 * 1024
#: Form fields that may repeat or hold a comma-separated list.
_LIST_FIELDS = ("devices",)


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def validated(cls: type[M], data: Any) -> M:
    try:
        if isinstance(data, bytes | str):
            return cls.model_validate_json(data)
        return cls.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def json_body(request: Request, cls: type[M]) -> M:
    kind = media_type(request)
    if kind != "application/json":
        raise ServiceError(
            415, "unsupported_media_type", f"send application/json (got {kind or 'no type'})"
        )
    return validated(cls, await request.body())


async def model_body(request: Request, cls: type[M]) -> tuple[M, Upload | None]:
    """JSON naming a model, or a multipart form: ``file`` (the .onnx) plus the same fields."""
    kind = media_type(request)
    if kind == "application/json":
        return validated(cls, await request.body()), None
    if kind != "multipart/form-data":
        raise ServiceError(
            415,
            "unsupported_media_type",
            "send application/json, or multipart/form-data with the ONNX file as 'file' "
            f"(got {kind or 'no type'})",
        )
    async with request.form(max_files=1, max_fields=64, max_part_size=_MAX_FIELD_BYTES) as form:
        fields: dict[str, Any] = {}
        shapes: dict[str, list[int]] = {}
        upload: Upload | None = None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "file":
                    raise ServiceError(422, "invalid_request", f"file field {key!r}: use 'file'")
                upload = Upload(await value.read(), value.filename)
            elif key == "input_shape":
                try:
                    name, dims = parse_shape_binding(value)
                except argparse.ArgumentTypeError as exc:
                    raise ServiceError(422, "invalid_request", f"input_shape: {exc}") from None
                shapes[name] = list(dims)
            elif key in _LIST_FIELDS:
                fields.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
            else:
                fields[key] = value
    if upload is None:
        raise ServiceError(422, "invalid_request", "multipart form without a 'file' part")
    if shapes:
        fields["input_shapes"] = shapes
    return validated(cls, fields), upload
