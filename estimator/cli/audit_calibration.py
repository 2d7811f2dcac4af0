"""``audit-calibration``: compare two efficiency_curves.json files.

Parsing and printing only: :func:`estimator.calibration.audit.diff_paths` does the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.calibration_args import add_debug
from estimator.cli.common import ArgumentParser, nonnegative_float, run_guarded, wants_debug
from estimator.safe_read import check_regular

PROG = "audit-calibration"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Compare two efficiency_curves.json files: which categories moved, by how "
        "much, provenance.",
    )
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument(
        "--threshold",
        type=nonnegative_float,
        default=0.05,
        help="report moves >= this (0.05 = 5 percent)",
    )
    add_debug(p)
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.audit import diff_paths, format_report

    for f in (args.old, args.new):
        check_regular(f)  # a FIFO or a folder is refused before anything opens it
    print(format_report(diff_paths(args.old, args.new), args.threshold))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
