"""Sweeps of one workload knob (prompt, generate, batch, images) and their two plots.

``prompt=128:4096`` doubles from 128 to 4096 (the end always included); ``batch=1,8,32``
lists values. Plots: the share of each stage in end-to-end time against the knob (seed 003 E1's
stack plot) and TPOT against KV length, one line per value. PNGs are written atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from estimator.errors import InputError
from estimator.llm.generation import Generation, Workload

#: Knobs a sweep may vary (fields of :class:`estimator.llm.generation.Workload`).
KNOBS = ("prompt", "generate", "batch", "images")
MAX_VALUES = 32


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``KNOB=LO:HI`` (doubling) or ``KNOB=A,B,C`` -> (knob, values)."""
    knob, sep, spec = text.partition("=")
    knob = knob.strip()
    if not sep or knob not in KNOBS:
        raise InputError(
            f"--sweep {text!r}: expected KNOB=LO:HI or KNOB=A,B,... with KNOB one of "
            f"{', '.join(KNOBS)}"
        )
    try:
        if ":" in spec:
            lo_s, hi_s = spec.split(":", 1)
            lo, hi = int(lo_s), int(hi_s)
            if lo < 1 or hi < lo:
                raise ValueError
            values = []
            v = lo
            while v < hi:
                values.append(v)
                v *= 2
            values.append(hi)
        else:
            values = [int(x) for x in spec.split(",") if x.strip()]
            if not values or min(values) < 0:
                raise ValueError
    except ValueError:
        raise InputError(
            f"--sweep {text!r}: values must be integers, LO:HI with 1 <= LO <= HI"
        ) from None
    if len(values) > MAX_VALUES:
        raise InputError(f"--sweep {text!r}: {len(values)} values, at most {MAX_VALUES}")
    return knob, values


def run_sweep(
    knob: str, values: Sequence[int], base: Workload, one: Callable[[Workload], Generation]
) -> list[Generation]:
    """``one`` (an estimate of one workload) at each value of ``knob``, the rest of ``base``."""
    return [one(replace(base, **{knob: v})) for v in values]


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def plot_sweep(
    knob: str, values: Sequence[int], results: Sequence[Generation], folder: str | Path
) -> list[Path]:
    """Write ``<model>_<knob>_stages.png`` and ``<model>_<knob>_tpot.png`` into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = results[0]
    stem = f"{first.model}_{first.hardware}_{knob}".replace("/", "_")
    names = [s.name for s in first.stages]
    out: list[Path] = []
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shares = [[g.stage_shares().get(n, 0.0) for g in results] for n in names]
    ax.stackplot(range(len(values)), shares, labels=names)
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(knob)
    ax.set_ylabel("share of end-to-end time")
    ax.set_ylim(0, 1)
    ax.set_title(f"{first.model} on {first.hardware} ({first.runtime}, {first.dtype})")
    ax.legend(loc="upper left")
    out.append(_save(fig, Path(folder) / f"{stem}_stages.png"))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for v, g in zip(values, results, strict=True):
        if g.decode_steps:
            ax.plot(
                [d.kv_len for d in g.decode_steps],
                [d.tpot_ms for d in g.decode_steps],
                marker="o",
                label=f"{knob}={v}",
            )
    ax.set_xlabel("KV length (positions)")
    ax.set_ylabel("TPOT (ms)")
    ax.set_title(f"TPOT against KV length: {first.model} on {first.hardware}")
    ax.legend(fontsize="small")
    out.append(_save(fig, Path(folder) / f"{stem}_tpot.png"))
    plt.close(fig)
    return out
