"""The probe's measuring process: ``python -m estimator.probe.worker`` reads a JSON spec on
stdin, runs the FMA and triad kernels on the threads asked for, and writes the raw rates as JSON
on stdout.

A process of its own because numba's code-generation target is fixed when numba loads: on
AVX-512 parts LLVM prefers 256-bit vectors unless told otherwise (``-prefer-256-bit``), which
would measure half the FMA throughput; the parent process may already have numba loaded for the
estimator's engine. Several threads are pinned one per physical core, only ever within the CPUs
this process may use (``taskset`` and cgroup limits are kept).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Bytes moved per element and pass of the triad (two float32 loads, one store).
TRIAD_BYTES = 12
#: The triad's three arrays start 64 bytes apart past a 4 KiB boundary: aligned vector loads,
#: and no 4 KiB aliasing between the streams (which halves L1 bandwidth on x86).
_STAGGER = 64


def _set_numba_target(simd_bits: int | None) -> str | None:
    """Before numba loads: on 512-bit parts, the host's features with 256-bit preference off."""
    if simd_bits is None or simd_bits < 512 or os.environ.get("NUMBA_CPU_FEATURES"):
        return os.environ.get("NUMBA_CPU_FEATURES")
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features().flatten() + ",-prefer-256-bit"
    os.environ["NUMBA_CPU_FEATURES"] = features
    return features


def core_cpus(allowed: list[int]) -> list[int]:
    """One allowed CPU per physical core (SMT siblings left out), then the siblings: thread k
    goes to the k-th. Without readable topology, the allowed CPUs in order."""
    first: list[int] = []
    rest: list[int] = []
    seen: set[str] = set()
    for cpu in allowed:
        path = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            key = path.read_text().strip()
        except OSError:
            return allowed
        (rest if key in seen else first).append(cpu)
        seen.add(key)
    return first + rest


