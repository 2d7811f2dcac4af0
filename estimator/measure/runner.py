"""The timing loop shared by every runtime, and the process memory readings around it.

One loop for all runtimes keeps the definition of "a sample" identical: wall time of one call of
the runtime's ``run`` (inputs already in place), by ``time.perf_counter_ns``. Ctrl-C inside the
loop ends it early and keeps the samples completed so far, flagged ``interrupted``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Used when neither ``repeats`` nor ``min_time_s`` is given.
DEFAULT_MIN_TIME_S = 1.0
#: Floor on the sample size in ``min_time_s`` mode, so very slow models still give a median CI.
MIN_REPEATS = 10
#: Ceiling in ``min_time_s`` mode, so a sub-microsecond model cannot fill memory.
MAX_REPEATS = 1_000_000

SampleCallback = Callable[[int, float], None]


@dataclass
class LoopResult:
    samples_ms: np.ndarray
    interrupted: bool
    started_at: float
    finished_at: float


def time_loop(
    fn: Callable[[], object],
    *,
    warmup: int,
    repeats: int | None = None,
    min_time_s: float | None = None,
    progress: bool = False,
    on_sample: SampleCallback | None = None,
) -> LoopResult:
    """Run ``fn`` ``warmup`` times untimed, then time it.

    ``repeats`` fixes the count; otherwise the loop runs until ``min_time_s`` of timed calls (and
    at least :data:`MIN_REPEATS`). ``on_sample(index, ms)`` is called after each timed call.
    """
    if repeats is not None and repeats <= 0:
        raise ValueError("repeats must be positive")
    if repeats is None and min_time_s is None:
        min_time_s = DEFAULT_MIN_TIME_S
    bar = _progress_bar(progress, repeats)
    started = time.time()
    samples: list[float] = []
    interrupted = False
    try:
        for _ in range(warmup):
            fn()
        t_total = 0.0
        limit = repeats if repeats is not None else MAX_REPEATS
        while len(samples) < limit:
            t0 = time.perf_counter_ns()
            fn()
            ms = (time.perf_counter_ns() - t0) / 1e6
            samples.append(ms)
            t_total += ms / 1e3
            if bar is not None:
                bar.update(1)
            if on_sample is not None:
                on_sample(len(samples) - 1, ms)
            if (
                repeats is None
                and min_time_s is not None
                and t_total >= min_time_s
                and len(samples) >= MIN_REPEATS
            ):
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    return LoopResult(np.asarray(samples, dtype=np.float64), interrupted, started, time.time())


def _progress_bar(enabled: bool, total: int | None) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="run", file=sys.stderr, leave=False, desc="measuring")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def read_rss() -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of this process in bytes from /proc/self/status; None where unavailable."""
    rss = hwm = None
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            parts = value.split()
            nbytes = int(parts[0]) * 1024 if parts and parts[0].isdigit() else None
            if key == "VmRSS":
                rss = nbytes
            else:
                hwm = nbytes
    return rss, hwm
