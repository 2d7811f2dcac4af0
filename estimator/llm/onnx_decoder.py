"""A generation estimated from an exported ONNX decoder with past-key-value inputs.

The file is the graph: every pass is the file's own graph with its symbolic dims bound, priced
by the same machinery as the config route (:func:`estimator.llm.generation.price_graph`,
:func:`estimator.llm.generation.assemble_generation`). Recognised inputs, by name (Hugging Face
optimum's ``decoder_with_past_model.onnx`` and :func:`estimator.zoo.export.export_decoder`):

* ``input_ids`` ``[batch, sequence]``, ``position_ids`` ``[batch or 1, sequence]``,
  ``cache_position`` ``[sequence]``;
* ``attention_mask`` ``[batch, past + sequence]``;
* cached K/V ``[batch, kv_heads, past, head_dim]`` named ``past_key_values.<i>.key`` /
  ``.value``, ``past.<i>.key`` / ``.value`` or ``past_key.<i>`` / ``past_value.<i>``, one key
  and one value per layer, ``kv_heads`` and ``head_dim`` fixed in the file.

The prefill binds ``sequence`` to the prompt and the past length to 0 (the cache inputs are
empty); the decode step at KV length L binds ``sequence`` to 1 and the past length to L. Every
input dim is written into the model's declared input shapes before loading, so a fixed dim that
contradicts the pass (a file exported for one sequence length) is refused naming the input.
Weights are the file's parameters (its initializers, as the cost model counts them); the KV
cache is the past inputs' shapes at the final length.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from estimator.analysis import analyze_graph, peak_activation_bytes
from estimator.errors import InputError
from estimator.frontends.onnx_frontend import _read as read_onnx
from estimator.frontends.onnx_frontend import load_onnx
from estimator.ir.graph import Graph
from estimator.llm.generation import (
    Generation,
    Workload,
    assemble_generation,
    llm_context,
    price_graph,
)
from estimator.llm.memory import memory_need
from estimator.ops import param_tensors

_PAST = (
    re.compile(r"^past_key_values\.(?P<layer>\d+)\.(?P<kv>key|value)$"),
    re.compile(r"^past\.(?P<layer>\d+)\.(?P<kv>key|value)$"),
    re.compile(r"^past_(?P<kv>key|value)\.(?P<layer>\d+)$"),
)
_PRESENT = re.compile(r"^present")
_TOKENS = ("input_ids", "position_ids", "cache_position", "attention_mask")
_KNOWN = "input_ids, attention_mask, position_ids, cache_position, past_key_values.<i>.key/.value"


@dataclass(frozen=True, slots=True)
class _Input:
    name: str
    #: Declared dims: an int (fixed), a str (symbol) or None (unknown).
    dims: tuple[int | str | None, ...]
    role: str
    itemsize: int


def _declared(vi: onnx.ValueInfoProto) -> tuple[int | str | None, ...] | None:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _role(name: str) -> str | None:
    if name in _TOKENS:
        return name
    return "past" if any(p.match(name) for p in _PAST) else None


def decoder_inputs(proto: onnx.ModelProto, label: str) -> list[_Input]:
    """The graph inputs of a decoder with a KV cache, each with its role; one line naming the
    input or the output for anything else."""
    inits = {t.name for t in proto.graph.initializer}
    found: list[_Input] = []
    layers: dict[int, set[str]] = {}
    for vi in proto.graph.input:
        if vi.name in inits:  # an initializer listed as an input (IR version < 4)
            continue
        role = _role(vi.name)
        if role is None:
            hint = (
                "; a merged export (an If on use_cache_branch): use decoder_with_past_model.onnx"
                if vi.name == "use_cache_branch"
                else ""
            )
            raise InputError(f"{label}: input {vi.name!r} is not a decoder input ({_KNOWN}){hint}")
        dims = _declared(vi)
        rank = {"past": 4, "cache_position": 1}.get(role, 2)
        if dims is None or len(dims) != rank:
            got = "unknown" if dims is None else str(len(dims))
            raise InputError(f"{label}: input {vi.name!r} has rank {got}, a decoder's has {rank}")
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).itemsize
        if role == "past":
            for i in (1, 3):
                if not isinstance(dims[i], int) or dims[i] < 1:  # type: ignore[operator]
                    what = "kv_heads" if i == 1 else "head_dim"
                    raise InputError(
                        f"{label}: input {vi.name!r} dim {i} ({what}) is {dims[i]!r}: it must "
                        "be fixed in the file to size the cache"
                    )
            m = next(p.match(vi.name) for p in _PAST if p.match(vi.name))
            assert m is not None
            layers.setdefault(int(m["layer"]), set()).add(m["kv"])
        found.append(_Input(vi.name, dims, role, itemsize))
    if not any(i.role == "input_ids" for i in found):
        raise InputError(f"{label}: no input_ids input: not a token decoder ({_KNOWN})")
    if not layers:
        raise InputError(
            f"{label}: no past key/value inputs (past_key_values.<i>.key/.value): decode steps "
            "need a decoder exported with its KV cache as inputs (optimum's "
            "decoder_with_past_model.onnx)"
        )
    for layer, kinds in sorted(layers.items()):
        for kind in sorted({"key", "value"} - kinds):
            raise InputError(
                f"{label}: layer {layer} has a cached {(kinds - {kind}).pop()} but no cached "
                f"{kind} input (past_key_values.{layer}.{kind})"
            )
    if not any(_PRESENT.match(o.name) for o in proto.graph.output):
        raise InputError(
            f"{label}: no present.* output: a decoder with a KV cache returns the new cache"
        )
    return found


def _pass_shape(inp: _Input, batch: int, seq: int, past: int) -> tuple[int, ...]:
    if inp.role == "past":
        return (batch, int(inp.dims[1] or 0), past, int(inp.dims[3] or 0))
    if inp.role == "attention_mask":
        return (batch, past + seq)
    if inp.role == "cache_position":
        return (seq,)
    if inp.role == "position_ids" and inp.dims[0] == 1:
        return (1, seq)
    return (batch, seq)


def _bind(
    proto: onnx.ModelProto, inputs: list[_Input], batch: int, seq: int, past: int, label: str
) -> None:
    """Write the pass's static shape into every declared input (in place)."""
    byname = {i.name: i for i in inputs}
    what = "the prefill" if past == 0 else f"a decode step at KV length {past}"
    for vi in proto.graph.input:
        inp = byname.get(vi.name)
        if inp is None:
            continue
        shape = _pass_shape(inp, batch, seq, past)
        for i, (want, have) in enumerate(zip(shape, inp.dims, strict=True)):
            if isinstance(have, int) and have > 0 and have != want:
                raise InputError(
                    f"{label}: input {inp.name!r} dim {i} is fixed at {have} in the file; "
                    f"{what} (batch {batch}, {seq} new tokens) needs {want}"
                )
        dims = vi.type.tensor_type.shape.dim
        for d, v in zip(dims, shape, strict=True):
            d.Clear()
            d.dim_value = v


