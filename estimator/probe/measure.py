"""What the probe measures and how long it spends: the working sets of the sweep, the worker
process running the numba kernels, and the large GEMMs through onnxruntime.

Returns raw rates (one per run); :mod:`estimator.probe.roofline` turns them into figures with
their uncertainty. The settings below are measurement effort (runs, seconds, sizes), not
efficiency numbers: a quick probe (``estimate-latency --probe``) stays within 20 s on a 2-core
machine, a full one (``probe-hardware``) within about a minute.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from estimator.errors import EstimatorError
from estimator.host import CacheInfo, CpuTopology

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Effort:
    """How hard one probe measures."""

    #: Runs of every figure (its median and spread come from these).
    runs: int
    #: Seconds of one run of the FMA loop.
    fma_seconds: float
    #: Bytes one run of a sweep point streams (all threads), at least one pass.
    sweep_bytes: float
    #: Sweep points inside each memory level's range, and extra points per octave between.
    points_per_level: int
    points_per_octave: int
    #: Square GEMM size (M = N = K); it runs ``runs`` times and at least ``gemm_seconds``.
    gemm_size: int
    gemm_seconds: float
    #: DRAM working sets, as multiples of the last-level cache.
    dram_multiples: tuple[float, ...]
    #: The worker's limit, seconds.
    timeout_s: float


QUICK = Effort(5, 0.03, 6e7, 2, 0, 1024, 0.25, (4.0,), 60.0)
FULL = Effort(9, 0.1, 3e8, 3, 2, 2048, 1.5, (4.0, 8.0), 300.0)

#: Most timed GEMM runs of one figure.
MAX_GEMM_RUNS = 200
#: Warm-up of each GEMM before its timed runs: at least two runs and this many seconds, so a
#: clock or vector-unit transition (AVX-512/AMX frequency licences, AMX state allocation on
#: first use) happens before timing, not during the first probe's runs only.
GEMM_WARMUP_S = 0.2
#: Smallest working set per thread (KiB): below it loop overhead, not the cache, sets the rate.
MIN_WS_KIB = 8.0
#: Without known caches, the sweep spans this to 256 MiB and DRAM is its largest point.
NO_CACHE_TOP_KIB = 256.0 * 1024
#: Share of the machine's memory the sweep's largest working set may take.
MAX_MEMORY_SHARE = 0.25


def capacity_kib(cache: CacheInfo, threads: int, cores: int) -> float:
    """What ``threads`` threads, one per core, can hold in ``cache``: private caches add up
    over the cores in use, a shared one counts once per instance touched."""
    used = min(threads, cores)
    instances = math.ceil(used / cache.shared_cores)
    return cache.size_kib * (instances if cache.shared_cores > 1 else used)


def level_ranges(topo: CpuTopology, threads: int) -> dict[str, tuple[float, float]]:
    """Working sets (KiB, all threads) whose triad runs from one level: from twice the level
    below's capacity (L1: the smallest useful set) to half this level's; DRAM from four times
    the last level's. Levels whose range is empty are left out."""
    cores = topo.cores or topo.logical_cpus
    out: dict[str, tuple[float, float]] = {}
    lo = MIN_WS_KIB * threads
    caches = topo.data_caches()
    for c in caches:
        cap = capacity_kib(c, threads, cores)
        if 0.5 * cap > lo:
            out[f"L{c.level}"] = (lo, 0.5 * cap)
        lo = 2.0 * cap
    if caches:
        out["DRAM"] = (4.0 * capacity_kib(caches[-1], threads, cores), math.inf)
    else:
        out["DRAM"] = (NO_CACHE_TOP_KIB, math.inf)
    return out


def working_sets(topo: CpuTopology, threads: int, effort: Effort) -> list[float]:
    """The sweep's working sets (KiB, all threads), ascending: ``points_per_level`` inside each
    level's range, ``points_per_octave`` over the whole span (plots), and the DRAM sets."""
    ranges = level_ranges(topo, threads)
    dram_lo = ranges["DRAM"][0]
    llc = dram_lo / 4.0
    top = llc * max(effort.dram_multiples)
    if topo.memory_gb:
        top = min(top, topo.memory_gb * 1024**2 * MAX_MEMORY_SHARE)
    points: set[float] = set()
    for name, (lo, hi) in ranges.items():
        if name == "DRAM":
            points.update(min(llc * m, top) for m in effort.dram_multiples)
            continue
        k = effort.points_per_level
        points.update(lo * (hi / lo) ** ((i + 0.5) / k) for i in range(k))
    if effort.points_per_octave:
        start = MIN_WS_KIB * threads
        n = int(math.log2(top / start) * effort.points_per_octave)
        points.update(start * 2 ** (i / effort.points_per_octave) for i in range(n + 1))
    return sorted(round(p, 1) for p in points)


