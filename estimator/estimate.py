"""The public estimate: model + device -> latency with a 95% interval and per-kernel breakdown.

Pipeline: ``load_model`` (IR) -> ``analyze_graph`` (per-node cost) -> ``partition`` (kernels of
the runtime) -> ``load_hardware``/``load_profile`` -> packed device -> numba roofline. Parsed
models and packed devices are cached, so re-estimating a model already in memory on another device
or thread count costs only the engine call (NAS loops, sweeps).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from estimator.analysis import ModelCost, analyze_graph
from estimator.engine import (
    BOUND_NAMES,
    DeviceArrays,
    KernelArrays,
    lognormal_interval,
    pack_device,
    run_kernels,
    run_models,
)
from estimator.engine.layout import DTYPE_INDEX, DTYPE_KEYS
from estimator.errors import EstimatorError, InputError
from estimator.ir.graph import Graph
from estimator.loading import load_model
from estimator.partition import KernelPlan, load_rules, partition
from estimator.registry.elementary import load_elementary_work
from estimator.registry.loader import load_hardware, load_profile
from estimator.registry.models import EfficiencyProfile, Hardware, canonical_dtype

#: Version of the JSON document ``Estimate.to_dict()`` produces.
SCHEMA_VERSION = 1
_S_TO_MS = 1e3

#: Effects no estimate includes; every report lists them.
NOT_MODELED: tuple[str, ...] = (
    "session creation, first-run warm-up and memory allocation",
    "input/output copies and layout reorders between kernels",
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


_PREPARED: OrderedDict[tuple[int, str, bool], tuple[Graph, Prepared]] = OrderedDict()
_DEVICES: OrderedDict[tuple[int, int, int], tuple[Hardware, EfficiencyProfile, DeviceArrays]] = (
    OrderedDict()
)
_CACHE_SIZE = 64


def clear_caches() -> None:
    """Forget cached plans and packed devices (e.g. after mutating a Graph in place)."""
    _PREPARED.clear()
    _DEVICES.clear()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


def prepare(
    model: Any,
    *,
    runtime: str = "onnxruntime-cpu",
    batch: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    example_inputs: Any = None,
    strict: bool = False,
) -> Prepared:
    """Load, cost and partition ``model`` for ``runtime``; cached for Graph objects.

    The cache is keyed by the Graph's identity: a Graph mutated in place after an estimate needs
    :func:`clear_caches`.
    """
    canon = load_rules(runtime).runtime
    if isinstance(model, Prepared):
        if model.plan.runtime == canon:
            return model
        costs = {nc.node.name: nc.cost for nc in model.cost.nodes}
        return Prepared(model.graph, model.cost, partition(model.graph, canon, costs=costs))
    if isinstance(model, Graph):
        key = (id(model), canon, strict)
        hit = _PREPARED.get(key)
        if hit is not None and hit[0] is model:
            _PREPARED.move_to_end(key)
            return hit[1]
    graph = load_model(model, example_inputs=example_inputs, input_shapes=input_shapes, batch=batch)
    cost = analyze_graph(graph, strict=strict)
    plan = partition(graph, canon, costs={nc.node.name: nc.cost for nc in cost.nodes})
    prepared = Prepared(graph, cost, plan)
    if isinstance(model, Graph):
        _remember(_PREPARED, (id(model), canon, strict), (model, prepared))
    return prepared


def _device(
    hw: str | Hardware, runtime: str, dtype: str, threads: int | None, registry: Any
) -> tuple[Hardware, EfficiencyProfile, DeviceArrays]:
    device = load_hardware(hw, registry)
    n = device.cores if threads is None else threads
    if n < 1:
        raise InputError(f"threads must be >= 1, got {threads}")
    profile = load_profile(device, runtime, dtype, n, registry)
    key = (id(device), id(profile), n)
    hit = _DEVICES.get(key)
    if hit is not None and hit[0] is device and hit[1] is profile:
        return hit
    packed = (device, profile, pack_device(device, profile, n))
    _remember(_DEVICES, key, packed)
    return packed


def _dtype_key(dtype: str) -> str:
    key = canonical_dtype(dtype)
    if key not in DTYPE_INDEX:
        raise InputError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPE_KEYS)}")
    return key


def _with_dtype(arrays: KernelArrays, key: str) -> KernelArrays:
    """Run floating-point kernels at the requested precision (int8 kernels stay int8)."""
    want = DTYPE_INDEX[key]
    floats = np.array([DTYPE_INDEX[k] for k in ("fp32", "fp16", "bf16")], dtype=np.int32)
    is_float = np.isin(arrays.dtype, floats)
    if want == DTYPE_INDEX["fp32"] or not bool(is_float.any()):
        return arrays
    dt = np.where(is_float, want, arrays.dtype).astype(np.int32)
    return KernelArrays(
        arrays.flops,
        arrays.bytes,
        arrays.log_flops,
        arrays.log_bytes,
        arrays.working_set,
        arrays.category,
        dt,
    )


def _check_peak(device: Hardware, dev: DeviceArrays, arrays: KernelArrays) -> None:
    used = np.unique(arrays.dtype)
    missing = [DTYPE_KEYS[int(i)] for i in used if np.isnan(dev.peak[int(i)])]
    if missing:
        raise InputError(
            f"hardware '{device.id}' has no peak for {', '.join(missing)}; "
            f"available: {', '.join(sorted(device.peak_gflops))}"
        )


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
        rules = load_rules(runtime or default_runtime(hw, registry))
        _, _, dev = _device(hw, rules.runtime, _dtype_key(dtype), threads, registry)
        one = KernelArrays.build([1.0], [1.0], [1.0], [0], [DTYPE_INDEX["fp32"]])
        run_kernels(one, dev)
    except EstimatorError:
        pass


#: Runtime family assumed when the caller names none: what such a device usually runs.
DEFAULT_RUNTIME: dict[str, str] = {
    "cpu": "onnxruntime-cpu",
    "mobile": "onnxruntime-cpu",
    "gpu": "tensorrt",
    "accelerator": "tensorrt",
}


def default_runtime(hw: str | Hardware, registry: Any = None) -> str:
    """The runtime family :func:`estimate` uses for ``hw`` when none is given."""
    return DEFAULT_RUNTIME.get(str(load_hardware(hw, registry).type), "onnxruntime-cpu")


def estimate(
    model: Any,
    hw: str | Hardware = "i7-12700K",
    *,
    runtime: str | None = None,
    dtype: str = "fp32",
    threads: int | None = None,
    batch: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    example_inputs: Any = None,
    registry: Any = None,
    strict: bool = False,
) -> Estimate:
    """Latency of ``model`` on ``hw`` under ``runtime``, with a 95% interval.

    ``threads=None`` uses every physical core (``hw.cores``), onnxruntime's default intra-op
    thread count; on GPUs the thread count does not change the device's peaks. ``runtime=None``
    picks the usual runtime of the device type (:data:`DEFAULT_RUNTIME`).
    """
    rules = load_rules(runtime or default_runtime(hw, registry))
    key = _dtype_key(dtype)
    prep = prepare(
        model,
        runtime=rules.runtime,
        batch=batch,
        input_shapes=input_shapes,
        example_inputs=example_inputs,
        strict=strict,
    )
    device, profile, dev = _device(hw, rules.runtime, key, threads, registry)
    table = load_elementary_work(device, rules.runtime, registry)
    arrays = _with_dtype(prep.plan.arrays_for(table), key)
    _check_peak(device, dev, arrays)
    t, v, bound = run_kernels(arrays, dev)
    total = float(t.sum())
    var = float(v.sum()) + (dev.device_sigma * total) ** 2
    lo, hi = lognormal_interval(total, var)
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
            work=k.work_on(table),
        )
        for k, ti, vi, b, s in zip(prep.plan.kernels, t, v, bound, share, strict=True)
    )
    summary = {name: float(share[bound == i].sum()) for i, name in enumerate(BOUND_NAMES)}
    cost = prep.cost
    return Estimate(
        model=prep.graph.name,
        hardware=device.id,
        runtime=rules.runtime,
        dtype=key,
        threads=dev.threads,
        calibrated=profile.calibrated,
        calibration_source=profile.provenance.source,
        latency_ms=total * _S_TO_MS,
        std_ms=float(np.sqrt(var)) * _S_TO_MS,
        ci95_low_ms=float(lo) * _S_TO_MS,
        ci95_high_ms=float(hi) * _S_TO_MS,
        kernels=rows,
        flops=cost.flops,
        macs=cost.macs,
        params=cost.params,
        weight_bytes=cost.weight_bytes,
        activation_bytes=cost.activation_bytes,
        peak_activation_bytes=cost.peak_activation_bytes,
        unmodeled=dict(cost.unmodeled),
        bound_summary=summary,
        notes=_notes(device, profile, dev, cost, rules.provenance, key, prep.plan),
    )


def _notes(
    device: Hardware,
    profile: EfficiencyProfile,
    dev: DeviceArrays,
    cost: ModelCost,
    provenance: Mapping[str, Any],
    dtype: str,
    plan: KernelPlan,
) -> tuple[str, ...]:
    notes: list[str] = []
    if not profile.calibrated:
        notes.append(
            f"uncalibrated: efficiency priors of device type '{device.type}' "
            "(see calibration_source); intervals are wide"
        )
    else:
        if not profile.threads_matched:
            notes.append(
                f"profile fitted at {profile.threads} threads, used for {dev.threads} threads"
            )
        if profile.prior_categories:
            cats = ", ".join(str(c) for c in profile.prior_categories)
            notes.append(f"categories without calibration, taken from the prior: {cats}")
    if dev.fallback_categories:
        notes.append(
            "categories without curves, using the 'other' curves: "
            + ", ".join(dev.fallback_categories)
        )
    if cost.unmodeled:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(cost.unmodeled.items()))
        notes.append(f"unmodeled ops costed as memory traffic only: {ops}")
    graph_floats = {
        str(k.dtype) for k in plan.kernels if k.dtype.is_float and _dtype_key(str(k.dtype)) != dtype
    }
    if graph_floats:
        notes.append(
            f"graph tensors are {', '.join(sorted(graph_floats))} but dtype={dtype}: peaks use "
            f"{dtype}, bytes use the graph's element sizes"
        )
    notes.append(f"fusion rules: {provenance.get('verified_with', 'unverified')}")
    notes.append("not modeled: " + "; ".join(NOT_MODELED))
    return tuple(notes)


def estimate_many(
    models: Sequence[Any],
    hw: str | Hardware = "i7-12700K",
    *,
    runtime: str = "onnxruntime-cpu",
    dtype: str = "fp32",
    threads: int | None = None,
    registry: Any = None,
) -> BatchEstimate:
    """Totals of many models in one engine call (NAS scoring).

    ``models`` holds Graphs, KernelPlans or Prepared models; Graphs are partitioned with the
    per-op costs only (no graph-level totals), so no breakdown is returned.
    """
    rules = load_rules(runtime)
    key = _dtype_key(dtype)
    device, profile, dev = _device(hw, rules.runtime, key, threads, registry)
    plans: list[KernelPlan] = []
    for m in models:
        if isinstance(m, KernelPlan):
            plans.append(m)
        elif isinstance(m, Prepared):
            plans.append(m.plan)
        elif isinstance(m, Graph):
            plans.append(partition(m, rules.runtime))
        else:
            raise InputError(
                f"estimate_many takes Graph, KernelPlan or Prepared, got {type(m).__name__}"
            )
    table = load_elementary_work(device, rules.runtime, registry)
    arrays = _with_dtype(KernelArrays.concat([p.arrays_for(table) for p in plans]), key)
    _check_peak(device, dev, arrays)
    offsets = np.zeros(len(plans) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in plans])
    mean, var = run_models(offsets, arrays, dev)
    lo, hi = lognormal_interval(mean, var)
    return BatchEstimate(
        names=tuple(p.graph_name for p in plans),
        latency_ms=mean * _S_TO_MS,
        std_ms=np.sqrt(var) * _S_TO_MS,
        ci95_low_ms=lo * _S_TO_MS,
        ci95_high_ms=hi * _S_TO_MS,
        calibrated=profile.calibrated,
    )
