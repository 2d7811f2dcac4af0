"""``validate-calibration``: leave-one-model-out accuracy over the measured networks.

Exit status 1 when a ``--max-*`` / ``--min-*`` threshold is missed. Parsing and printing only:
:func:`estimator.calibration.pipeline.validate_device` does the work.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.calibration_args import (
    NO_NETWORK_FIT_HELP,
    add_common,
    model_choice,
    threads_list,
)
from estimator.cli.common import (
    ArgumentParser,
    finite_float,
    nonnegative_float,
    run_guarded,
    wants_debug,
)

PROG = "validate-calibration"
_RESULT_FIELDS = ("name", "measured_ms", "predicted_ms", "low_ms", "high_ms", "error", "covered")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Leave-one-model-out accuracy over the measured networks; exit status 1 "
        "below thresholds.",
    )
    add_common(p)
    p.add_argument("--models", default="all", help="networks to validate: all or a,b,c")
    p.add_argument("--whole", default="median", choices=("median", "cpu", "p10"),
                   help="whole-run figure to compare with (default: median wall time)")  # fmt: skip
    p.add_argument("--max-median-error", type=nonnegative_float, help="e.g. 0.10")
    p.add_argument("--min-within15", type=nonnegative_float, help="e.g. 0.80")
    p.add_argument("--min-coverage", type=nonnegative_float, help="e.g. 0.85")
    p.add_argument("--max-mape", type=nonnegative_float)
    p.add_argument("--min-spearman", type=finite_float)
    p.add_argument("--json", type=Path, help="write per-model results and metrics here")
    p.add_argument("--no-network-fit", action="store_true", help=NO_NETWORK_FIT_HELP)
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.calibration.pipeline import validate_device
    from estimator.calibration.validate import Thresholds, failures, format_metrics, format_table

    models = model_choice(args.models)
    thr = Thresholds(
        max_median_abs_error=args.max_median_error,
        min_within15=args.min_within15,
        min_coverage=args.min_coverage,
        max_mape=args.max_mape,
        min_spearman=args.min_spearman,
    )
    failed: list[str] = []
    report: dict[str, object] = {}
    for th in threads_list(args.threads):
        (run,) = validate_device(
            args.hw,
            args.db,
            [th],
            registry=args.registry,
            statistic=args.kernel_stat,
            whole=args.whole,
            models=None if models == "all" else models,
            use_network_fit=not args.no_network_fit,
        )
        print(f"## {run.hw.id} onnxruntime fp32 threads={th} (whole-run statistic: {args.whole})")
        print(format_table(run.results))
        print(format_metrics(run.metrics))
        bad = failures(run.metrics, thr)
        for line in bad:
            print(f"FAIL threads={th}: {line}")
        failed += bad
        report[str(th)] = {
            "metrics": run.metrics.to_dict(),
            "models": [{k: getattr(r, k) for k in _RESULT_FIELDS} for r in run.results],
        }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