def run_worker(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run :mod:`estimator.probe.worker` on ``spec``; its JSON result."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "estimator.probe.worker"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EstimatorError(f"probe: the measuring process ran past {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EstimatorError(f"probe: the measuring process failed: {tail}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def gemm_model(dtype: str, size: int) -> onnx.ModelProto:
    """A square MatMul (fp32) or MatMulInteger (int8: uint8 activations, int8 weights, int32
    out) with a constant weight, as a runtime runs a linear layer."""
    from estimator.calibration.sweep import IR_VERSION, OPSET

    rng = np.random.default_rng(0)
    if dtype == "fp32":
        w = numpy_helper.from_array(rng.standard_normal((size, size)).astype(np.float32), "w")
        node = helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")
        x_type, y_type = TensorProto.FLOAT, TensorProto.FLOAT
    elif dtype == "int8":
        w = numpy_helper.from_array(rng.integers(-8, 8, (size, size)).astype(np.int8), "w")
        node = helper.make_node("MatMulInteger", ["x", "w"], ["y"], name="matmul")
        x_type, y_type = TensorProto.UINT8, TensorProto.INT32
    else:
        raise ValueError(f"no GEMM model for dtype {dtype!r}")
    graph = helper.make_graph(
        [node],
        f"probe_gemm_{dtype}_{size}",
        [helper.make_tensor_value_info("x", x_type, [size, size])],
        [helper.make_tensor_value_info("y", y_type, [size, size])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def measure_gemms(
    cases: Sequence[tuple[str, int]], size: int, runs: int, min_seconds: float = 0.0
) -> dict[tuple[str, int], list[float]]:
    """GFLOP/s (int8: GOP/s) of the timed runs of :func:`gemm_model` per (dtype, threads) case,
    after a warm-up of each (:data:`GEMM_WARMUP_S`): in rounds over the cases (as the worker
    interleaves its kernels), ``runs`` per case and more until each has ``min_seconds`` of timed
    runs (short int8 runs scatter more).

    At one thread onnxruntime computes on the calling thread, so a run is timed by that
    thread's CPU time (time other processes took the core left out, as in the worker); at more,
    by wall time (onnxruntime's pool spins, so CPU time would count the spinning)."""
    from estimator.measure.ort_runtime import OrtRunner

    runners = {}
    for dtype, threads in cases:
        model = gemm_model(dtype, size).SerializeToString()
        runner = OrtRunner(model, label=f"probe gemm {dtype}", threads=threads, batch=None)
        t0, n = time.perf_counter(), 0
        while n < 2 or (time.perf_counter() - t0 < GEMM_WARMUP_S and n < MAX_GEMM_RUNS):
            runner.run()
            n += 1
        runners[(dtype, threads)] = runner
    out: dict[tuple[str, int], list[float]] = {c: [] for c in runners}
    spent = dict.fromkeys(runners, 0.0)

    def wanted(c: tuple[str, int]) -> bool:
        n = len(out[c])
        return n < runs or (spent[c] < min_seconds and n < MAX_GEMM_RUNS)

    while any(wanted(c) for c in runners):
        for c, runner in runners.items():
            if not wanted(c):
                continue
            clock = time.thread_time if c[1] == 1 else time.perf_counter
            t0 = clock()
            runner.run()
            took = max(clock() - t0, 1e-9)
            spent[c] += took
            out[c].append(2.0 * size**3 / took / 1e9)
    return out


def measure_torch_gemms(
    threads: Sequence[int], size: int, runs: int, min_seconds: float = 0.0
) -> dict[int, list[float]]:
    """GFLOP/s of the timed runs of a bf16 ``size``^3 matrix product in torch (oneDNN's bf16
    kernels: AVX512-BF16 or AMX where present; onnxruntime's CPU provider has no bf16 MatMul),
    per thread count, after the same warm-up as :func:`measure_gemms`. Timed like it: thread
    CPU time at one thread (torch computes on the calling thread), wall time at more."""
    import torch

    before = torch.get_num_threads()
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(torch.bfloat16)
    b = torch.randn(size, size, generator=gen).to(torch.bfloat16)
    out: dict[int, list[float]] = {}
    try:
        with torch.inference_mode():
            for th in threads:
                torch.set_num_threads(th)
                t0, n = time.perf_counter(), 0
                while n < 2 or (time.perf_counter() - t0 < GEMM_WARMUP_S and n < MAX_GEMM_RUNS):
                    torch.mm(a, b)
                    n += 1
                clock = time.thread_time if th == 1 else time.perf_counter
                rates: list[float] = []
                spent = 0.0
                while len(rates) < runs or (spent < min_seconds and len(rates) < MAX_GEMM_RUNS):
                    c0 = clock()
                    torch.mm(a, b)
                    took = max(clock() - c0, 1e-9)
                    spent += took
                    rates.append(2.0 * size**3 / took / 1e9)
                out[th] = rates
    finally:
        torch.set_num_threads(before)
    return out


@dataclass(frozen=True, slots=True)
class RawProbe:
    """Every run's rate, before statistics."""

    worker: dict[str, Any]
    effort: Effort
    #: (dtype, threads) -> GFLOP/s of each onnxruntime GEMM run.
    gemm: dict[tuple[str, int], list[float]]
    gemm_size: int
    sweep_plan: dict[int, list[float]]
    ranges: dict[int, dict[str, tuple[float, float]]]
    notes: list[str]
    #: threads -> GFLOP/s of each torch bf16 GEMM run (where the CPU has bf16 dot products).
    bf16_gemm: dict[int, list[float]] = field(default_factory=dict)


def gemm_dtypes(topo: CpuTopology) -> list[str]:
    """onnxruntime GEMMs: fp32 always; int8 where the flags name an int8 dot-product unit
    (bf16 has no onnxruntime CPU kernel: :func:`measure_torch_gemms` times it)."""
    return ["fp32", *(["int8"] if "int8" in topo.dot_products else [])]


def measure(
    topo: CpuTopology,
    threads: Sequence[int],
    effort: Effort,
    *,
    progress: Progress | None = None,
) -> RawProbe:
    """Run the worker (FMA loop, triad sweep) and the GEMMs at every thread count."""
    plan = {t: working_sets(topo, t, effort) for t in threads}
    ranges = {t: level_ranges(topo, t) for t in threads}
    notes: list[str] = []
    if progress:
        n = sum(len(v) for v in plan.values())
        progress(f"probe: FMA loop and {n} triad working sets at threads {list(threads)}")
    spec = {
        "threads": list(threads),
        "simd_bits": topo.simd_bits,
        "inspect": effort is FULL,
        "fma": {"seconds": effort.fma_seconds, "runs": effort.runs},
        "sweep": {
            "target_bytes": effort.sweep_bytes,
            "runs": effort.runs,
            "working_sets_kib": {str(t): plan[t] for t in threads},
            "dram_from_kib": {str(t): ranges[t]["DRAM"][0] for t in threads},
        },
    }
    worker = run_worker(spec, effort.timeout_s * len(threads))
    cases = [(dtype, t) for dtype in gemm_dtypes(topo) for t in threads]
    if progress:
        names = ", ".join(f"{d} at threads={t}" for d, t in cases)
        progress(f"probe: onnxruntime GEMM {effort.gemm_size}^3, {names}")
    gemm = measure_gemms(cases, effort.gemm_size, effort.runs, effort.gemm_seconds)
    bf16: dict[int, list[float]] = {}
    if "bf16" in topo.dot_products:
        if progress:
            progress(f"probe: torch bf16 GEMM {effort.gemm_size}^3 at threads {list(threads)}")
        bf16 = measure_torch_gemms(threads, effort.gemm_size, effort.runs, effort.gemm_seconds)
    return RawProbe(worker, effort, gemm, effort.gemm_size, plan, ranges, notes, bf16)
