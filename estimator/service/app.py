"""The FastAPI application of API v1: routes that parse, bound, call the public API and render.

Every route hands its work to :class:`~estimator.service.limits.Runner` (worker threads with a
time limit), so the event loop only reads bodies and writes answers.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.responses import JSONResponse, Response

import estimator
from estimator.analysis import analyze_graph
from estimator.errors import InputError, RegistryError
from estimator.estimate import estimate, estimate_many
from estimator.ir.graph import Graph
from estimator.service import errors, page
from estimator.service.auth import require_token
from estimator.service.bodies import Upload, json_body, media_type, model_body, validated
from estimator.service.calibrations import fit_latencies
from estimator.service.config import ServiceConfig
from estimator.service.errors import ServiceError
from estimator.service.limits import BodyLimit, Runner
from estimator.service.metrics import Metrics, MetricsMiddleware
from estimator.service.models import Binding, ModelStore
from estimator.service.schemas import (
    BatchRequest,
    CostRequest,
    EstimateRequest,
    LatenciesRequest,
    ModelRef,
    Settings,
)

log = logging.getLogger("estimator.service")
JSON = "application/json"
#: Device the engine is warmed with at start-up (its numba code loads once for every device).
_WARM_DEVICE = "i7-12700K"


def _json(text: str, headers: dict[str, str] | None = None) -> Response:
    """A rendered document, newline-terminated as ``estimate-latency`` prints it."""
    return Response(text + "\n", media_type=JSON, headers=headers)


def _finite(results: Sequence[Any]) -> None:
    """Refuse a result the arithmetic overflowed (shapes too large): no ``Infinity`` in JSON."""
    for r in results:
        if not (math.isfinite(r.latency_ms) and math.isfinite(r.ci95_high_ms)):
            raise ServiceError(
                422, "overflow", f"{r.model}: the model is too large to estimate (totals overflow)"
            )


def _request_schemas() -> dict[str, Any]:
    """Request models as OpenAPI components (the routes read their bodies themselves)."""
    out: dict[str, Any] = {}
    for cls in (EstimateRequest, CostRequest, BatchRequest, LatenciesRequest):
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[cls.__name__] = schema
    return out


def _body_doc(model: str, *, upload: bool = False, csv: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}}
    if upload:
        content["multipart/form-data"] = {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "ONNX file"},
                    "hw": {"type": "string"},
                    "devices": {"type": "string", "description": "comma-separated devices"},
                    "runtime": {"type": "string"},
                    "threads": {"type": "integer", "minimum": 1},
                    "dtype": {"type": "string", "enum": ["fp32", "fp16", "bf16", "int8"]},
                    "batch": {"type": "integer", "minimum": 1},
                    "input_shape": {"type": "string", "description": "NAME=1x3x224x224"},
                    "strict": {"type": "boolean"},
                },
            }
        }
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "content": content}}


class Service:
    """State of one app: config, token, model cache, runner, metrics."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.token = config.read_token()
        self.metrics = Metrics()
        self.models = ModelStore(config, self.metrics.lookup)
        self.runner = Runner(config.workers_threads, config.time_limit_s)

    # ------------------------------------------------------------------ helpers

    def devices(self, req: EstimateRequest) -> list[str]:
        devices = list(dict.fromkeys([*([req.hw] if req.hw else []), *(req.devices or [])]))
        if not devices:
            raise InputError("name a device: 'hw' or 'devices' (see GET /v1/hardware)")
        if len(devices) > self.config.max_devices:
            raise ServiceError(
                422, "too_many_devices", f"{len(devices)} devices, over {self.config.max_devices}"
            )
        return devices

    def check_dims(self, s: Settings) -> Binding:
        cfg = self.config
        if s.batch is not None and s.batch > cfg.max_batch_size:
            raise ServiceError(
                422, "limit", f"batch {s.batch} is over this server's limit of {cfg.max_batch_size}"
            )
        for name, dims in (s.input_shapes or {}).items():
            if not dims or any(d < 1 or d > cfg.max_dim for d in dims):
                raise ServiceError(
                    422,
                    "limit",
                    f"input_shapes.{name}: dims must be 1..{cfg.max_dim} (got {dims[:8]})",
                )
        return Binding.of(s.batch, s.input_shapes)

    def graph(self, ref: ModelRef, s: Settings, upload: Upload | None) -> tuple[Graph, str | None]:
        """Parse or look up the model a request names (runs in a worker thread)."""
        binding = self.check_dims(s)
        given = [x for x in (ref.model, ref.model_id, upload) if x is not None]
        if len(given) != 1:
            raise InputError("name exactly one model: 'model', 'model_id' or an uploaded 'file'")
        if upload is not None:
            return self.models.upload(upload.data, upload.filename, binding)
        if ref.model_id is not None:
            return self.models.by_id(ref.model_id, binding), ref.model_id
        assert ref.model is not None
        return self.models.named(ref.model, binding, s.semantics), None

    def answer(self, text: str, mid: str | None) -> Response:
        """The rendered document, with the uploaded model's id; the cache gauges updated."""
        self.metrics.cache_bytes.set(self.models.bytes_held)
        self.metrics.cache_entries.set(self.models.entries)
        return _json(text, {"X-Model-Id": mid} if mid else None)


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The application; ``config`` None reads it from the environment (uvicorn workers)."""
    svc = Service(config or ServiceConfig.from_env())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from estimator.estimate import preload

        # numba's cached engine loads in the first estimate otherwise (about a second)
        await svc.runner.run(preload, _WARM_DEVICE, what="warming the engine", limited=False)
        yield
        svc.runner.shutdown()

    app = FastAPI(
        title="roofline-estimator",
        version=estimator.__version__,
        description=(
            "Latency estimates of neural networks on devices, with a 95% interval: the "
            'estimator\'s public API over HTTP. Errors are {"error": {"code", "message"}}.'
        ),
        lifespan=lifespan,
        docs_url=None,  # page.install serves /docs with local assets
        redoc_url=None,
    )
    app.state.service = svc
    errors.install(app)
    if svc.config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(svc.config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Model-Id", "Server-Timing"],
        )
    app.add_middleware(BodyLimit, max_bytes=svc.config.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=svc.metrics)
    _routes(app, svc)
    page.install(app, app.title)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_request_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _routes(app: FastAPI, svc: Service) -> None:
    run = svc.runner.run

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": estimator.__version__})

    @app.get("/metrics", summary="Prometheus metrics (text format)")
    async def metrics() -> Response:
        body, kind = svc.metrics.render()
        return Response(body, media_type=kind)

    @app.post(
        "/v1/estimate",
        summary="Latency of one model on one or more devices",
        description=(
            "The same JSON document as `estimate-latency --format json` (one object for one "
            "device, an array for several). Send JSON naming a zoo model, an arch string or an "
            "uploaded model's id, or a multipart form with the ONNX file as `file`; the "
            "X-Model-Id header names an uploaded model for later requests."
        ),
        openapi_extra=_body_doc("EstimateRequest", upload=True),
    )
    async def estimate_route(request: Request) -> Response:
        req, upload = await model_body(request, EstimateRequest)
        devices = svc.devices(req)
        if req.config is not None or _is_preset(req.model):
            if upload is not None or req.model_id or (req.config and req.model):
                raise InputError("name exactly one model: 'config' or 'model' or an upload")
            return _json(await run(_decoder, req, devices, what="estimating the decoder"))

        def work() -> tuple[str, str | None]:
            """One trip to a worker thread: devices (before any parse), model, estimates."""
            from estimator.report.estimate_report import estimates_json

            _known_devices(devices)
            graph, mid = svc.graph(req, req, upload)
            results = [
                estimate(
                    graph,
                    hw=d,
                    runtime=req.runtime,
                    dtype=req.dtype,
                    threads=req.threads,
                    strict=req.strict,
                )
                for d in devices
            ]
            _finite(results)
            return estimates_json(results), mid

        return svc.answer(*await run(work, what="parsing and estimating"))

    @app.post(
        "/v1/cost",
        summary="FLOPs, MACs, params, bytes and peak memory of a model",
        description="The same document as `estimate-latency MODEL --format json` (no device).",
        openapi_extra=_body_doc("CostRequest", upload=True),
    )
    async def cost_route(request: Request) -> Response:
        req, upload = await model_body(request, CostRequest)
        if req.config is not None:
            raise _no_decoders()

        def work() -> tuple[str, str | None]:
            from estimator.report.cost_report import cost_json

            graph, mid = svc.graph(req, req, upload)
            return cost_json(analyze_graph(graph, strict=req.strict)), mid

        return svc.answer(*await run(work, what="parsing and costing"))

    @app.post(
        "/v1/estimate/batch",
        summary="Totals of many models x devices (NAS loops)",
        description=(
            "Arch strings go through the library's NAS-Bench-201 batch path "
            "(estimator.transfer.estimate_nb201), model names and ids through estimate_many; "
            "one column-wise block per device and group."
        ),
        openapi_extra=_body_doc("BatchRequest"),
    )
    async def batch_route(request: Request) -> Response:
        req = await json_body(request, BatchRequest)
        n = len(req.archs) + len(req.models)
        if n == 0:
            raise InputError("give 'archs' (NAS-Bench-201 arch strings) or 'models'")
        if n > svc.config.max_batch:
            raise ServiceError(422, "limit", f"{n:,} models, over {svc.config.max_batch:,}")
        if len(req.devices) > svc.config.max_devices:
            raise ServiceError(422, "too_many_devices", f"{len(req.devices)} devices")
        return _json(await run(_batch, svc, req, what="estimating the batch"))

    @app.get("/v1/hardware", summary="Devices the server knows, calibrated or not")
    async def hardware_list() -> Response:
        from estimator.report.hardware_list import hardware_docs

        return _json(json.dumps(await run(hardware_docs, what="listing devices")))

    @app.get("/v1/hardware/{hw_id}", summary="One device, its profiles and their curves")
    async def hardware_one(hw_id: str) -> Response:
        from estimator.report.hardware_list import hardware_doc

        try:
            doc = await run(hardware_doc, hw_id, what="reading the device")
        except RegistryError as exc:
            if not str(exc).startswith("unknown hardware"):
                raise
            raise ServiceError(404, "unknown_hardware", errors.one_line(str(exc))) from None
        return _json(json.dumps(doc))

    @app.post(
        "/v1/calibrations/from-latencies",
        summary="Few-shot fit of a device from measured latencies",
        description=(
            "Fits the device to measured whole-model latencies (JSON `measurements` or `csv`, or "
            "a text/csv body with hw, runtime, shots and write as query parameters) and returns "
            "the fitted profile. With write=true the profile is stored in the server's registry, "
            "which needs the server's bearer token (401 without one, 403 with a wrong one)."
        ),
        openapi_extra=_body_doc("LatenciesRequest", csv=True),
    )
    async def from_latencies(request: Request) -> Response:
        if media_type(request) == "text/csv":
            body = await request.body()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("the CSV body is not UTF-8 text") from None
            req = validated(LatenciesRequest, {**dict(request.query_params), "csv": text})
        else:
            req = await json_body(request, LatenciesRequest)
        if req.write:  # before any work: an unauthorised client costs nothing
            require_token(
                request.headers.get("authorization"),
                svc.token,
                can_write=svc.config.registry is not None,
            )
        root = svc.config.write_root() if req.write else None
        return _json(await run(fit_latencies, req, root, what="fitting", limited=not req.write))


def _known_devices(devices: Sequence[str]) -> None:
    from estimator.registry import load_hardware

    for d in devices:
        load_hardware(d)


def _batch(svc: Service, req: BatchRequest) -> str:
    from estimator.report.estimate_report import batch_json
    from estimator.transfer import estimate_nb201

    binding = svc.check_dims(req)
    _known_devices(req.devices)
    graphs: list[Graph] = []
    for m in req.models:
        if m.startswith("sha256:"):
            graphs.append(svc.models.by_id(m, binding))
        else:
            graphs.append(svc.models.named(m, binding, req.semantics))
    # the library's defaults apply to what the request leaves out
    nb_opts: dict[str, Any] = {"semantics": req.semantics, "dtype": req.dtype}
    if req.runtime is not None:
        nb_opts["runtime"] = req.runtime
    if req.batch is not None:
        nb_opts["batch"] = req.batch
    results = []
    for dev in req.devices:
        if req.archs:
            results.append(estimate_nb201(dev, req.archs, threads=req.threads, **nb_opts))
        if graphs:
            results.append(
                estimate_many(
                    graphs,
                    dev,
                    runtime=req.runtime,
                    dtype=req.dtype,
                    threads=req.threads,
                    strict=req.strict,
                )
            )
    try:
        return batch_json(results)
    except ValueError:
        raise ServiceError(422, "overflow", "totals overflow: the models are too large") from None


def _no_decoders() -> ServiceError:
    return ServiceError(
        422,
        "unsupported_model",
        "/v1/cost takes no decoder config: POST it to /v1/estimate (prompt, generate, batch)",
    )


def _is_preset(name: str | None) -> bool:
    """Whether ``name`` is one of the library's decoder presets (estimated as a generation)."""
    from estimator.zoo.decoders_ir import PRESETS

    return name is not None and name in PRESETS


def _decoder(req: EstimateRequest, devices: list[str]) -> str:
    """A decoder config (a Hugging Face config.json as JSON): the library's generation estimate
    (TTFT, TPOT, memory), one document per device as ``estimate-latency config.json --format
    json`` prints it (an array for several devices)."""
    from estimator.llm import DEFAULT_PROMPT
    from estimator.report.generation_report import generation_json

    model: Any = req.config if req.config is not None else req.model
    docs = [
        generation_json(
            estimate(
                model,
                d,
                runtime=req.runtime,
                dtype=req.dtype,
                threads=req.threads,
                batch=req.batch,
                prompt=DEFAULT_PROMPT if req.prompt is None else req.prompt,
                generate=req.generate,
                images=req.images,
            )
        )
        for d in devices
    ]
    return docs[0] if len(docs) == 1 else "[\n" + ",\n".join(docs) + "\n]"
