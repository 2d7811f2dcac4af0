"""What a generation holds in device memory and what a decode step must stream from it.

Weights count every parameter once (tied embeddings once, every expert of a MoE whether routed
or not); the KV cache is exact from the config; peak activations come from the liveness
analysis of the largest pass. The streamed bytes of a pass (every weight it reads, the cached
K/V it attends to) set the physical floor of its time: they cannot arrive faster than the
memory level holding them delivers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from estimator.analysis import analyze_graph, peak_activation_bytes
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph
from estimator.zoo.decoders_ir import DecoderConfig, decoder_graph

#: Graph-input name prefixes of cached K/V: this project's decoder graphs (``past_key.<i>``),
#: Hugging Face optimum exports (``past_key_values.<i>.key``) and older ones (``past.<i>.key``).
KV_INPUT_PREFIXES = ("past_key.", "past_value.", "past_key_values.", "past.")


def is_kv_input(name: str) -> bool:
    """Whether a graph input named ``name`` holds cached keys or values."""
    return name.startswith(KV_INPUT_PREFIXES)


@dataclass(frozen=True, slots=True)
class Memory:
    """Bytes a generation needs on the device (final KV length, largest pass)."""

    weight_bytes: int
    kv_cache_bytes: int
    peak_activation_bytes: int
    total_bytes: int
    #: The device's memory (hardware.json ``memory.size_gb`` x 1e9); None when not given.
    device_bytes: int | None
    #: total_bytes <= device_bytes; None when the device's size is unknown.
    fits: bool | None


def kv_cache_bytes(
    cfg: DecoderConfig, batch: int, positions: int, dtype: DType, *, rolling: bool = False
) -> int:
    """K and V of every layer: 2 * layers * batch * kv_heads * head_dim * positions elements.

    ``rolling``: the runtime keeps a windowed layer's cache as a rolling buffer of the window
    (:meth:`DecoderConfig.windowed`), so those layers hold min(positions, sliding_window).
    """
    held = sum(
        min(positions, cfg.sliding_window)
        if rolling and cfg.sliding_window is not None and cfg.windowed(i)
        else positions
        for i in range(cfg.layers)
    )
    return 2 * batch * cfg.kv_heads * cfg.head_dim * held * dtype.itemsize


@lru_cache(maxsize=64)
def decoder_params(cfg: DecoderConfig) -> int:
    """Parameters of ``cfg``, every expert included (a prefill long enough to route to all).

    Layers are identical, so the graphs of one and two layers give the count of any depth
    exactly: p(L) = p(1) + (L - 1) * (p(2) - p(1)).
    """
    seq = math.ceil(cfg.experts / cfg.experts_per_token) if cfg.moe else 1
    one, two = (
        analyze_graph(decoder_graph(replace(cfg, layers=n), "prefill", seq_len=seq)).params
        for n in (1, 2)
    )
    return one + (cfg.layers - 1) * (two - one)


def streamed_bytes(graph: Graph) -> tuple[int, int]:
    """(weight bytes, cached K/V bytes) one pass of ``graph`` reads.

    Every stored float tensor a node reads counts once (scalars and integer index tables, a few
    bytes, do not), except embedding tables: a gather reads only the rows it selects (an untied
    table is not streamed whole per token). Cached K/V are the graph inputs
    :func:`is_kv_input` names.
    """
    seen: dict[str, int] = {}
    gathered = 0
    for node in graph.nodes:
        consts = [t for t in node.inputs if t.is_const and t.dtype.is_float and t.numel > 1]
        if node.op == "Gather" and node.inputs and node.inputs[0].is_const:
            gathered += node.outputs[0].nbytes
            consts = consts[1:]
        for t in consts:
            seen[t.name] = t.nbytes
    kv = sum(t.nbytes for t in graph.inputs if is_kv_input(t.name))
    return sum(seen.values()) + gathered, kv


def activation_peak(graph: Graph) -> int:
    """Peak live activations of a pass, its K/V outputs excluded (they are the cache, counted
    in :func:`kv_cache_bytes`); the first output is the logits or the image features."""
    kept = Graph(name=graph.name, nodes=graph.nodes, inputs=graph.inputs, outputs=graph.outputs[:1])
    return peak_activation_bytes(kept)


def memory_need(
    weight_bytes: int, kv_bytes: int, peak_bytes: int, device_gb: float | None
) -> Memory:
    total = weight_bytes + kv_bytes + peak_bytes
    device = None if device_gb is None else int(device_gb * 1e9)
    return Memory(
        weight_bytes=weight_bytes,
        kv_cache_bytes=kv_bytes,
        peak_activation_bytes=peak_bytes,
        total_bytes=total,
        device_bytes=device,
        fits=None if device is None else total <= device,
    )
