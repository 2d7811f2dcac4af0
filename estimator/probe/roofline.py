"""Raw probe rates -> the measured roofline (:class:`~estimator.registry.models.MeasuredRoofline`):
each figure the median of its runs, with the half-width of their 95% range as its uncertainty,
and a derivation that says what ran, how big, how often and on how many threads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from estimator.host import CpuTopology
from estimator.probe.measure import GEMM_WARMUP_S, RawProbe
from estimator.registry.models import (
    BandwidthCeiling,
    ComputeCeiling,
    MachineReading,
    MeasuredRoofline,
    SweepPoint,
)

#: Percentiles whose half-distance is a figure's stated uncertainty (the runs' 95% range).
_LO, _HI = 2.5, 97.5


def drift(runs: Sequence[float]) -> float:
    """|median of the first half - median of the second half| of runs in time order: how far
    the machine moved during the probe (runs go in rounds, so the halves span its duration)."""
    if len(runs) < 4:
        return 0.0
    h = len(runs) // 2
    return abs(float(np.median(runs[:h])) - float(np.median(runs[h:])))


def summarize(runs: Sequence[float], *, drifts: Sequence[float] = ()) -> tuple[float, float]:
    """(median, stated uncertainty) of one figure's runs (in time order).

    The uncertainty is the half-width of the runs' 2.5-97.5 percentile range, widened in
    quadrature by the drift between the probe's first and second half (:func:`drift`; for a
    pooled level, ``drifts`` gives each point's and the largest is used): what a repeated probe
    can expect to differ by, not the error of the median."""
    arr = np.asarray(runs, dtype=np.float64)
    lo, mid, hi = np.percentile(arr, [_LO, 50.0, _HI])
    d = max(drifts) if drifts else drift(runs)
    return float(mid), float(np.hypot((hi - lo) / 2.0, d))


def _fmt_kib(kib: float) -> str:
    if kib >= 1024 * 1024:
        return f"{kib / 1024**2:.3g} GiB"
    if kib >= 1024:
        return f"{kib / 1024:.3g} MiB"
    return f"{kib:.3g} KiB"


def machine_reading(topo: CpuTopology) -> MachineReading:
    """The topology as the registry records it (the full flag list left out)."""
    return MachineReading.model_validate({k: v for k, v in asdict(topo).items() if k != "flags"})


def compute_ceilings(raw: RawProbe) -> list[ComputeCeiling]:
    kernel = raw.worker.get("kernel", "fma")
    lanes = 192 if kernel == "fma_192" else 96
    width = raw.worker.get("asm_fma")
    target = (
        "; numba target: the host's features with LLVM's 256-bit preference off"
        if raw.worker.get("numba_features")
        else ""
    )
    asm = (
        "; machine code: "
        + ", ".join(f"{n} {k}" for k, n in width.items() if n)
        + " vector FMA instructions"
        if width
        else ""
    )
    out: list[ComputeCeiling] = []
    for row in raw.worker["fma"]:
        runs = row["gflops"]
        out.append(
            _ceiling(
                "fp32", row["threads"], "register_fma", runs,
                f"numba {kernel}: {lanes} fp32 accumulators in registers (12 independent "
                f"chains of vector FMAs), acc = acc * y + x, 2 FLOP per element per "
                f"iteration, on {row['threads']} thread(s) started together; median "
                f"of {len(runs)} runs of ~{raw.effort.fma_seconds:.2g} s, each "
                f"timed by its busiest thread's CPU time, interleaved with the sweep{target}{asm}",
            )
        )  # fmt: skip
    n = raw.gemm_size
    warm = f"after a warm-up of >= 2 runs and {GEMM_WARMUP_S:g} s"
    for (dtype, th), runs in raw.gemm.items():
        op = "MatMul" if dtype == "fp32" else "MatMulInteger (uint8 x int8 -> int32)"
        out.append(
            _ceiling(
                dtype, th, "onnxruntime_gemm", runs,
                f"onnxruntime {op} {n}x{n} @ {n}x{n} (constant weight), "
                f"intra_op_num_threads={th}: 2*{n}^3 = {2 * n**3 / 1e9:.3g} G"
                f"{'FLOP' if dtype == 'fp32' else 'OP'} per run; median of {len(runs)} runs "
                f"{warm}, in rounds over the GEMM cases, each timed by {_clock(th)}",
            )
        )  # fmt: skip
    for th, runs in raw.bf16_gemm.items():
        out.append(
            _ceiling(
                "bf16", th, "torch_gemm", runs,
                f"torch.mm of two bf16 {n}x{n} matrices (oneDNN), torch.set_num_threads({th}): "
                f"2*{n}^3 = {2 * n**3 / 1e9:.3g} GFLOP per run; median of {len(runs)} runs "
                f"{warm}, each timed by {_clock(th)}",
            )
        )  # fmt: skip
    return out


def _clock(threads: int) -> str:
    return "the thread CPU time" if threads == 1 else "wall time"


def _ceiling(
    dtype: str, threads: int, method: str, runs: Sequence[float], derivation: str
) -> ComputeCeiling:
    """A compute ceiling from its runs' rates: the median, the stated 95% range."""
    mid, u = summarize(runs)
    return ComputeCeiling(
        dtype=dtype,
        threads=threads,
        method=method,  # type: ignore[arg-type]
        gflops=round(mid, 2),
        u95_gflops=round(u, 2),
        runs=len(runs),
        derivation=derivation,
    )


