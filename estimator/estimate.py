"""The public estimate: model + device -> latency with a 95% interval and per-kernel breakdown.

Pipeline: ``load_model`` (IR) -> ``analyze_graph`` (per-node cost) -> ``partition`` (kernels of
the runtime) -> :func:`estimator.device.device_context` (the device resolved once) ->
:mod:`estimator.predictor` (the one predictor, shared with calibration and transfer). Parsed
models and device contexts are cached, so re-estimating a model already in memory on another
device or thread count costs only the engine call (NAS loops, sweeps).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from estimator.analysis import ModelCost, analyze_graph
from estimator.device import DEFAULT_RUNTIME as DEFAULT_RUNTIME
from estimator.device import DeviceContext, device_context, dtype_key
from estimator.device import clear_cache as _clear_device_cache
from estimator.device import default_runtime as default_runtime
from estimator.engine import BOUND_NAMES, KernelArrays, run_kernels
from estimator.engine.layout import DTYPE_INDEX
from estimator.errors import EstimatorError, InputError, RegistryError
from estimator.gcpause import with_gc_paused
from estimator.identity_cache import IdentityCache
from estimator.ir.graph import Graph
from estimator.loading import load_model
from estimator.partition import KernelPlan, load_rules, partition
from estimator.predictor import ModelTotals, predict_kernels, predict_models
from estimator.registry.models import Hardware
from estimator.zoo.nb201_reference import DEFAULT_SEMANTICS

if TYPE_CHECKING:
    from estimator.llm.config import LlmSpec
    from estimator.llm.generation import Generation
    from estimator.zoo.decoders_ir import DecoderConfig

#: Version of the JSON document ``Estimate.to_dict()`` produces.
SCHEMA_VERSION = 1
#: Largest batch a caller may ask for: the CLI's integer limit (``cli.common.MAX_INT_ARG``).
MAX_BATCH = 2**31 - 1
_S_TO_MS = 1e3

#: Effects no estimate includes; every report lists them.
NOT_MODELED: tuple[str, ...] = (
    "session creation, first-run warm-up and memory allocation",
    "input/output copies between kernels",
    "layout reorders between kernels",
    "inter-op parallelism: kernels are assumed to run one after another",
    "thermal or power throttling and other processes sharing the device",
)


@dataclass(frozen=True, slots=True)
class KernelRow:
    name: str
    category: str
    ops: tuple[str, ...]
    sources: tuple[str, ...]
    flops: int
    bytes: int
    time_ms: float
    std_ms: float
    #: "compute", "memory" or "overhead": the term that sets the kernel's time.
    bound: str
    #: Fraction of the model's mean latency.
    share: float
    modeled: bool
    #: Fusion rules or pattern that formed the kernel ("" for a lone node).
    fusion: str = ""
    #: FLOP-equivalents the compute roof used when the runtime's measured work for an elementary
    #: function (erf, exp, ...) replaces the FLOP convention; None: ``flops`` was used.
    work: int | None = None


@dataclass(frozen=True, slots=True)
class Estimate:
    model: str
    hardware: str
    runtime: str
    dtype: str
    threads: int
    calibrated: bool
    calibration_source: str
    latency_ms: float
    std_ms: float
    ci95_low_ms: float
    ci95_high_ms: float
    kernels: tuple[KernelRow, ...]
    flops: int
    macs: int
    params: int
    weight_bytes: int
    activation_bytes: int
    peak_activation_bytes: int
    #: Op type -> count of nodes costed as memory traffic only.
    unmodeled: dict[str, int]
    #: Bound name -> share of the mean latency.
    bound_summary: dict[str, float]
    notes: tuple[str, ...]
    #: 90th / 99th percentile of warm runs from the device's calibrated run-to-run dispersion
    #: (``latency_ms`` is the median run); None where the profile has no dispersion.
    p90_ms: float | None = None
    p99_ms: float | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document (``schema_version`` first); tuples become lists."""
        d = asdict(self)
        d["kernels"] = [
            {**row, "ops": list(row["ops"]), "sources": list(row["sources"])}
            for row in d["kernels"]
        ]
        d["notes"] = list(self.notes)
        return {
            "schema_version": self.schema_version,
            **{k: v for k, v in d.items() if k != "schema_version"},
        }


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed, costed and partitioned model: everything that does not depend on the device."""

    graph: Graph
    cost: ModelCost
    plan: KernelPlan


@dataclass(frozen=True, slots=True)
class BatchEstimate:
    """Totals of many models on one device (``estimate_many``); arrays in input order."""

    names: tuple[str, ...]
    latency_ms: NDArray[np.float64]
    std_ms: NDArray[np.float64]
    ci95_low_ms: NDArray[np.float64]
    ci95_high_ms: NDArray[np.float64]
    calibrated: bool
    #: The configuration the totals are for (as resolved: the runtime's canonical name, the
    #: thread count used), so a batch result names it as a single :class:`Estimate` does.
    hardware: str
    runtime: str
    dtype: str
    threads: int

    @classmethod
    def of(cls, names: Sequence[str], totals: ModelTotals, ctx: DeviceContext) -> BatchEstimate:
        """The predictor's totals of ``names`` on ``ctx``, in milliseconds."""
        lo, hi = totals.interval()
        return cls(
            names=tuple(names),
            latency_ms=totals.mean * _S_TO_MS,
            std_ms=np.sqrt(totals.var) * _S_TO_MS,
            ci95_low_ms=lo * _S_TO_MS,
            ci95_high_ms=hi * _S_TO_MS,
            calibrated=ctx.profile.calibrated,
            hardware=ctx.hardware.id,
            runtime=ctx.runtime,
            dtype=ctx.dtype,
            threads=ctx.threads,
        )


