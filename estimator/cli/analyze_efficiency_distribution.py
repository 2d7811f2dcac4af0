"""``analyze-efficiency-distribution``: normality, heteroscedasticity and outliers of the fit
residuals per category and curve.

Parsing and printing only: :func:`estimator.calibration.pipeline.residual_distribution` does the
work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from estimator.cli.calibration_args import add_common, threads_list
from estimator.cli.common import ArgumentParser, fraction, run_guarded, wants_debug

PROG = "analyze-efficiency-distribution"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Normality, heteroscedasticity and outliers of the fit residuals per "
        "category and curve.",
    )
    add_common(p)
    p.add_argument("--alpha", type=fraction, default=0.05)
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.distribution import format_report
    from estimator.calibration.pipeline import residual_distribution

    for th in threads_list(args.threads):
        results = residual_distribution(
            args.hw, args.db, th, registry=args.registry, statistic=args.kernel_stat
        )
        print(f"# threads={th}: residual = log(measured / fitted kernel time)")
        print(format_report(results, args.alpha))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