def weight_bytes(graph: Graph) -> int:
    """Bytes of the file's parameters: the stored tensors the cost model counts as parameters
    (initializers and Constant nodes read as weights, each once), at their stored dtype."""
    counted: set[str] = set(graph.metadata.get("folded_constants", ()))
    total = 0
    for node in graph.nodes:
        for t in param_tensors(node):
            if t.name not in counted:
                counted.add(t.name)
                total += t.nbytes
    return total


def estimate_onnx_generation(
    model: str | os.PathLike[str] | onnx.ModelProto,
    hw: Any,
    *,
    work: Workload,
    runtime: str | None,
    dtype: str,
    threads: int | None,
    registry: Any,
) -> Generation:
    """The generation of ``work`` with the decoder ``model`` (an ``.onnx`` path or a
    ``ModelProto`` with past-key-value inputs) on ``hw``. See the module docstring."""
    if isinstance(model, str | os.PathLike):
        label = os.fspath(model)
        proto = read_onnx(label)
        name = Path(label).stem
    else:
        proto = onnx.ModelProto()
        proto.CopyFrom(model)  # the shapes are written into it: leave the caller's alone
        name = proto.graph.name or "decoder"
        label = f"onnx model {name!r}"
    if work.images:
        raise InputError(f"{label}: images={work.images}, but an ONNX decoder has no vision tower")
    inputs = decoder_inputs(proto, label)
    ctx, opts = llm_context(hw, runtime, dtype, threads, registry)

    def graph(seq: int, past: int) -> Graph:
        _bind(proto, inputs, work.batch, seq, past, label)
        return load_onnx(proto, name=name)

    prefill_graph = graph(work.prompt, 0)
    prefill = price_graph(prefill_graph, ctx)
    unmodeled = dict(prefill.unmodeled)
    final = work.prompt + work.generate - 1
    kv_bytes = sum(
        work.batch * int(i.dims[1] or 0) * final * int(i.dims[3] or 0) * i.itemsize
        for i in inputs
        if i.role == "past"
    )
    logits = [t for t in prefill_graph.outputs if not _PRESENT.match(t.name)]
    peak = peak_activation_bytes(
        Graph(
            name=prefill_graph.name,
            nodes=prefill_graph.nodes,
            inputs=prefill_graph.inputs,
            outputs=logits or prefill_graph.outputs[:1],
        )
    )
    mem = memory_need(weight_bytes(prefill_graph), kv_bytes, peak, ctx.hardware.memory.size_gb)
    layers = sum(1 for i in inputs if i.role == "past") // 2
    return assemble_generation(
        model=name,
        family="onnx",
        ctx=ctx,
        opts=opts,
        work=work,
        image_tokens=0,
        prefill_tokens=work.prompt,
        vision_pass=None,
        prefill=prefill,
        decode_pass=lambda kv: price_graph(graph(1, kv), ctx),
        memory=mem,
        params=analyze_graph(prefill_graph).params,
        unmodeled=unmodeled,
        model_notes=[
            f"decoder graph: the ONNX file as exported ({layers} layers with cached K/V); the "
            "runtime's decoder options (merged projections, last-position logits) do not "
            "rewrite it, its fusion rules apply",
            "prefill: the file's graph with the past length bound to 0 (empty cache inputs)",
        ],
    )


def bound_shapes(
    model: str | os.PathLike[str] | onnx.ModelProto, batch: int, seq: int, past: int
) -> Mapping[str, tuple[int, ...]]:
    """Input name -> the static shape one pass binds (for inspection and tests)."""
    proto = read_onnx(os.fspath(model)) if isinstance(model, str | os.PathLike) else model
    label = os.fspath(model) if isinstance(model, str | os.PathLike) else "onnx model"
    return {i.name: _pass_shape(i, batch, seq, past) for i in decoder_inputs(proto, label)}
