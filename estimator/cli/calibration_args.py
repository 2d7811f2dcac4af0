"""Flags and argument parsing the calibration scripts share (``--hw``, ``--db``, ``--threads``)."""

from __future__ import annotations

import argparse
import sys
from typing import Literal

from estimator.cli.common import name_arg
from estimator.errors import InputError


def progress_line(msg: str) -> None:
    """The calibration scripts' progress callback: one line on stderr, flushed."""
    print(msg, file=sys.stderr, flush=True)


def threads_list(text: str) -> list[int]:
    """``--threads 1`` or ``--threads 1,2``."""
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(
            f"--threads: expected integers separated by commas, got {text!r}"
        ) from None
    if not out or any(t < 1 for t in out):
        raise InputError(f"--threads: expected positive integers, got {text!r}")
    return out


def model_choice(text: str) -> list[str] | Literal["all"]:
    """``all``, ``none`` (no networks) or ``a,b,c``."""
    if text == "all":
        return "all"
    if text == "none":
        return []
    return [t.strip() for t in text.split(",") if t.strip()]


def add_common(p: argparse.ArgumentParser, hw: bool = True) -> None:
    """``--hw --registry --kernel-stat`` (with ``hw``), ``--db --threads --debug``."""
    if hw:
        p.add_argument("--hw", required=True, type=name_arg, help="registry device name, or 'host'")
        p.add_argument("--registry", help="extra registry folder(s) searched first")
        p.add_argument("--kernel-stat", default="median", choices=("median", "p10"),
                       help="per-kernel time over the profiled runs (default median, the "
                            "statistic estimates predict)")  # fmt: skip
    p.add_argument("--db", help="results store (default: measure-latency's store)")
    p.add_argument("--threads", default="1", help="intra-op threads, e.g. 1 or 1,2")
    add_debug(p)


def add_debug(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks")


NO_NETWORK_FIT_HELP = (
    "price kernels as measured alone: no fit of what each kernel category costs inside whole "
    "networks (per-category scales and a per-kernel gap, fitted on the calibration networks' "
    "median runs; see docs/calibration.md)"
)
