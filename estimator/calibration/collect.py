"""Measure calibration models (sweeps and zoo exports) into the results store, resumably.

Each model is timed twice with onnxruntime: an unprofiled loop gives the whole-model samples
(``estimator.measure.measure``, recorded in the standard ``runs``/``samples`` tables), and a
profiled pass gives per-node times. The store's ``kernel_samples`` table keeps a per-node *mean*;
on a shared machine a mean is dominated by the runs another process preempted, so calibration
keeps the per-node median and 10th percentile over the profiled runs in the store's
``calibration_kernels`` table (part of the results store's schema, see ``estimator.measure.store``,
which also defines :class:`NodeStat` and :class:`Timing`). A (model hash, runtime, threads)
already holding calibration rows is skipped, so an interrupted calibration resumes where it
stopped.

Models are written as ONNX files next to the database (``<db folder>/calibration_models``):
attribution reloads them to partition them into the estimator's kernels.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from estimator.calibration.sweep import PREFIX, SweepCase
from estimator.errors import InputError
from estimator.measure import Measurement, ResultsStore, machine_fingerprint, summarize
from estimator.measure.ort_runtime import OrtRunner, open_session
from estimator.measure.profile import KernelTime, resolve_sources
from estimator.measure.store import NodeStat, Timing  # re-exported: calibration's row types

RUNTIME = "onnxruntime"
ZOO_PREFIX = "zoo__"
SWEEP_PREFIX = "sweep__"
MODELS_DIR = "calibration_models"


@dataclass(frozen=True, slots=True)
class CalibRun:
    """One measured calibration model as read back from the store."""

    run_id: int
    model_name: str
    model_path: str
    threads: int | None
    median_ms: float
    p10_ms: float
    nodes: tuple[NodeStat, ...]
    #: Median / 10th percentile of the calling thread's CPU time per run (ms): with one intra-op
    #: thread onnxruntime computes in the caller, so this excludes time other processes took.
    cpu_median_ms: float = float("nan")
    cpu_p10_ms: float = float("nan")
    #: 1-minute load average when the run was measured.
    loadavg: float = float("nan")
    #: 90th / 99th percentile of the timed runs (ms) and how many runs there were: the
    #: run-to-run dispersion a median estimate is reported with.
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    runs: int = 0

    @property
    def is_sweep(self) -> bool:
        return self.model_name.startswith(SWEEP_PREFIX)

    @property
    def zoo_name(self) -> str | None:
        return (
            self.model_name[len(ZOO_PREFIX) :] if self.model_name.startswith(ZOO_PREFIX) else None
        )


@dataclass(frozen=True, slots=True)
class Budget:
    """How long to time each model: warmup runs, then at least ``min_time_s`` of timed runs
    (and at least ``min_repeats``); the profiled pass runs ``profile_runs`` times."""

    warmup: int = 3
    min_time_s: float = 0.25
    profile_runs: int = 15
    min_repeats: int = 10
    max_profile_runs: int = 300


# --------------------------------------------------------------------------- file names


def file_stem(model_name: str) -> str:
    """File name (no .onnx) of a calibration model: ``sweep/gemm/m1`` -> ``sweep__gemm__m1``."""
    if model_name.startswith(PREFIX):
        body = model_name[len(PREFIX) :]
        return SWEEP_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "__", body)
    return ZOO_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)


def models_dir(db: Path) -> Path:
    d = db.parent / MODELS_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_sweep_model(case: SweepCase, folder: Path) -> Path:
    """Serialize ``case``'s model (deterministic bytes) unless the file already holds them."""
    path = folder / f"{file_stem(case.name)}.onnx"
    data = case.build().SerializeToString()
    if not path.is_file() or path.read_bytes() != data:
        tmp = path.with_suffix(".onnx.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def export_zoo_model(name: str, folder: Path, *, opset: int = 17) -> Path:
    """Export zoo model ``name`` to ``<folder>/zoo__<name>.onnx`` once (kept for resuming)."""
    from estimator.zoo.export import build as build_zoo_model
    from estimator.zoo.export import export_module

    path = folder / f"{file_stem(name)}.onnx"
    if path.is_file():
        return path
    model, example, in_names, out_names = build_zoo_model(name, batch=1, seq_len=128)
    return export_module(
        model, (example,), path, opset=opset, input_names=in_names, output_names=out_names
    )


def file_hash(path: Path) -> str:
    """sha256 of the model file: the store's model identity for self-contained ONNX files."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- profiling


def profile_nodes(
    path: Path, threads: int | None, *, warmup: int, runs: int
) -> tuple[list[NodeStat], list[float]]:
    """Per-node robust times over ``runs`` profiled runs, and the profiled run times (ms)."""
    runner = OrtRunner(str(path), label=str(path), threads=threads, batch=None)
    with tempfile.TemporaryDirectory(prefix="calib-prof-") as tmp:
        sess = open_session(str(path), str(path), threads, str(Path(tmp) / "ort"))
        for _ in range(warmup + runs):
            sess.run(None, runner.feeds)
        trace = sess.end_profiling()
        events = json.loads(Path(trace).read_text())
    per_run, run_ms, op_of = split_trace(events, skip_runs=warmup)
    proto = onnx.load(str(path), load_external_data=False)
    names = {n.name for n in proto.graph.node if n.name}
    producers = {o: n.name for n in proto.graph.node if n.name for o in n.output}
    stats: list[NodeStat] = []
    n_runs = len(per_run)
    nodes = sorted({k for r in per_run for k in r})
    rows = [KernelTime(k, op_of[k], 0.0, 0) for k in nodes]
    for row in resolve_sources(rows, names, producers):
        vals = np.array([r.get(row.node_name, 0.0) for r in per_run], dtype=np.float64)
        stats.append(
            NodeStat(
                row.node_name,
                row.op_type,
                row.source,
                float(np.median(vals)),
                float(np.percentile(vals, 10)),
                float(np.mean(vals)),
                n_runs,
            )
        )
    return stats, run_ms


def split_trace(
    events: Sequence[dict[str, Any]], *, skip_runs: int = 0
) -> tuple[list[dict[str, float]], list[float], dict[str, str]]:
    """Per-run {node: us} from an onnxruntime Chrome trace, the run times (ms), node -> op.

    Runs are the ``model_run`` events in time order (the first ``skip_runs`` dropped); a node
    event belongs to the run whose window holds its start.
    """
    runs = sorted(
        (int(e["ts"]), int(e["ts"]) + int(e["dur"]))
        for e in events
        if e.get("cat") == "Session" and e.get("name") == "model_run"
    )[skip_runs:]
    per_run: list[dict[str, float]] = [defaultdict(float) for _ in runs]
    op_of: dict[str, str] = {}
    starts = np.array([r[0] for r in runs], dtype=np.int64)
    for e in events:
        name = str(e.get("name", ""))
        if e.get("cat") != "Node" or not name.endswith("_kernel_time") or not runs:
            continue
        ts = int(e["ts"])
        i = int(np.searchsorted(starts, ts, side="right")) - 1
        if i < 0 or ts > runs[i][1]:
            continue
        node = name[: -len("_kernel_time")]
        per_run[i][node] += float(e["dur"])
        op_of[node] = str(e.get("args", {}).get("op_name", ""))
    return [dict(r) for r in per_run], [(b - a) / 1e3 for a, b in runs], op_of


# --------------------------------------------------------------------------- store


class CalibrationStore:
    """Calibration's view of the results store: its runs plus the ``calibration_kernels`` and
    ``calibration_timing`` rows (one file, one schema: :class:`ResultsStore`)."""

    def __init__(self, db: str | Path) -> None:
        self.path = Path(db)
        self.results = ResultsStore(self.path)

    def close(self) -> None:
        self.results.close()

    def __enter__(self) -> CalibrationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, model_hash: str, threads: int | None) -> bool:
        """True when a complete run of this model at ``threads`` has calibration rows."""
        for r in self.results.runs(model=model_hash, runtime=RUNTIME):
            if (
                r.threads == threads
                and r.status == "complete"
                and self.results.calibration_node_count(r.id) > 0
            ):
                return True
        return False

    def add(self, run_id: int, stats: Iterable[NodeStat], timing: Timing | None = None) -> None:
        self.results.record_calibration(run_id, stats, timing)

    def calibration_runs(self, threads: int | None, pick: str = "best") -> list[CalibRun]:
        """One complete calibration run per model at ``threads``: the one with the lowest median
        whole-run time (``pick='best'``: on a shared machine the fastest of several passes is
        the least disturbed) or the newest (``pick='latest'``)."""
        if pick not in ("best", "latest"):
            raise InputError(f"pick must be 'best' or 'latest', got {pick!r}")
        latest: dict[str, CalibRun] = {}
        for r in self.results.runs(runtime=RUNTIME):
            if r.threads != threads or r.status != "complete" or not r.model_path:
                continue
            if not r.model_name.startswith((SWEEP_PREFIX, ZOO_PREFIX)):
                continue
            nodes = self.results.calibration_nodes(r.id)
            if not nodes:
                continue
            stats = r.summary.get("stats") or {}
            timing = self.results.calibration_timing(r.id)
            nan = float("nan")
            median = float(stats.get("p50_ms", nan))
            prev = latest.get(r.model_name)
            if pick == "best" and prev is not None and not median < prev.median_ms:
                continue
            samples = np.asarray(self.results.samples(r.id), dtype=np.float64)
            latest[r.model_name] = CalibRun(
                run_id=r.id,
                model_name=r.model_name,
                model_path=r.model_path,
                threads=r.threads,
                median_ms=median,
                p10_ms=float(np.percentile(samples, 10)),
                p90_ms=float(np.percentile(samples, 90)),
                p99_ms=float(np.percentile(samples, 99)),
                runs=int(samples.size),
                nodes=tuple(nodes),
                cpu_median_ms=float(timing.cpu_median_ms) if timing else nan,
                cpu_p10_ms=float(timing.cpu_p10_ms) if timing else nan,
                loadavg=(
                    float(timing.loadavg)
                    if timing is not None and timing.loadavg is not None
                    else nan
                ),
            )
        return sorted(latest.values(), key=lambda c: c.model_name)


# --------------------------------------------------------------------------- timing


def _loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def time_model(path: Path, threads: int, budget: Budget) -> tuple[Measurement, Timing]:
    """Whole-model samples (wall time, as ``estimator.measure.measure`` takes them) and, in the
    same loop, the calling thread's CPU time per run."""
    runner = OrtRunner(str(path), label=str(path), threads=threads, batch=None)
    for _ in range(budget.warmup):
        runner.run()
    started = time.time()
    wall: list[float] = []
    cpu: list[float] = []
    total = 0.0
    while len(wall) < budget.min_repeats or total < budget.min_time_s:
        c0 = time.thread_time_ns()
        w0 = time.perf_counter_ns()
        runner.run()
        w1 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        wall.append((w1 - w0) / 1e6)
        cpu.append((c1 - c0) / 1e6)
        total += (w1 - w0) / 1e9
    samples = np.asarray(wall)
    m = Measurement(
        samples_ms=samples,
        summary=summarize(samples, runner.batch),
        fingerprint=machine_fingerprint(),
        model_hash=file_hash(path),
        model_name=path.stem,
        model_path=str(path.resolve()),
        runtime=RUNTIME,
        runtime_version=runner.version,
        threads=threads,
        batch=runner.batch,
        dtype=runner.dtype,
        warmup=budget.warmup,
        started_at=started,
        finished_at=time.time(),
    )
    c = np.asarray(cpu)
    return m, Timing(float(np.median(c)), float(np.percentile(c, 10)), _loadavg())


# --------------------------------------------------------------------------- driver


def profile_runs(budget: Budget, median_ms: float | None) -> int:
    """Profiled runs: enough to fill ``min_time_s`` (fast models get more runs, so their
    per-node medians are as stable as a slow model's), never fewer than ``profile_runs``."""
    if median_ms is None or median_ms <= 0:
        return budget.profile_runs
    want = int(budget.min_time_s * 1e3 / median_ms)
    return max(budget.profile_runs, min(want, budget.max_profile_runs))


@dataclass(frozen=True, slots=True)
class CollectResult:
    measured: list[str]
    skipped: list[str]
    seconds: float


def collect(
    paths: Sequence[Path],
    db: Path,
    threads: int,
    *,
    budget: Budget | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    force: bool = False,
    passes: int = 1,
) -> CollectResult:
    """Measure every model file in ``paths`` at ``threads``, skipping ones already stored unless
    ``force``. ``passes`` > 1 measures everything again that many times in all (calibration then
    reads each model's least disturbed pass, see :meth:`CalibrationStore.calibration_runs`)."""
    b = budget or Budget()
    t0 = time.perf_counter()
    measured: list[str] = []
    skipped: list[str] = []
    bar: Any = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(
            total=len(paths) * passes,
            unit="model",
            desc=f"measuring ({threads} thr)",
            file=sys.stderr,
        )
    if passes < 1:
        raise InputError(f"passes must be >= 1, got {passes}")
    with CalibrationStore(db) as store:
        for path in [p for k in range(passes) for p in paths]:
            repeat = len(measured) + len(skipped) >= len(paths)
            name = path.stem
            if bar is not None:
                bar.set_postfix_str(name[-40:])
            if not force and not repeat and store.has(file_hash(path), threads):
                skipped.append(name)
            else:
                m, timing = time_model(path, threads, b)
                runs = profile_runs(b, m.summary.p50_ms if m.summary else None)
                stats, _ = profile_nodes(path, threads, warmup=min(b.warmup, 2), runs=runs)
                run_id = store.results.record(m)
                store.add(run_id, stats, timing)
                measured.append(name)
                if log is not None and m.summary is not None:
                    log(f"{name}: median {m.summary.p50_ms:.3f} ms over {m.repeats} runs")
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return CollectResult(measured, skipped, time.perf_counter() - t0)