_PREPARED: IdentityCache[Prepared] = IdentityCache(64)


def clear_caches() -> None:
    """Forget cached plans and packed devices (e.g. after mutating a Graph in place)."""
    _PREPARED.clear()
    _clear_device_cache()


def prepare(
    model: Any,
    *,
    runtime: str = "onnxruntime-cpu",
    batch: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    example_inputs: Any = None,
    strict: bool = False,
    semantics: str = DEFAULT_SEMANTICS,
    nchwc_block: int | None = None,
) -> Prepared:
    """Load, cost and partition ``model`` for ``runtime``; cached for Graph objects.

    ``semantics`` says what a NAS-Bench-201 arch string means (``reference``, the default, or
    ``pruned``: :mod:`estimator.zoo.nb201_reference`). ``nchwc_block``: the device's blocked
    layout (``DeviceContext.nchwc_block``), whose reorders become kernels. The cache is keyed by
    the Graph's identity: a Graph mutated in place after an estimate needs :func:`clear_caches`.
    """
    if batch is not None and (
        isinstance(batch, bool)
        or not isinstance(batch, numbers.Integral)
        or not 1 <= batch <= MAX_BATCH
    ):
        # 0 read as "no batch" and 10**30 gave a 4e29 ms estimate with no error
        raise InputError(f"batch must be an integer in 1..{MAX_BATCH}, got {batch!r}")
    batch = None if batch is None else int(batch)
    canon = load_rules(runtime).runtime
    if isinstance(model, Prepared):
        if model.plan.runtime == canon and model.plan.nchwc_block == nchwc_block:
            return model
        costs = {nc.node.name: nc.cost for nc in model.cost.nodes}
        plan = partition(model.graph, canon, costs=costs, nchwc_block=nchwc_block)
        return Prepared(model.graph, model.cost, plan)
    if isinstance(model, Graph):
        hit = _PREPARED.get((model,), (canon, strict, nchwc_block))
        if hit is not None:
            return hit
    graph = load_model(
        model,
        example_inputs=example_inputs,
        input_shapes=input_shapes,
        batch=batch,
        semantics=semantics,
    )
    cost = analyze_graph(graph, strict=strict)
    costs = {nc.node.name: nc.cost for nc in cost.nodes}
    plan = partition(graph, canon, costs=costs, nchwc_block=nchwc_block)
    prepared = Prepared(graph, cost, plan)
    if isinstance(model, Graph):
        _PREPARED.put((model,), (canon, strict, nchwc_block), prepared)
    return prepared


