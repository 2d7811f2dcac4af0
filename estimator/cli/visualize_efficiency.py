"""``visualize-efficiency``: PNG plots of measured points vs fitted curves, and a roofline.

Parsing and printing only: :func:`estimator.calibration.pipeline.plot_device` does the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.calibration_args import add_common, threads_list
from estimator.cli.common import ArgumentParser, run_guarded, wants_debug

PROG = "visualize-efficiency"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="PNG plots: measured points vs fitted curves per category; a roofline of "
        "one model.",
    )
    add_common(p)
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    p.add_argument("--model", help="network for the roofline chart (default: the first)")
    p.add_argument("--roofline", action="store_true",
                   help="instead: the measured roofline of the device (probe-hardware) with the "
                        "calibration kernels as points")  # fmt: skip
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.pipeline import plot_device, plot_measured_roofline

    for th in threads_list(args.threads):
        if args.roofline:
            plot = plot_measured_roofline(
                args.hw, args.db, th, args.out, registry=args.registry, statistic=args.kernel_stat
            )
            if not plot.n_points:
                print(f"note: no calibration kernels at threads={th} in the store", file=sys.stderr)
            print(plot.path)
            continue
        files = plot_device(
            args.hw,
            args.db,
            th,
            args.out,
            registry=args.registry,
            statistic=args.kernel_stat,
            model=args.model,
        )
        for f in files:
            print(f)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
