"""Measured per-node times -> the estimator's kernels -> efficiency points.

A calibration model is loaded through the same path an estimate takes (ONNX frontend, cost
rules, partitioner for onnxruntime), so each point carries exactly the FLOPs, bytes and working
set the engine will later see. Profiled onnxruntime nodes map onto kernels through
``Kernel.sources`` (ONNX node names); onnxruntime names a fused node after its first member, so a
fused node lands on the kernel holding that member. Nodes onnxruntime inserted itself (layout
reorders) match no kernel: their time is reported as unmatched, not spread over kernels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from estimator.calibration.collect import CalibRun
from estimator.device import device_context
from estimator.engine import ideal_terms
from estimator.engine.layout import DTYPE_INDEX
from estimator.engine.pack import DeviceArrays
from estimator.estimate import Prepared, prepare
from estimator.frontends.onnx_frontend import load_onnx
from estimator.partition import Kernel
from estimator.predictor import kernel_arrays
from estimator.registry.models import EfficiencyProfile, Hardware, KernelCategory

PARTITION_RUNTIME = "onnxruntime-cpu"
_US = 1e-6  # microseconds -> seconds (unit conversion)


@dataclass(frozen=True, slots=True)
class KernelPoint:
    """One measured kernel with the ideal roofline times the engine would compute for it."""

    model: str
    kernel: str
    category: KernelCategory
    #: The compute work the engine uses: FLOPs, or the runtime's FLOP-equivalents for
    #: elementary functions (``Kernel.compute_work``).
    flops: float
    bytes: float
    working_set: float
    #: Measured time (s): median over profiled runs of the summed member node times.
    t: float
    #: F / P and B / BW(level holding the working set), seconds, at the threads used.
    t_compute: float
    t_memory: float
    #: Shape features of the kernel (``estimator.kernelmodel.features``); None if unknown.
    features: NDArray[np.float64] | None = None
    #: Engine dtype index of the kernel (fp32 for every measured CPU kernel today).
    dtype: int = 0
    #: Profiled nodes whose times were summed into ``t`` (each carries the profiler's per-node
    #: cost once: :func:`estimator.calibration.calibrate.profiler_offset`).
    nodes: int = 1

    @property
    def compute_bound(self) -> bool:
        """Which roof binds at ideal efficiency: the curve the point belongs to."""
        return self.t_compute > self.t_memory


@dataclass(slots=True)
class Attribution:
    """Kernel points of one model plus how well the profile matched its kernels."""

    model: str
    points: list[KernelPoint]
    n_kernels: int
    n_measured: int
    matched_us: float
    unmatched_us: float
    unmatched_ops: dict[str, float] = field(default_factory=dict)
    #: Nodes the profiler timed (matched or not): the count its per-node cost is paid on.
    profiled_nodes: int = 0

    @property
    def profiled_us(self) -> float:
        """Every profiled node's time, matched to a kernel or not (us)."""
        return self.matched_us + self.unmatched_us

    @property
    def time_match_rate(self) -> float:
        total = self.profiled_us
        return self.matched_us / total if total > 0 else 0.0

    @property
    def kernel_match_rate(self) -> float:
        return self.n_measured / self.n_kernels if self.n_kernels else 0.0


@lru_cache(maxsize=64)
def _prepared(path: str, mtime_ns: int, nchwc_block: int | None) -> Prepared:
    return prepare(load_onnx(path), runtime=PARTITION_RUNTIME, nchwc_block=nchwc_block)


def prepared(path: str | Path, nchwc_block: int | None = None) -> Prepared:
    """Graph, costs and kernel plan of an ONNX file (cached by path and mtime), partitioned
    for the device's blocked layout ``nchwc_block`` (``DeviceContext.nchwc_block``)."""
    p = Path(path)
    return _prepared(str(p.resolve()), p.stat().st_mtime_ns, nchwc_block)


def roofs(hw: Hardware, profile: EfficiencyProfile, threads: int) -> tuple[float, DeviceArrays]:
    """Peak FLOP/s (fp32) and the packed device of ``hw`` under ``profile`` (for plots)."""
    ctx = device_context(hw, runtime=PARTITION_RUNTIME, threads=threads, profile=profile)
    return float(ctx.arrays.peak[DTYPE_INDEX["fp32"]]), ctx.arrays


_FUSION_SUFFIX = re.compile(r"/\w+Fusion/?$")
_TOKEN = re.compile(r"_token_\d+$")
#: Suffixes onnxruntime appends to an *output tensor* name to name a node rewritten to the NCHWc
#: layout: ``<tensor>_nchwc`` (a conv), ``<tensor>_bn_nchwc`` (a BatchNormalization turned into a
#: depthwise 1x1 conv, with a following Relu fused in). Longest first.
_TENSOR_SUFFIXES = ("_bn_nchwc", "_nchwc")
#: Prefix marking a candidate that is a tensor name, not a node name.
TENSOR = "tensor:"