def preload(
    hw: str | Hardware,
    *,
    runtime: str | None = None,
    dtype: str = "fp32",
    threads: int | None = None,
    registry: Any = None,
) -> None:
    """Load the device and the engine's compiled code ahead of :func:`estimate`.

    Loading numba's cached machine code is most of a cold start; a caller that still has a model
    to parse (the CLI) runs this in a thread meanwhile. Errors are left for :func:`estimate` to
    report.
    """
    try:
        ctx = device_context(hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry)
        one = KernelArrays.build([1.0], [1.0], [1.0], [0], [DTYPE_INDEX["fp32"]])
        run_kernels(one, ctx.arrays)
    except EstimatorError:
        pass


@overload
def estimate(
    model: Mapping[str, Any] | DecoderConfig | LlmSpec,
    hw: str | Hardware | DeviceContext = ...,
    *,
    runtime: str | None = ...,
    dtype: str = ...,
    threads: int | None = ...,
    batch: int | None = ...,
    input_shapes: Mapping[str, Sequence[int]] | None = ...,
    example_inputs: Any = ...,
    registry: Any = ...,
    strict: bool = ...,
    semantics: str = ...,
    prompt: int | None = ...,
    generate: int | None = ...,
    images: int | None = ...,
) -> Generation: ...
@overload
def estimate(
    model: Any,
    hw: str | Hardware | DeviceContext = ...,
    *,
    runtime: str | None = ...,
    dtype: str = ...,
    threads: int | None = ...,
    batch: int | None = ...,
    input_shapes: Mapping[str, Sequence[int]] | None = ...,
    example_inputs: Any = ...,
    registry: Any = ...,
    strict: bool = ...,
    semantics: str = ...,
    prompt: int,
    generate: int | None = ...,
    images: int | None = ...,
) -> Generation: ...
@overload
def estimate(
    model: Any,
    hw: str | Hardware | DeviceContext = ...,
    *,
    runtime: str | None = ...,
    dtype: str = ...,
    threads: int | None = ...,
    batch: int | None = ...,
    input_shapes: Mapping[str, Sequence[int]] | None = ...,
    example_inputs: Any = ...,
    registry: Any = ...,
    strict: bool = ...,
    semantics: str = ...,
    prompt: None = ...,
    generate: None = ...,
    images: None = ...,
) -> Estimate: ...
def estimate(
    model: Any,
    hw: str | Hardware | DeviceContext = "i7-12700K",
    *,
    runtime: str | None = None,
    dtype: str = "fp32",
    threads: int | None = None,
    batch: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    example_inputs: Any = None,
    registry: Any = None,
    strict: bool = False,
    semantics: str = DEFAULT_SEMANTICS,
    prompt: int | None = None,
    generate: int | None = None,
    images: int | None = None,
) -> Estimate | Generation:
    """Latency of ``model`` on ``hw`` under ``runtime``, with a 95% interval.

    ``threads=None`` uses every physical core (``hw.cores``), onnxruntime's default intra-op
    thread count; on GPUs the thread count does not change the device's peaks. ``runtime=None``
    picks the usual runtime of the device type (:data:`estimator.device.DEFAULT_RUNTIME`).
    ``semantics``: what a NAS-Bench-201 arch string means (see :func:`prepare`).

    A decoder (a Hugging Face config dict, a ``config.json`` path with ``prompt=``, a decoder
    preset name or an ONNX decoder with past-key-value inputs with ``prompt=``) gives a
    :class:`estimator.llm.Generation` instead: TTFT, TPOT against KV length, end to end,
    memory, per stage and per block, for ``prompt`` tokens (default 512), ``generate`` new
    tokens (default 128), ``batch`` sequences and ``images`` images per sequence
    (:func:`estimator.llm.estimate_generation`).
    """
    if _is_decoder(model, prompt, generate, images):
        from estimator.llm.generation import DEFAULT_GENERATE, DEFAULT_PROMPT, estimate_generation

        return estimate_generation(
            model,
            hw,
            prompt=DEFAULT_PROMPT if prompt is None else prompt,
            generate=DEFAULT_GENERATE if generate is None else generate,
            batch=1 if batch is None else batch,
            images=0 if images is None else images,
            runtime=runtime,
            dtype=dtype,
            threads=threads,
            registry=registry,
        )
    ctx = device_context(hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry)
    prep = prepare(
        model,
        runtime=ctx.runtime,
        batch=batch,
        input_shapes=input_shapes,
        example_inputs=example_inputs,
        strict=strict,
        semantics=semantics,
        nchwc_block=ctx.nchwc_block,
    )
    return _estimate(prep, ctx)


