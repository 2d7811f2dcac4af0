"""Request bodies of API v1 (pydantic): what a client may send, with its bounds.

Responses are the library's own documents (``Estimate.to_dict()``, the cost report, ...), so
their shape is documented once, in docs/design/report_schema.md and docs/service.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: A device, runtime or model name: short printable text (a file path is not a model here).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Dtype = Annotated[str, StringConstraints(pattern=r"^(fp32|fp16|bf16|int8)$")]
Semantics = Annotated[str, StringConstraints(pattern=r"^(reference|pruned)$")]


#: A NAS-Bench-201 cell, the example of the batch schema (/docs, and schemathesis's valid case).
_ARCH_EXAMPLE = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "skip_connect~2|"
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Settings(_Request):
    """How to estimate: the same knobs as ``estimate-latency``."""

    runtime: Name | None = Field(
        None, description="fusion-rule family: onnxruntime-cpu, pytorch-eager, tensorrt"
    )
    threads: int | None = Field(None, ge=1, le=1024)
    dtype: Dtype = "fp32"
    batch: int | None = Field(None, ge=1, description="binds the batch dim of every input")
    input_shapes: dict[Name, list[int]] | None = Field(
        None, description="input name -> full shape, for inputs with dynamic dims"
    )
    strict: bool = Field(False, description="refuse models with ops that have no cost rule")
    semantics: Semantics = Field("reference", description="what a NAS-Bench-201 arch string means")


class ModelRef(_Request):
    """One model named in JSON: a zoo name or arch string, an uploaded model's id, or a decoder
    config (exactly one)."""

    model: Name | None = Field(
        None,
        description="zoo model name (resnet50, ...) or NAS-Bench-201 arch string",
        examples=["squeezenet1_1"],
    )
    model_id: Name | None = Field(
        None, description="id of a model uploaded before (the X-Model-Id response header)"
    )
    config: dict[str, Any] | None = Field(None, description="a decoder (LLM) config.json")


class EstimateRequest(ModelRef, Settings):
    """``POST /v1/estimate`` as JSON."""

    hw: Name | None = Field(
        None, description="device id (see GET /v1/hardware)", examples=["i7-12700K"]
    )
    devices: list[Name] | None = Field(None, description="several devices, side by side")
    prompt: int | None = Field(None, ge=1, le=1 << 20, description="decoder: prompt tokens")
    generate: int | None = Field(None, ge=0, le=1 << 20, description="decoder: new tokens")
    images: int | None = Field(None, ge=0, le=64, description="decoder: images per sequence")


class CostRequest(ModelRef, Settings):
    """``POST /v1/cost`` as JSON."""


class BatchRequest(Settings):
    """``POST /v1/estimate/batch``: many models x devices, totals only."""

    archs: list[str] = Field(
        default_factory=list,
        description="NAS-Bench-201 arch strings",
        examples=[[_ARCH_EXAMPLE]],
    )
    models: list[Name] = Field(
        default_factory=list, description="zoo model names or ids of uploaded models"
    )
    devices: list[Name] = Field(min_length=1, description="device ids", examples=[["i7-12700K"]])


class Measurement(_Request):
    model: Name = Field(description="zoo model name or NAS-Bench-201 arch string")
    latency_ms: float = Field(gt=0, allow_inf_nan=False)
    batch: int = Field(1, ge=1)


class LatenciesRequest(_Request):
    """``POST /v1/calibrations/from-latencies`` as JSON (or send the CSV itself as text/csv)."""

    hw: Name
    runtime: Name | None = None
    shots: int | None = Field(None, ge=1, description="fit on k random rows")
    write: bool = Field(False, description="write the profile into the server's registry")
    measurements: list[Measurement] | None = None
    csv: str | None = Field(None, description="the CSV text (model,latency_ms[,batch])")