def sweep_points(raw: RawProbe) -> list[SweepPoint]:
    out = []
    for row in raw.worker["sweep"]:
        mid, u = summarize(row["gbs"])
        out.append(
            SweepPoint(
                threads=row["threads"],
                working_set_kib=row["working_set_kib"],
                gbs=round(mid, 3),
                u95_gbs=round(u, 3),
            )
        )
    return out


def bandwidth_ceilings(
    raw: RawProbe, threads: Sequence[int]
) -> tuple[list[BandwidthCeiling], list[str]]:
    """Per thread count and level, the runs of every sweep point inside the level's range,
    pooled; a level with no point inside is named in the notes."""
    out: list[BandwidthCeiling] = []
    notes: list[str] = []
    for th in threads:
        rows = [r for r in raw.worker["sweep"] if r["threads"] == th]
        for level, (lo, hi) in raw.ranges[th].items():
            inside = [r for r in rows if lo <= r["working_set_kib"] <= hi]
            if not inside:
                notes.append(f"threads={th}: no sweep point inside {level}'s range; not measured")
                continue
            pooled = [g for r in inside for g in r["gbs"]]
            mid, u = summarize(pooled, drifts=[drift(r["gbs"]) for r in inside])
            ws = [r["working_set_kib"] for r in inside]
            top = "" if math.isinf(hi) else f" to {_fmt_kib(hi)}"
            out.append(
                BandwidthCeiling(
                    level=level,  # type: ignore[arg-type]
                    threads=th,
                    gbs=round(mid, 3),
                    u95_gbs=round(u, 3),
                    working_set_kib=(min(ws), max(ws)),
                    points=len(inside),
                    derivation=(
                        f"STREAM-like triad a = b + s*c (float32, 12 B per element: 2 loads + "
                        f"1 store, write-allocate not counted) on {th} thread(s), each "
                        f"with its own arrays, runs timed by CPU time; {level} range "
                        f"{_fmt_kib(lo)}{top} of working set "
                        f"(from the cache sizes read); median of {len(pooled)} runs over "
                        f"{len(inside)} working set(s) of {_fmt_kib(min(ws))}-{_fmt_kib(max(ws))}"
                    ),
                )
            )
    return out, notes


#: Wall over CPU time of the worker's runs above which the probe says the machine was busy.
BUSY_RATIO = 1.1


def _load_note(raw: RawProbe) -> list[str]:
    ratio = float(raw.worker.get("wall_over_cpu", 1.0))
    if ratio <= BUSY_RATIO:
        return []
    return [
        f"the machine was busy during the probe: runs took {ratio:.2f}x their CPU time (median); "
        "the figures use CPU time, but other tenants' cache and memory traffic still lowers the "
        "L3 and DRAM figures: probe again on an idle machine for figures free of it"
    ]


def build_roofline(
    topo: CpuTopology,
    raw: RawProbe,
    threads: Sequence[int],
    *,
    quick: bool,
    command: str,
    seconds: float,
    date: str,
    tool_version: str,
) -> MeasuredRoofline:
    bandwidth, notes = bandwidth_ceilings(raw, threads)
    return MeasuredRoofline(
        date=date,
        tool_version=tool_version,
        command=command,
        quick=quick,
        seconds=round(seconds, 1),
        threads=list(threads),
        machine=machine_reading(topo),
        compute=compute_ceilings(raw),
        bandwidth=bandwidth,
        sweep=sweep_points(raw),
        notes=[*raw.worker.get("notes", []), *_load_note(raw), *raw.notes, *notes],
    )