def _aligned_arrays(n: int, count: int) -> list[np.ndarray]:
    step = ((n * 4 + 4095) // 4096) * 4096 + _STAGGER
    raw = np.empty(count * step + 8192, np.uint8)
    base = (-raw.ctypes.data) % 4096
    return [raw[base + i * step : base + i * step + 4 * n].view(np.float32) for i in range(count)]


#: A task of :func:`_in_threads`: ``setup(k)`` in thread k (first touch) -> state, ``work(state)``.
Task = tuple[Callable[[int], Any], Callable[[Any], None]]


def _in_threads(
    threads: int, cpus: list[int], tasks: list[Task], runs: int, load: list[float] | None = None
) -> list[list[float]]:
    """Run every task ``runs`` times on ``threads`` threads started together; per task, each
    run's span (first start to last end, s).

    A run lasts as long as its busiest thread was on a CPU (``time.thread_time``): time other
    processes took the core is left out, so a machine shared with other work measures what its
    cores deliver, not its load (``wall_over_cpu`` says how much was left out). The runs go in
    rounds (task 1, 2, ..., then again), so what load remains (other tenants' memory traffic)
    spreads over every figure's runs and shows in their stated uncertainty instead of shifting
    one figure. Several threads are pinned one per core (within the CPUs allowed); a single
    thread is left to the scheduler, which puts it on the least busy core.
    """
    barrier = threading.Barrier(threads)
    #: per task, per thread, per run: (wall start, wall end, CPU seconds)
    spans: list[list[list[tuple[float, float, float]]]] = [
        [[] for _ in range(threads)] for _ in tasks
    ]
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            if threads > 1 and hasattr(os, "sched_setaffinity") and cpus:
                os.sched_setaffinity(0, {cpus[k % len(cpus)]})
            states = [setup(k) for setup, _ in tasks]
            for state, (_, work) in zip(states, tasks, strict=True):
                work(state)  # warm-up: compiled code, caches, pages, clock ramp
            for _ in range(runs):
                for i, (_, work) in enumerate(tasks):
                    barrier.wait()
                    t0, c0 = time.perf_counter(), time.thread_time()
                    work(states[i])
                    c1, t1 = time.thread_time(), time.perf_counter()
                    spans[i][k].append((t0, t1, c1 - c0))
        except BaseException as exc:  # reported by the parent as one line
            errors.append(exc)
            barrier.abort()

    pool = [threading.Thread(target=body, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    busy = [[max(s[k][r][2] for k in range(threads)) for r in range(runs)] for s in spans]
    if load is not None:
        for s, b in zip(spans, busy, strict=True):
            for r in range(runs):
                wall = max(s[k][r][1] for k in range(threads)) - min(
                    s[k][r][0] for k in range(threads)
                )
                load.append(wall / max(b[r], 1e-9))
    return busy


def fma_task(kernel: Any, lanes_total: int, seconds: float) -> tuple[Task, float]:
    """The register-resident FMA loop sized to run ``seconds``, and its FLOPs per thread."""
    x, y = np.float32(0.5), np.float32(0.999999)
    kernel(1000, x, y)
    t0 = time.perf_counter()
    kernel(100_000, x, y)
    per_iter = max(time.perf_counter() - t0, 1e-6) / 100_000
    iters = max(1000, int(seconds / per_iter))
    return (lambda _k: None, lambda _s: kernel(iters, x, y)), 2.0 * lanes_total * iters


def triad_task(
    kernels: Any, ws_kib: float, threads: int, target_bytes: float
) -> tuple[Task, float]:
    """The triad over a working set of ``ws_kib`` (all threads together: each thread streams
    its own three arrays of ws / threads / 3), and the bytes one thread moves per run."""
    n = max(16, int(ws_kib * 1024 / threads / TRIAD_BYTES))
    per_pass = TRIAD_BYTES * n
    reps = max(1, int(target_bytes / threads / per_pass))
    s = np.float32(0.5)

    def setup(_k: int) -> list[np.ndarray]:
        arrays = _aligned_arrays(n, 3)
        for a in arrays:
            kernels.fill(a, np.float32(1.0))
        return arrays

    def work(arr: list[np.ndarray]) -> None:
        kernels.triad(arr[0], arr[1], arr[2], s, reps)

    return (setup, work), float(per_pass) * reps


def _rates(spans: list[float], units: float, threads: int) -> list[float]:
    return [units * threads / sp / 1e9 for sp in spans]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure what ``spec`` asks for (see :mod:`estimator.probe.measure`): per thread count,
    the FMA loop and the triad over every working set that fits in the caches, interleaved in
    rounds; then each DRAM-sized working set on its own (they would not fit in memory together
    on a machine with a large last-level cache)."""
    features = _set_numba_target(spec.get("simd_bits"))
    from estimator.probe import kernels

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cpus = core_cpus(allowed)
    wide = (spec.get("simd_bits") or 0) >= 512
    name, lanes = ("fma_192", 192) if wide else ("fma_96", 96)
    kernel = getattr(kernels, name)
    out: dict[str, Any] = {
        "kernel": name,
        "numba_features": features,
        "cpus": cpus,
        "fma": [],
        "sweep": [],
    }
    notes: list[str] = []
    load: list[float] = []
    f, sw = spec["fma"], spec["sweep"]
    for th in spec["threads"]:
        if allowed and th > len(allowed):
            notes.append(f"threads={th}: only {len(allowed)} CPU(s) allowed to this process")
        dram_from = sw["dram_from_kib"][str(th)]
        sizes = sw["working_sets_kib"][str(th)]
        cached = [ws for ws in sizes if ws < dram_from]
        fma, flops = fma_task(kernel, lanes, f["seconds"])
        made = [triad_task(kernels, ws, th, sw["target_bytes"]) for ws in cached]
        spans = _in_threads(th, cpus, [fma, *(t for t, _ in made)], f["runs"], load)
        out["fma"].append({"threads": th, "gflops": _rates(spans[0], flops, th)})
        for ws, (_, moved), sp in zip(cached, made, spans[1:], strict=True):
            out["sweep"].append(
                {"threads": th, "working_set_kib": ws, "gbs": _rates(sp, moved, th)}
            )
        for ws in (w for w in sizes if w >= dram_from):
            task, moved = triad_task(kernels, ws, th, sw["target_bytes"])
            (sp,) = _in_threads(th, cpus, [task], sw["runs"], load)
            out["sweep"].append(
                {"threads": th, "working_set_kib": ws, "gbs": _rates(sp, moved, th)}
            )
    out["asm_fma"] = _fma_instructions(kernel) if spec.get("inspect") else None
    out["wall_over_cpu"] = float(np.median(load)) if load else 1.0
    out["notes"] = notes
    return out


def _fma_instructions(kernel: Any) -> dict[str, int]:
    """Vector FMA instructions of the FMA loop's machine code, by register width (a check that
    the loop runs at the width the flags promise)."""
    asm = "\n".join(kernel.inspect_asm().values())
    return {
        name: len(re.findall(pattern, asm))
        for name, pattern in (("zmm", r"vfmadd\w*\s[^\n]*%zmm"), ("ymm", r"vfmadd\w*\s[^\n]*%ymm"),
                              ("xmm", r"vfmadd\w*\s[^\n]*%xmm"), ("neon", r"\bfmla\s"))
    }  # fmt: skip


def main() -> int:
    spec = json.loads(sys.stdin.read())
    json.dump(run(spec), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