def _is_decoder(model: Any, prompt: int | None, generate: int | None, images: int | None) -> bool:
    """Whether ``estimate`` was given a decoder to generate with (see its docstring)."""
    from estimator.llm.config import LlmSpec, is_decoder_config
    from estimator.llm.generation import is_onnx_model
    from estimator.zoo.decoders_ir import PRESETS, DecoderConfig

    asked = prompt is not None or generate is not None or images is not None
    if isinstance(model, Mapping | DecoderConfig | LlmSpec):
        return True
    if isinstance(model, str | Path) and is_decoder_config(model):
        if prompt is None:
            raise InputError(
                f"{model} is a decoder config: pass prompt= (and generate=, batch=, images=) "
                "to estimate a generation"
            )
        return True
    if isinstance(model, str) and model in PRESETS and asked:
        return True
    if asked and is_onnx_model(model):
        return True  # an ONNX decoder with past-key-value inputs (checked when it is read)
    if asked:
        raise InputError(
            "prompt=, generate= and images= apply to decoders (a config.json, a config dict or "
            "a decoder preset); this model is not one"
        )
    return False


@with_gc_paused
def _estimate(prep: Prepared, ctx: DeviceContext) -> Estimate:
    with np.errstate(all="ignore"):  # absurd registry figures are reported below, not warned
        kt = predict_kernels(prep.plan, ctx)
        totals = kt.totals(ctx.device_sigma)
        lo, hi = totals.interval()
    total = float(totals.mean[0])
    var = float(totals.var[0])
    if not all(math.isfinite(x) for x in (total, var, float(lo[0]), float(hi[0]))):
        where = ctx.hardware.source_dir or ctx.hardware.id
        raise RegistryError(
            f"{ctx.hardware.id}: the estimate overflows (latency {total:g} s, variance {var:g}): "
            f"a peak, bandwidth, cache or overhead figure in {where} is out of any physical range"
        )
    t, v, bound = kt.time, kt.var, kt.bound
    share = t / total if total > 0 else np.zeros_like(t)
    rows = tuple(
        KernelRow(
            name=k.name,
            category=str(k.category),
            ops=k.ops,
            sources=k.sources,
            flops=k.flops,
            bytes=k.bytes,
            time_ms=float(ti) * _S_TO_MS,
            std_ms=float(np.sqrt(vi)) * _S_TO_MS,
            bound=BOUND_NAMES[int(b)],
            share=float(s),
            modeled=k.modeled,
            fusion=k.fusion,
            work=k.work_on(ctx.elementary),
        )
        for k, ti, vi, b, s in zip(prep.plan.kernels, t, v, bound, share, strict=True)
    )
    summary = {name: float(share[bound == i].sum()) for i, name in enumerate(BOUND_NAMES)}
    cost = prep.cost
    disp = ctx.profile.dispersion
    return Estimate(
        model=prep.graph.name,
        hardware=ctx.hardware.id,
        runtime=ctx.runtime,
        dtype=ctx.dtype,
        threads=ctx.threads,
        calibrated=ctx.profile.calibrated,
        calibration_source=ctx.profile.provenance.source,
        latency_ms=total * _S_TO_MS,
        std_ms=float(np.sqrt(var)) * _S_TO_MS,
        ci95_low_ms=float(lo[0]) * _S_TO_MS,
        ci95_high_ms=float(hi[0]) * _S_TO_MS,
        kernels=rows,
        flops=cost.flops,
        macs=cost.macs,
        params=cost.params,
        weight_bytes=cost.weight_bytes,
        activation_bytes=cost.activation_bytes,
        peak_activation_bytes=cost.peak_activation_bytes,
        unmodeled=dict(cost.unmodeled),
        bound_summary=summary,
        notes=_notes(ctx, prep),
        p90_ms=None if disp is None else disp.p90.at(total * _S_TO_MS),
        p99_ms=None if disp is None else disp.p99.at(total * _S_TO_MS),
    )


