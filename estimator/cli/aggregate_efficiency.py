"""``aggregate-efficiency``: pooled efficiency statistics per category and log-size bin.

Parsing and printing only: :func:`estimator.calibration.pipeline.aggregate_device` does the work.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.calibration_args import add_common, threads_list
from estimator.cli.common import ArgumentParser, positive_float, run_guarded, wants_debug

PROG = "aggregate-efficiency"
_BIN_FIELDS = ("lo", "hi", "n", "mean", "var", "ci_low", "ci_high")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Pooled efficiency statistics per category and log-size bin "
        "(mean, std, n, 95% CI).",
    )
    add_common(p)
    p.add_argument("--step", type=positive_float, default=0.5, help="bin width in log10 units")
    p.add_argument("--json", type=Path, help="also write the bins as JSON here")
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.aggregate import format_table
    from estimator.calibration.pipeline import aggregate_device

    for th in threads_list(args.threads):
        (res,) = aggregate_device(
            args.hw,
            args.db,
            [th],
            registry=args.registry,
            statistic=args.kernel_stat,
            step=args.step,
        )
        fd = res.fitted
        print(f"# threads={th}: {len(fd.points)} kernels; {fd.dataset.match_summary()}")
        print(format_table(res.bins))
        if args.json:
            doc = {
                f"{c}/{k}": [{f: getattr(b, f) for f in _BIN_FIELDS} for b in bins]
                for (c, k), bins in res.bins.items()
            }
            args.json.write_text(json.dumps(doc, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