def name_candidates(node_name: str) -> list[str]:
    """ONNX node names a profiled onnxruntime node may stand for, most specific first.

    Besides the forms ``estimator.measure.profile`` resolves (``fused X/Rule``, ``<tensor>_nchwc``),
    onnxruntime 1.2x names some fused nodes ``<first node>/<Rule>Fusion`` (MatMulAddFusion), and
    NCHWc nodes after the tensor they write (returned as ``tensor:<name>``).
    """
    out = [node_name]
    base = _TOKEN.sub("", node_name)
    base = base.removeprefix("fused ")
    out.append(base)
    out.append(_FUSION_SUFFIX.sub("", base))
    for suffix in _TENSOR_SUFFIXES:
        if base.endswith(suffix):
            out.append(TENSOR + base[: -len(suffix)])
    return list(dict.fromkeys(out))


def attribute(
    run: CalibRun,
    hw: Hardware,
    profile: EfficiencyProfile,
    threads: int,
    *,
    statistic: str = "median",
) -> Attribution:
    """Kernel points of one measured model (``statistic``: 'median' or 'p10' per node)."""
    ctx = device_context(hw, runtime=PARTITION_RUNTIME, threads=threads, profile=profile)
    prep = prepared(run.model_path, ctx.nchwc_block)
    kernels = prep.plan.kernels
    owner: dict[str, int] = {}
    for i, k in enumerate(kernels):
        for s in k.sources:
            owner.setdefault(s, i)
        for n in k.nodes:
            owner.setdefault(n, i)
    # Tensor -> owning kernel, for nodes onnxruntime names after an output tensor.
    for ir_node in prep.graph.nodes:
        idx = owner.get(ir_node.source) if ir_node.source else None
        if idx is None:
            idx = owner.get(ir_node.name)
        if idx is not None:
            for t in ir_node.outputs:
                owner.setdefault(TENSOR + t.name, idx)
    times = np.zeros(len(kernels))
    counts = np.zeros(len(kernels), dtype=np.int64)
    seen = np.zeros(len(kernels), dtype=bool)
    matched = unmatched = 0.0
    unmatched_ops: dict[str, float] = {}
    for node in run.nodes:
        us = node.p10_us if statistic == "p10" else node.median_us
        idx = None
        for cand in (node.source, *name_candidates(node.node_name)):
            if cand and cand in owner:
                idx = owner[cand]
                break
        if idx is None:
            unmatched += us
            unmatched_ops[node.op_type] = unmatched_ops.get(node.op_type, 0.0) + us
            continue
        times[idx] += us
        counts[idx] += 1
        seen[idx] = True
        matched += us
    distributed = _distribute_by_op(kernels, times, seen, unmatched_ops)
    for op in distributed:
        us = unmatched_ops.pop(op)
        unmatched -= us
        matched += us
    # The predictor's own columns (the device's elementary-work table where it has one) and the
    # engine's roofs at efficiency 1: exactly what an estimate of this model will see.
    arr = kernel_arrays(prep.plan, ctx)
    tc0, tm0 = ideal_terms(arr, ctx.arrays)
    points = [
        KernelPoint(
            model=run.model_name,
            kernel=k.name,
            category=k.category,
            flops=float(arr.flops[i]),
            bytes=float(k.bytes),
            working_set=float(k.working_set_bytes),
            t=float(times[i]) * _US,
            t_compute=float(tc0[i]),
            t_memory=float(tm0[i]),
            features=None if arr.features is None else arr.features[i],
            dtype=int(arr.dtype[i]),
            nodes=max(int(counts[i]), 1),
        )
        for i, k in enumerate(kernels)
        if seen[i] and times[i] > 0
    ]
    return Attribution(
        model=run.model_name,
        points=points,
        n_kernels=len(kernels),
        n_measured=int(seen.sum()),
        matched_us=matched,
        unmatched_us=unmatched,
        unmatched_ops=unmatched_ops,
        profiled_nodes=len(run.nodes),
    )


def _distribute_by_op(
    kernels: Sequence[Kernel],
    times: NDArray[np.float64],
    seen: NDArray[np.bool_],
    unmatched_ops: dict[str, float],
) -> list[str]:
    """Give unnamed fused nodes (onnxruntime calls them just ``Gelu``, ``Gelu_token_12``) to the
    unmeasured kernels formed by the same pattern, in proportion to their bytes (these fused
    elementwise kernels are memory-bound); returns the op types so distributed. The total is
    exact, the split between kernels an approximation."""
    done: list[str] = []
    for op, us in unmatched_ops.items():
        idx = [
            i
            for i, k in enumerate(kernels)
            if not seen[i] and op in (*k.fusion.split("+"), k.ops[0]) and k.bytes > 0
        ]
        if not idx or us <= 0:
            continue
        weight = np.array([kernels[i].bytes for i in idx], dtype=np.float64)
        times[idx] += us * weight / weight.sum()
        seen[idx] = True
        done.append(op)
    return done
