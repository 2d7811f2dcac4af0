"""``measure()``: one model, one runtime, one configuration -> samples, statistics, fingerprint.

This is the entry point calibration uses; the CLI is a thin shell around it. It never touches the
results store: callers decide whether and where to record (:class:`ResultsStore`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from estimator.errors import InputError
from estimator.host import machine_fingerprint
from estimator.measure.profile import KernelTime, node_times
from estimator.measure.runner import SampleCallback, read_rss, reset_peak_rss, time_loop
from estimator.measure.stats import LatencySummary, summarize

RUNTIMES = ("onnxruntime", "torch")


@dataclass
class Measurement:
    """Everything one run produced; ``status`` is 'complete' or 'interrupted' (Ctrl-C)."""

    samples_ms: np.ndarray
    summary: LatencySummary | None
    fingerprint: dict[str, Any]
    model_hash: str
    model_name: str
    model_path: str | None
    runtime: str
    runtime_version: str
    threads: int | None
    batch: int
    dtype: str
    warmup: int
    started_at: float
    finished_at: float
    status: str = "complete"
    kernel_times: list[KernelTime] = field(default_factory=list)
    peak_rss_bytes: int | None = None
    rss_growth_bytes: int | None = None
    ort_arena_bytes: int | None = None

    @property
    def repeats(self) -> int:
        return int(self.samples_ms.size)

    def node_times(self) -> dict[str, float]:
        """Mean microseconds per run per profiled node (empty unless ``profile=True``)."""
        return node_times(self.kernel_times)

    def summary_dict(self) -> dict[str, Any]:
        """The JSON the store and ``--format json`` carry for this run."""
        return {
            "model": self.model_name,
            "model_hash": self.model_hash,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "threads": self.threads,
            "batch": self.batch,
            "dtype": self.dtype,
            "warmup": self.warmup,
            "repeats": self.repeats,
            "status": self.status,
            "stats": self.summary.to_dict() if self.summary else None,
            "peak_rss_bytes": self.peak_rss_bytes,
            "rss_growth_bytes": self.rss_growth_bytes,
            "ort_arena_bytes": self.ort_arena_bytes,
            "fingerprint": self.fingerprint,
        }


def measure(
    model: str | Path | bytes | Any,
    *,
    runtime: str = "onnxruntime",
    threads: int | None = None,
    batch: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    warmup: int = 10,
    repeats: int | None = None,
    min_time_s: float | None = None,
    profile: bool = False,
    progress: bool = False,
    example_inputs: Any = None,
    on_sample: SampleCallback | None = None,
    min_time: float | None = None,
) -> Measurement:
    """Time ``model`` on ``runtime`` and summarize.

    ``model``: an ONNX path, serialized ModelProto bytes or a ModelProto (onnxruntime); a zoo name
    or an ``nn.Module`` with ``example_inputs`` (torch). ``repeats`` fixes the sample size,
    ``min_time_s`` runs until that much timed work (default 1 s when neither is given). With
    ``profile=True`` a second, profiled pass of the same length gives per-node times.
    ``min_time`` is an alias of ``min_time_s`` (the name in the team's interface contract).
    """
    if min_time is not None:
        if min_time_s is not None and min_time_s != min_time:
            raise InputError("give min_time_s or min_time, not both")
        min_time_s = min_time
    if min_time_s is not None and min_time_s <= 0:
        raise InputError(f"min_time_s must be positive, got {min_time_s}")
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    if warmup < 0:
        raise InputError(f"warmup must be >= 0, got {warmup}")
    if repeats is not None and repeats <= 0:
        raise InputError(f"repeats must be positive, got {repeats}")
    if threads is not None and threads <= 0:
        raise InputError(f"threads must be positive, got {threads}")
    reset_peak_rss()
    rss_before, _ = read_rss()
    runner, model_hash, name, path = _make_runner(
        model, runtime, threads, batch, input_shapes, example_inputs
    )
    try:
        loop = time_loop(
            runner.run,
            warmup=warmup,
            repeats=repeats,
            min_time_s=min_time_s,
            progress=progress,
            on_sample=on_sample,
        )
        _, hwm = read_rss()
        kernels: list[KernelTime] = []
        interrupted = loop.interrupted
        if profile and not interrupted and loop.samples_ms.size:
            try:
                kernels = runner.profile(warmup=min(warmup, 3), runs=int(loop.samples_ms.size))
            except KeyboardInterrupt:  # keep the timed samples; the profile is what was lost
                interrupted = True
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    samples = loop.samples_ms
    fingerprint = machine_fingerprint()
    # threads actually used: the runtime default for onnxruntime is one per physical core
    fingerprint["threads_used"] = runner.threads or fingerprint["cores_physical"]
    return Measurement(
        samples_ms=samples,
        summary=summarize(samples, runner.batch) if samples.size else None,
        fingerprint=fingerprint,
        model_hash=model_hash,
        model_name=name,
        model_path=path,
        runtime=runtime,
        runtime_version=runner.version,
        threads=runner.threads,
        batch=runner.batch,
        dtype=runner.dtype,
        warmup=warmup,
        started_at=loop.started_at,
        finished_at=loop.finished_at if samples.size else time.time(),
        status="interrupted" if interrupted else "complete",
        kernel_times=kernels,
        peak_rss_bytes=hwm,
        rss_growth_bytes=(hwm - rss_before) if hwm is not None and rss_before is not None else None,
    )


def _make_runner(
    model: Any,
    runtime: str,
    threads: int | None,
    batch: int | None,
    input_shapes: Mapping[str, Sequence[int]] | None,
    example_inputs: Any,
) -> tuple[Any, str, str, str | None]:
    if runtime == "onnxruntime":
        from estimator.measure.ort_runtime import OrtRunner, load_model

        source, digest, name, path = load_model(model)
        ort_runner = OrtRunner(
            source, label=path or name, threads=threads, batch=batch, input_shapes=input_shapes
        )
        return ort_runner, digest, name, path
    from estimator.measure.torch_runtime import TorchRunner, import_torch, module_hash, zoo_model

    torch = import_torch()
    if isinstance(model, str | Path):
        text = str(model)
        if text.endswith(".onnx") or Path(text).is_file():
            raise InputError(f"{text}: torch runtime needs a zoo model name")
        module, example = zoo_model(text, batch)
        name = text
    elif isinstance(model, torch.nn.Module):
        if example_inputs is None:
            raise InputError("runtime torch with an nn.Module needs example_inputs")
        module, example, name = model, example_inputs, type(model).__name__
    else:
        raise InputError(f"runtime torch cannot measure a {type(model).__name__}")
    t_runner = TorchRunner(module, example, threads=threads, batch=batch)
    return t_runner, module_hash(module, name), name, None
