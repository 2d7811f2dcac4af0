"""A generation priced stage by stage: image encoding, prefill (TTFT), decode steps (TPOT).

Each stage is one or more forward passes built as the IR (:mod:`estimator.zoo.decoders_ir`,
:mod:`estimator.llm.vision`), costed, partitioned for the runtime and timed by the one predictor
on the one device context, exactly as :func:`estimator.estimate.estimate` times any model. What
is specific to a generation:

* decode is priced at up to ``MAX_DECODE_POINTS`` KV lengths from the first step to the last;
  the steps between are interpolated linearly (attention and cache traffic grow linearly with
  the KV length, everything else is constant);
* weights and cached K/V are *streamed*: a pass reads each of them once, and the next read of
  the same tensor comes a whole pass later, so those kernels take the bandwidth of the memory
  level that holds the pass's whole footprint (DRAM for any real model), not that of a cache
  their own operands would fit in. That is a reuse distance, not an efficiency figure;
* the physical floor of a decode step, streamed bytes / that level's bandwidth, is reported with
  each step, and the estimate can never be below it (each kernel moves its bytes at most at the
  level's bandwidth).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from estimator.analysis import analyze_graph
from estimator.device import DeviceContext, device_context
from estimator.engine import BOUND_NAMES
from estimator.errors import InputError
from estimator.estimate import prepare
from estimator.identity_cache import IdentityCache
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph
from estimator.llm.blocks import BLOCKS, block_of
from estimator.llm.config import LlmSpec, load_config, parse_config
from estimator.llm.memory import (
    Memory,
    activation_peak,
    decoder_params,
    is_kv_input,
    kv_cache_bytes,
    memory_need,
    streamed_bytes,
)
from estimator.llm.runtimes import (
    LlmRuntime,
    attention_profile,
    default_llm_runtime,
    llm_runtime,
)
from estimator.llm.vision import vision_graph
from estimator.predictor import interval, predict_kernels, total_var
from estimator.registry.loader import load_hardware
from estimator.registry.models import Hardware
from estimator.zoo.decoders_ir import PRESETS, DecoderConfig, decoder_graph

#: Version of the JSON document ``Generation.to_dict()`` produces.
SCHEMA_VERSION = 1
DEFAULT_PROMPT = 512
DEFAULT_GENERATE = 128
#: KV lengths at which decode steps are priced (the ends included); others are interpolated.
MAX_DECODE_POINTS = 9
_S_TO_MS = 1e3
_IR_DTYPE = {"fp32": DType.FLOAT32, "fp16": DType.FLOAT16, "bf16": DType.BFLOAT16}

#: Effects no generation estimate includes, on top of those of every estimate.
NOT_MODELED: tuple[str, ...] = (
    "tokenization, sampling and detokenization",
    "scheduling between requests (continuous batching, preemption) and host-device transfers",
    "the KV-cache append where the runtime writes it in place (only the new token's K/V)",
    "session creation, first-run warm-up and memory allocation",
    "thermal or power throttling and other processes sharing the device",
)


@dataclass(frozen=True, slots=True)
class Workload:
    """What is generated: ``prompt`` text tokens, ``generate`` new tokens per sequence,
    ``batch`` sequences at once, ``images`` images per sequence (a VLM)."""

    prompt: int = DEFAULT_PROMPT
    generate: int = DEFAULT_GENERATE
    batch: int = 1
    images: int = 0

    def __post_init__(self) -> None:
        for field, low in (("prompt", 1), ("generate", 1), ("batch", 1), ("images", 0)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InputError(f"{field} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage's total: vision (all images), prefill, or decode (all steps)."""

    name: str
    latency_ms: float
    std_ms: float
    ci95_low_ms: float
    ci95_high_ms: float
    #: Forward passes in the stage (decode: steps).
    passes: int
    flops: int
    #: Bytes the stage's kernels move (after the runtime's fusion).
    bytes: int
    #: Block key (:data:`estimator.llm.blocks.BLOCKS`) -> milliseconds.
    blocks: dict[str, float]
    #: Bound name -> share of the stage's time.
    bound_summary: dict[str, float]


