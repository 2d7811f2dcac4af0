"""``measure-efficiency``: measure single-kernel sweeps and zoo networks kernel by kernel.

Parsing and printing only: :func:`estimator.calibration.pipeline.measure_models` does the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.calibration_args import add_common, model_choice, progress_line, threads_list
from estimator.cli.common import (
    ArgumentParser,
    positive_float,
    positive_int,
    run_guarded,
    wants_debug,
)

PROG = "measure-efficiency"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Measure single-kernel sweeps and zoo networks kernel by kernel into the "
        "results store.",
    )
    add_common(p, hw=False)
    p.add_argument("--quick", action="store_true", help="reduced sweep grid")
    p.add_argument("--zoo", default="all", help="zoo models: all, none, or a,b,c")
    p.add_argument("--onnx", nargs="*", default=[], type=Path, help="extra ONNX networks")
    p.add_argument("--min-time", type=positive_float, default=0.25, help="timed seconds per model")
    p.add_argument("--remeasure", action="store_true", help="measure again models already stored")
    p.add_argument("--passes", type=positive_int, default=1,
                   help="measure this many times; the least disturbed pass is used")  # fmt: skip
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.collect import Budget
    from estimator.calibration.pipeline import measure_models

    threads = threads_list(args.threads)
    res = measure_models(
        args.db,
        threads,
        quick=args.quick,
        zoo=model_choice(args.zoo),
        extra=args.onnx,
        budget=Budget(min_time_s=args.min_time),
        force=args.remeasure,
        passes=args.passes,
        progress=progress_line,
        progress_bar=True,
    )
    for th, r in res.per_threads.items():
        print(
            f"threads={th}: measured {len(r.measured)}, already stored {len(r.skipped)}, "
            f"{r.seconds:.0f} s; store {res.db}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(
        lambda: _run(args),
        debug=wants_debug(argv) or args.debug,
        prog=PROG,
        keeps_measurements=True,
    )


if __name__ == "__main__":
    sys.exit(main())