def _notes(ctx: DeviceContext, prep: Prepared) -> tuple[str, ...]:
    notes: list[str] = []
    profile, cost, plan = ctx.profile, prep.cost, prep.plan
    if not profile.calibrated:
        notes.append(
            f"uncalibrated: efficiency priors of device type '{ctx.hardware.type}' "
            "(see calibration_source); intervals are wide"
        )
        measured = ctx.hardware.measured
        if measured is not None and ctx.hardware.source_dir is None:
            notes.append(
                f"roofline measured just now by a {'quick ' if measured.quick else ''}probe "
                f"({measured.seconds:g} s) and not written; `calibrate-hardware --hw host` "
                "writes and calibrates this machine's entry"
            )
    else:
        if not profile.threads_matched:
            notes.append(
                f"profile fitted at {profile.threads} threads, used for {ctx.threads} threads"
            )
        if profile.prior_categories:
            cats = ", ".join(str(c) for c in profile.prior_categories)
            notes.append(f"categories without calibration, taken from the prior: {cats}")
    fitted_for = profile.provenance.nb201_semantics
    used = (
        prep.graph.metadata.get("semantics")
        if prep.graph.metadata.get("source") == "nb201"
        else None
    )
    if fitted_for and used and used != fitted_for:
        notes.append(
            f"NAS-Bench-201 semantics: the profile was fitted on '{fitted_for}' networks, this "
            f"estimate is for the '{used}' network"
        )
    if profile.dispersion is None:
        notes.append("run-to-run dispersion not calibrated: no p90/p99")
    if ctx.kernel_model is not None:
        notes.append(
            "kernel times: roofline curves x a learned shape correction "
            f"({profile.provenance.kernel_model})"
        )
    if ctx.arrays.fallback_categories:
        notes.append(
            "categories without curves, using the 'other' curves: "
            + ", ".join(ctx.arrays.fallback_categories)
        )
    if cost.unmodeled:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(cost.unmodeled.items()))
        notes.append(f"unmodeled ops costed as memory traffic only: {ops}")
    graph_floats = {
        str(k.dtype)
        for k in plan.kernels
        if k.dtype.is_float and dtype_key(str(k.dtype)) != ctx.dtype
    }
    if graph_floats:
        notes.append(
            f"graph tensors are {', '.join(sorted(graph_floats))} but dtype={ctx.dtype}: peaks "
            f"use {ctx.dtype}, bytes use the graph's element sizes"
        )
    notes.append(f"fusion rules: {ctx.rules_provenance.get('verified_with', 'unverified')}")
    missing = [m for m in NOT_MODELED if not (ctx.nchwc_block and m.startswith("layout reorders"))]
    notes.append("not modeled: " + "; ".join(missing))
    return tuple(notes)


def estimate_many(
    models: Sequence[Any],
    hw: str | Hardware | DeviceContext = "i7-12700K",
    *,
    runtime: str | None = None,
    dtype: str = "fp32",
    threads: int | None = None,
    batch: int | None = None,
    registry: Any = None,
    strict: bool = False,
    semantics: str = DEFAULT_SEMANTICS,
) -> BatchEstimate:
    """Totals of many models in one engine call (NAS scoring): the same numbers as
    ``[estimate(m, hw, ...) for m in models]``, without the per-kernel breakdown.

    ``models`` holds anything :func:`estimate` takes (paths, zoo names, arch strings, Graphs,
    onnx or torch models are loaded with :func:`prepare`), Prepared models, or KernelPlans
    partitioned for the same runtime.
    """
    ctx = device_context(hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry)
    plans: list[KernelPlan] = []
    for m in models:
        if isinstance(m, KernelPlan):
            plans.append(m)
        elif isinstance(m, Prepared):
            plans.append(prepare(m, runtime=ctx.runtime, nchwc_block=ctx.nchwc_block).plan)
        else:
            prep = prepare(
                m,
                runtime=ctx.runtime,
                batch=batch,
                strict=strict,
                semantics=semantics,
                nchwc_block=ctx.nchwc_block,
            )
            plans.append(prep.plan)
    return BatchEstimate.of([p.graph_name for p in plans], predict_models(plans, ctx), ctx)