@dataclass(frozen=True, slots=True)
class DecodeStep:
    """One priced decode step: the token at ``step`` (1 = the first after the prefill) attends
    to ``kv_len`` cached positions."""

    step: int
    kv_len: int
    tpot_ms: float
    std_ms: float
    #: The lognormal interval, its low end raised to ``floor_ms`` where it fell below.
    ci95_low_ms: float
    ci95_high_ms: float
    #: Streamed bytes / the bandwidth of the memory level holding them.
    floor_ms: float
    weight_bytes_read: int
    kv_bytes_read: int


@dataclass(frozen=True, slots=True)
class Generation:
    """A generation's estimate: TTFT, TPOT against KV length, end to end, memory, breakdowns."""

    model: str
    family: str
    hardware: str
    runtime: str
    dtype: str
    threads: int
    calibrated: bool
    calibration_source: str
    prompt: int
    generate: int
    batch: int
    images: int
    #: Tokens one image adds to the prompt (0 without a vision tower).
    image_tokens: int
    #: Positions the prefill runs: prompt + images x image_tokens.
    prefill_tokens: int
    #: Time to first token: image encoding + prefill.
    ttft_ms: float
    ttft_ci95_low_ms: float
    ttft_ci95_high_ms: float
    tpot_first_ms: float
    tpot_mean_ms: float
    tpot_last_ms: float
    e2e_ms: float
    e2e_std_ms: float
    e2e_ci95_low_ms: float
    e2e_ci95_high_ms: float
    #: batch x generate tokens over the end-to-end time.
    tokens_per_s: float
    #: batch tokens per mean decode step.
    decode_tokens_per_s: float
    stages: tuple[Stage, ...]
    decode_steps: tuple[DecodeStep, ...]
    memory: Memory
    params: int
    #: Op type -> nodes costed as memory traffic only, over every pass.
    unmodeled: dict[str, int]
    notes: tuple[str, ...]
    schema_version: int = SCHEMA_VERSION

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def stage_shares(self) -> dict[str, float]:
        """Stage name -> share of the end-to-end time."""
        return {
            s.name: (s.latency_ms / self.e2e_ms if self.e2e_ms > 0 else 0.0) for s in self.stages
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        d["stages"] = [asdict(s) for s in self.stages]
        d["decode_steps"] = [asdict(s) for s in self.decode_steps]
        return {
            "schema_version": self.schema_version,
            **{k: v for k, v in d.items() if k != "schema_version"},
        }


def load_spec(model: Any) -> LlmSpec:
    """An :class:`LlmSpec` from a config dict, a ``config.json`` path, a decoder preset name,
    a :class:`DecoderConfig` or a spec."""
    if isinstance(model, LlmSpec):
        return model
    if isinstance(model, DecoderConfig):
        return LlmSpec(model, "zoo")
    if isinstance(model, Mapping):
        return parse_config(model)
    if isinstance(model, str | Path):
        if str(model) in PRESETS:
            return LlmSpec(PRESETS[str(model)](), "zoo")
        return load_config(model)
    raise InputError(
        "a decoder is a config dict, a config.json path or a preset name, got "
        f"{type(model).__name__}"
    )


def is_onnx_model(model: Any) -> bool:
    """An ``.onnx`` path or an ``onnx.ModelProto`` (a decoder or not: reading it tells)."""
    if isinstance(model, str | os.PathLike):
        return Path(model).suffix.lower() == ".onnx"
    return type(model).__module__.startswith("onnx") and hasattr(model, "graph")


@dataclass(frozen=True, slots=True)
class _Pass:
    """One forward pass priced on the device."""

    time: float
    kernel_var: float
    flops: int
    bytes: int
    blocks: NDArray[np.float64]
    bound: NDArray[np.float64]
    weight_read: int
    kv_read: int
    floor: float
    unmodeled: dict[str, int]


_BLOCK_KEYS = tuple(BLOCKS)


def _level_bandwidth(ctx: DeviceContext, footprint: float) -> float:
    """Bandwidth [B/s] of the first memory level holding ``footprint`` bytes, else DRAM (the
    engine's rule, applied to a whole pass)."""
    for size, bw in zip(ctx.arrays.level_size, ctx.arrays.level_bw, strict=True):
        if footprint <= size:
            return float(bw)
    return float(ctx.arrays.dram_bw)


def measure_pass(graph: Graph, ctx: DeviceContext, footprint: float) -> _Pass:
    """Price one pass whose whole model streams ``footprint`` bytes (weights and cached K/V)."""
    prep = prepare(graph, runtime=ctx.runtime, nchwc_block=ctx.nchwc_block)
    plan = prep.plan
    weight_read, kv_read = streamed_bytes(graph)
    readers = {
        n.name
        for n in graph.nodes
        if any(t.is_const and t.numel > 1 for t in n.inputs)
        or any(is_kv_input(t.name) for t in n.inputs)
    }
    arrays = plan.arrays_for(ctx.elementary)
    streamed = np.array([any(m in readers for m in k.nodes) for k in plan.kernels], dtype=bool)
    ws = np.where(streamed, np.maximum(arrays.working_set, footprint), arrays.working_set)
    kt = predict_kernels(arrays.with_columns(working_set=np.ascontiguousarray(ws)), ctx)
    block_idx = np.array([_BLOCK_KEYS.index(block_of(k.nodes[0])) for k in plan.kernels])
    blocks = np.bincount(block_idx, weights=kt.time, minlength=len(_BLOCK_KEYS)).astype(float)
    bound = np.bincount(kt.bound.astype(np.int64), weights=kt.time, minlength=len(BOUND_NAMES))
    cost = prep.cost
    return _Pass(
        time=float(kt.time.sum()),
        kernel_var=float(kt.var.sum()),
        flops=cost.flops,
        bytes=sum(k.bytes for k in plan.kernels),
        blocks=blocks,
        bound=bound.astype(float),
        weight_read=weight_read,
        kv_read=kv_read,
        floor=footprint / _level_bandwidth(ctx, footprint),
        unmodeled=dict(cost.unmodeled),
    )


def price_stack(
    build: Callable[[int], Graph], layers: int, ctx: DeviceContext
) -> tuple[_Pass, Graph]:
    """One pass of a model of ``layers`` identical layers, and the smallest graph priced.

    The pass is priced from its 1- and 2-layer graphs and extrapolated: every kernel of a layer
    is the same in every layer (same shapes, same streamed footprint, which is the whole
    model's), so X(L) = X(1) + (L - 1) * (X(2) - X(1)) is exact for times, variances, FLOPs and
    bytes, and a 32-layer model costs the engine two small graphs instead of one large one.
    """
    if layers <= 2:
        g = build(layers)
        return price_graph(g, ctx), g
    return price_layers([(build, layers)], ctx)


def price_graph(graph: Graph, ctx: DeviceContext) -> _Pass:
    """One pass of a whole model's graph: its footprint is the weights and cache it streams."""
    w, kv = streamed_bytes(graph)
    return measure_pass(graph, ctx, float(w + kv))


def _combine(ones: Sequence[Any], twos: Sequence[Any], counts: Sequence[int]) -> Any:
    """X = (X1(1) - D1) + sum_j counts[j] * Dj with Dj = Xj(2) - Xj(1): what is outside the
    layers (from the first kind) plus each kind's per-layer share."""
    out = 2 * ones[0] - twos[0]
    for a, b, c in zip(ones, twos, counts, strict=True):
        out = out + c * (b - a)
    return out


def price_layers(
    kinds: Sequence[tuple[Callable[[int], Graph], int]], ctx: DeviceContext
) -> tuple[_Pass, Graph]:
    """One pass of a model whose layers come in kinds: ``kinds[j]`` = (builder of an n-layer
    model of kind j only, layers of that kind), e.g. full-attention and sliding-window layers.

    Each kind's per-layer share is its 2-layer minus its 1-layer graph, and what lies outside
    the layers (embedding, head) is the same in every kind, so the sum is exact as
    :func:`price_stack`'s extrapolation is (that is the case of one kind).
    """
    graphs = [(build(1), build(2)) for build, _ in kinds]
    counts = [c for _, c in kinds]
    sb1 = [streamed_bytes(g1) for g1, _ in graphs]
    sb2 = [streamed_bytes(g2) for _, g2 in graphs]
    w = round(_combine([x[0] for x in sb1], [x[0] for x in sb2], counts))
    kv = round(_combine([x[1] for x in sb1], [x[1] for x in sb2], counts))
    foot = float(w + kv)
    p1 = [measure_pass(g1, ctx, foot) for g1, _ in graphs]
    p2 = [measure_pass(g2, ctx, foot) for _, g2 in graphs]

    def comb(field: str) -> Any:
        return _combine([getattr(p, field) for p in p1], [getattr(p, field) for p in p2], counts)

    ops = set().union(*(p.unmodeled for p in p1 + p2))
    return (
        _Pass(
            time=float(comb("time")),
            kernel_var=float(comb("kernel_var")),
            flops=round(comb("flops")),
            bytes=round(comb("bytes")),
            blocks=comb("blocks"),
            bound=comb("bound"),
            weight_read=w,
            kv_read=kv,
            floor=foot / _level_bandwidth(ctx, foot),
            unmodeled={
                op: round(
                    _combine(
                        [p.unmodeled.get(op, 0) for p in p1],
                        [p.unmodeled.get(op, 0) for p in p2],
                        counts,
                    )
                )
                for op in ops
            },
        ),
        graphs[0][1],
    )


def stack_params(build: Callable[[int], Graph], layers: int) -> int:
    """Parameters of ``layers`` identical layers from the 1- and 2-layer graphs (exact)."""
    one, two = (analyze_graph(build(n)).params for n in (1, 2))
    return one + (layers - 1) * (two - one)


def _ms_interval(mean: float, kvar: float, sigma: float) -> tuple[float, float, float]:
    m, v = np.array([mean]), np.array([kvar])
    lo, hi = interval(m, v, sigma)
    sd = math.sqrt(float(total_var(m, v, sigma)[0]))
    return sd * _S_TO_MS, float(lo[0]) * _S_TO_MS, float(hi[0]) * _S_TO_MS


def _stage(name: str, passes: Sequence[_Pass], weights: Sequence[float], sigma: float) -> Stage:
    w = np.asarray(weights, dtype=float)
    mean = float(sum(wi * p.time for wi, p in zip(w, passes, strict=True)))
    kvar = float(sum(wi * p.kernel_var for wi, p in zip(w, passes, strict=True)))
    blocks = sum(
        (wi * p.blocks for wi, p in zip(w, passes, strict=True)), np.zeros(len(_BLOCK_KEYS))
    )
    bound = sum((wi * p.bound for wi, p in zip(w, passes, strict=True)), np.zeros(len(BOUND_NAMES)))
    sd, lo, hi = _ms_interval(mean, kvar, sigma)
    return Stage(
        name=name,
        latency_ms=mean * _S_TO_MS,
        std_ms=sd,
        ci95_low_ms=lo,
        ci95_high_ms=hi,
        passes=round(float(w.sum())),
        flops=round(sum(wi * p.flops for wi, p in zip(w, passes, strict=True))),
        bytes=round(sum(wi * p.bytes for wi, p in zip(w, passes, strict=True))),
        blocks={k: float(v) * _S_TO_MS for k, v in zip(_BLOCK_KEYS, blocks, strict=True) if v > 0},
        bound_summary={
            k: (float(v) / mean if mean > 0 else 0.0)
            for k, v in zip(BOUND_NAMES, bound, strict=True)
        },
    )


def decode_points(steps: int, most: int = MAX_DECODE_POINTS) -> list[int]:
    """Step indices (0-based) at which decode is priced: all of them up to ``most``, else
    ``most`` evenly spaced ones, the first and last included."""
    if steps <= most:
        return list(range(steps))
    return sorted({round(x) for x in np.linspace(0, steps - 1, most)})


def interpolation_weights(points: Sequence[int], steps: int) -> NDArray[np.float64]:
    """w with sum_s f(s) = w @ f(points) for f linear between consecutive points."""
    w = np.zeros(len(points))
    for s in range(steps):
        j = int(np.searchsorted(points, s, side="right")) - 1
        if points[j] == s:
            w[j] += 1.0
            continue
        a, b = points[j], points[j + 1]
        t = (s - a) / (b - a)
        w[j] += 1.0 - t
        w[j + 1] += t
    return w


_SERVING_CTX: IdentityCache[DeviceContext] = IdentityCache(32)


def llm_context(
    hw: str | Hardware | DeviceContext,
    runtime: str | None,
    dtype: str,
    threads: int | None,
    registry: Any,
) -> tuple[DeviceContext, LlmRuntime]:
    """The device context of an LLM estimate and the runtime's decoder options.

    Where the device has no calibrated profile for the runtime and the runtime carries its own
    attention-kernel prior (fused serving), that prior replaces the device type's attention
    curves.
    """
    if isinstance(hw, DeviceContext):
        return hw, llm_runtime(hw.runtime)[1]
    device = load_hardware(hw, registry)
    name, opts = llm_runtime(runtime or default_llm_runtime(str(device.type)))
    ctx = device_context(device, runtime=name, dtype=dtype, threads=threads, registry=registry)
    if ctx.profile.calibrated or opts.attention is None:
        return ctx, opts
    hit = _SERVING_CTX.get((ctx,), ())
    if hit is None:
        prof = attention_profile(ctx.profile, opts.attention)
        hit = _SERVING_CTX.put(
            (ctx,),
            (),
            device_context(
                device,
                runtime=name,
                dtype=dtype,
                threads=ctx.threads,
                registry=registry,
                profile=prof,
            ),
        )
    return hit, opts


def estimate_generation(
    model: Any,
    hw: str | Hardware | DeviceContext = "h100",
    *,
    prompt: int = DEFAULT_PROMPT,
    generate: int = DEFAULT_GENERATE,
    batch: int = 1,
    images: int = 0,
    runtime: str | None = None,
    dtype: str = "fp16",
    threads: int | None = None,
    registry: Any = None,
) -> Generation:
    """Estimate generating ``generate`` tokens after a ``prompt``-token prompt (``images``
    images per sequence for a VLM), ``batch`` sequences at once, on ``hw``.

    ``model``: a Hugging Face config dict, a ``config.json`` path, a decoder preset name
    (``gpt2_small``, ``llama_7b``, ``tiny_llama``), a :class:`DecoderConfig`, or an ONNX
    decoder with past-key-value inputs (an ``.onnx`` path or a ``ModelProto``:
    :mod:`estimator.llm.onnx_decoder`).
    ``runtime=None``: the usual LLM runtime of the device type
    (``hardware_registry/llm/llm-runtimes.json``: fused serving on GPUs, onnxruntime on CPUs).
    """
    work = Workload(prompt, generate, batch, images)
    if is_onnx_model(model):
        from estimator.llm.onnx_decoder import estimate_onnx_generation

        return estimate_onnx_generation(
            model,
            hw,
            work=work,
            runtime=runtime,
            dtype=dtype,
            threads=threads,
            registry=registry,
        )
    spec = load_spec(model)
    ctx, opts = llm_context(hw, runtime, dtype, threads, registry)
    if ctx.dtype not in _IR_DTYPE:
        raise InputError(f"LLM estimates support dtypes {', '.join(_IR_DTYPE)}, got {ctx.dtype}")
    ir_dtype = _IR_DTYPE[ctx.dtype]
    cfg = spec.text
    if work.images and spec.vision is None:
        raise InputError(f"{spec.name}: images={work.images} but the config has no vision tower")
    image_tokens = spec.vision.image_tokens if spec.vision is not None else 0
    prefill_tokens = work.prompt + work.images * image_tokens
    final_positions = prefill_tokens + work.generate - 1
    if spec.max_positions is not None and final_positions > spec.max_positions:
        raise InputError(
            f"{spec.name}: {final_positions} positions exceed max_position_embeddings="
            f"{spec.max_positions}"
        )
    unmodeled: dict[str, int] = {}

    vision_pass: _Pass | None = None
    vision_peak = 0
    vision_params = 0
    tower = spec.vision
    if tower is not None:

        def vision(n: int, count: int = work.images * work.batch) -> Graph:
            return vision_graph(
                replace(tower, layers=n),
                cfg.hidden,
                max(count, 1),
                dtype=ir_dtype,
                fused_projections=opts.fused_projections,
            )

        vision_params = stack_params(lambda n: vision(n, 1), tower.layers)
        if work.images:
            vision_pass, vg = price_stack(vision, tower.layers, ctx)
            vision_peak = activation_peak(vg)
            count_unmodeled(unmodeled, vision_pass, 1)

    window = opts.sliding_window.windowed_attention and cfg.sliding_window is not None
    windowed = cfg.windowed_layers if window else 0

    def text_graph(n: int, kv: int | None = None, full: int | None = None) -> Graph:
        """The prefill (kv None) or a decode step at ``kv`` cached positions, ``n`` layers, the
        first ``full`` of them without the window (None: as the config says)."""
        layer_cfg = replace(cfg, layers=n)
        if full is not None:
            layer_cfg = replace(layer_cfg, full_attention_layers=full)
        return decoder_graph(
            layer_cfg,
            "prefill" if kv is None else "decode",
            seq_len=prefill_tokens,
            kv_len=kv or 0,
            batch=work.batch,
            dtype=ir_dtype,
            fused_projections=opts.fused_projections,
            last_logits_only=opts.last_logits_only,
            attention_window=window,
        )

    def text_pass(kv: int | None) -> tuple[_Pass, Graph]:
        if windowed in (0, cfg.layers) or cfg.layers <= 2:
            return price_stack(partial(text_graph, kv=kv), cfg.layers, ctx)

        # full-attention layers first, then windowed ones (Qwen2's max_window_layers)
        def full_kind(n: int) -> Graph:
            return text_graph(n, kv, full=n)

        window_kind = partial(text_graph, kv=kv, full=0)
        return price_layers([(full_kind, cfg.layers - windowed), (window_kind, windowed)], ctx)

    prefill, pg = text_pass(None)
    prefill_peak = activation_peak(pg)
    count_unmodeled(unmodeled, prefill, 1)

    params = decoder_params(cfg) + vision_params
    mem = memory_need(
        params * ir_dtype.itemsize,
        kv_cache_bytes(
            cfg,
            work.batch,
            final_positions,
            ir_dtype,
            rolling=window and opts.sliding_window.rolling_cache,
        ),
        max(prefill_peak, vision_peak),
        ctx.hardware.memory.size_gb,
    )
    return assemble_generation(
        model=spec.name,
        family=spec.family,
        ctx=ctx,
        opts=opts,
        work=work,
        image_tokens=image_tokens,
        prefill_tokens=prefill_tokens,
        vision_pass=vision_pass,
        prefill=prefill,
        decode_pass=lambda kv: text_pass(kv)[0],
        memory=mem,
        params=params,
        unmodeled=unmodeled,
        model_notes=model_notes(spec, opts),
    )


def model_notes(spec: LlmSpec, opts: LlmRuntime) -> list[str]:
    """What a config-built generation says about its model (MoE routing, image features, the
    sliding window as the runtime runs it, what the config holds that is not modelled)."""
    notes: list[str] = []
    cfg = spec.text
    if cfg.sliding_window is not None:
        sw = opts.sliding_window
        layers = (
            "every layer"
            if cfg.windowed_layers == cfg.layers
            else f"layers {cfg.full_attention_layers}-{cfg.layers - 1}"
        )
        what = {
            "rolling": "attention over min(L, window) positions and a rolling cache of the "
            "window (KV memory capped at it)",
            "masked": "attention over min(L, window) positions; the cache keeps every position",
            "full": "attention costed over every cached position, the cache keeps them all",
        }[sw.policy]
        notes.append(
            f"sliding_window={cfg.sliding_window} ({layers}), runtime policy {sw.policy!r}: "
            f"{what} ({sw.source})"
        )
    if spec.text.moe:
        notes.append(
            "MoE: tokens are routed evenly over the experts that receive any (balanced routing); "
            "FLOPs and weight reads count those experts, memory counts all of them"
        )
    if spec.vision is not None:
        notes.append(
            "image features enter the prefill through the embedding step (costed as a gather of "
            "the same size)"
        )
    notes.extend(spec.notes)
    return notes


def count_unmodeled(into: dict[str, int], p: _Pass, times: float) -> None:
    """Add ``times`` passes' worth of ``p``'s unmodeled op counts to ``into``."""
    for op, n in p.unmodeled.items():
        into[op] = into.get(op, 0) + round(n * times)


def assemble_generation(
    *,
    model: str,
    family: str,
    ctx: DeviceContext,
    opts: LlmRuntime,
    work: Workload,
    image_tokens: int,
    prefill_tokens: int,
    vision_pass: _Pass | None,
    prefill: _Pass,
    decode_pass: Callable[[int], _Pass],
    memory: Memory,
    params: int,
    unmodeled: dict[str, int],
    model_notes: Sequence[str],
) -> Generation:
    """The generation from its priced passes: decode priced at :func:`decode_points` KV lengths
    by ``decode_pass(kv_len)`` and interpolated between, stages, TTFT, TPOT, end to end.

    ``unmodeled`` already holds the vision and prefill passes' counts; the decode steps' are
    added. Shared by the config route and :mod:`estimator.llm.onnx_decoder`.
    """
    sigma = ctx.device_sigma
    stages: list[Stage] = []
    if vision_pass is not None:
        stages.append(_stage("vision", [vision_pass], [1.0], sigma))
    stages.append(_stage("prefill", [prefill], [1.0], sigma))

    steps = work.generate - 1
    points = decode_points(steps)
    decode: list[_Pass] = []
    dsteps: list[DecodeStep] = []
    for s in points:
        kv = prefill_tokens + s
        p = decode_pass(kv)
        decode.append(p)
        sd, lo, hi = _ms_interval(p.time, p.kernel_var, sigma)
        lo = max(lo, p.floor * _S_TO_MS)  # no step streams its bytes faster than the floor
        dsteps.append(
            DecodeStep(
                step=s + 1,
                kv_len=kv,
                tpot_ms=p.time * _S_TO_MS,
                std_ms=sd,
                ci95_low_ms=lo,
                ci95_high_ms=hi,
                floor_ms=p.floor * _S_TO_MS,
                weight_bytes_read=p.weight_read,
                kv_bytes_read=p.kv_read,
            )
        )
    weights = interpolation_weights(points, steps)
    if decode:
        stages.append(_stage("decode", decode, list(weights), sigma))
        for p, w in zip(decode, weights, strict=True):
            count_unmodeled(unmodeled, p, w)

    passes = ([vision_pass] if vision_pass else []) + [prefill] + decode
    pw = ([1.0] if vision_pass else []) + [1.0] + list(weights)
    e2e = sum(w * p.time for w, p in zip(pw, passes, strict=True))
    e2e_kvar = sum(w * p.kernel_var for w, p in zip(pw, passes, strict=True))
    e2e_sd, e2e_lo, e2e_hi = _ms_interval(e2e, e2e_kvar, sigma)
    ttft_passes = passes[: 2 if vision_pass else 1]
    ttft = sum(p.time for p in ttft_passes)
    _, t_lo, t_hi = _ms_interval(ttft, sum(p.kernel_var for p in ttft_passes), sigma)
    tpot_mean = (e2e - ttft) / steps if steps else 0.0
    return Generation(
        model=model,
        family=family,
        hardware=ctx.hardware.id,
        runtime=ctx.runtime,
        dtype=ctx.dtype,
        threads=ctx.threads,
        calibrated=ctx.profile.calibrated,
        calibration_source=ctx.profile.provenance.source,
        prompt=work.prompt,
        generate=work.generate,
        batch=work.batch,
        images=work.images,
        image_tokens=image_tokens,
        prefill_tokens=prefill_tokens,
        ttft_ms=ttft * _S_TO_MS,
        ttft_ci95_low_ms=t_lo,
        ttft_ci95_high_ms=t_hi,
        tpot_first_ms=dsteps[0].tpot_ms if dsteps else 0.0,
        tpot_mean_ms=tpot_mean * _S_TO_MS,
        tpot_last_ms=dsteps[-1].tpot_ms if dsteps else 0.0,
        e2e_ms=e2e * _S_TO_MS,
        e2e_std_ms=e2e_sd,
        e2e_ci95_low_ms=e2e_lo,
        e2e_ci95_high_ms=e2e_hi,
        tokens_per_s=work.batch * work.generate / e2e if e2e > 0 else 0.0,
        decode_tokens_per_s=work.batch / tpot_mean if tpot_mean > 0 else 0.0,
        stages=tuple(stages),
        decode_steps=tuple(dsteps),
        memory=memory,
        params=params,
        unmodeled=unmodeled,
        notes=_notes(ctx, opts, points, steps, memory, unmodeled, model_notes),
    )


def _notes(
    ctx: DeviceContext,
    opts: LlmRuntime,
    points: Sequence[int],
    steps: int,
    mem: Memory,
    unmodeled: Mapping[str, int],
    model_notes: Sequence[str],
) -> tuple[str, ...]:
    notes: list[str] = []
    prof = ctx.profile
    if not prof.calibrated:
        notes.append(
            f"uncalibrated: efficiency priors of device type '{ctx.hardware.type}' "
            "(see calibration_source); intervals are wide"
        )
    elif not prof.threads_matched:
        notes.append(f"profile fitted at {prof.threads} threads, used for {ctx.threads} threads")
    if steps and len(points) < steps:
        notes.append(
            f"decode priced at {len(points)} of {steps} steps (KV lengths evenly spaced, ends "
            "included); the others interpolated linearly"
        )
    if mem.fits is False:
        notes.append(
            f"does not fit: {mem.total_bytes / 1e9:.1f} GB needed, {ctx.hardware.id} has "
            f"{(mem.device_bytes or 0) / 1e9:.1f} GB"
        )
    if unmodeled:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(unmodeled.items()))
        notes.append(f"unmodeled ops costed as memory traffic only: {ops}")
    notes.extend(model_notes)
    notes.append(f"decoder options: {opts.source}")
    notes.append(f"fusion rules: {ctx.rules_provenance.get('verified_with', 'unverified')}")
    notes.append("not modeled: " + "; ".join(NOT_MODELED))
    return tuple(notes)
