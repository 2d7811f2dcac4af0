"""``analyze-efficiency``: seeds 000/001's cross-device analyses of whole-model latencies (FRM,
stability, rank transfer, estimate transfer, FLOPs disagreements, signal-to-noise, Pareto
transfer) on a measured CSV, the results store, or the estimator's own table.

Not to be confused with ``analyze-efficiency-distribution``, which checks the residuals of a
device's fitted kernel efficiency curves (calibration); this command compares models across
devices. Parsing and printing only: :mod:`estimator.analysis.efficiency` does the work.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from estimator.cli.common import (
    ArgumentParser,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    run_guarded,
    wants_debug,
)
from estimator.errors import InputError

if TYPE_CHECKING:
    from estimator.analysis.efficiency import EfficiencyTable

PROG = "analyze-efficiency"


def _span(text: str) -> tuple[int, int]:
    """``A:B`` -> (A, B), row positions (B exclusive)."""
    a, sep, b = text.partition(":")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (row positions), got {text!r}") from None
    if not sep or lo < 0 or hi <= lo:
        raise argparse.ArgumentTypeError(f"expected A:B with 0 <= A < B, got {text!r}")
    return lo, hi


def _names(text: str) -> list[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return out


def _shots(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(t) for t in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 0,5,10, got {text!r}") from None
    if any(k < 0 for k in ks):
        raise argparse.ArgumentTypeError("shots must be >= 0")
    return ks


def build_parser() -> argparse.ArgumentParser:
    from estimator.analysis.efficiency.report import ANALYSES, DEFAULT_ANALYSES

    p = ArgumentParser(
        prog=PROG,
        description="Cross-device efficiency analyses of whole-model latencies (seeds 000/001): "
        "FRM, stability, rank transfer, estimate transfer, FLOPs disagreements, signal-to-noise, "
        "Pareto transfer. (Residuals of fitted kernel curves: analyze-efficiency-distribution.)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "table",
        nargs="?",
        help="CSV, wide (model + one column per device) or long "
        "(model,device,latency_ms[,memory_mb,energy_j,flops,params,accuracy])",
    )
    src.add_argument(
        "--store",
        nargs="?",
        const="",
        metavar="DB",
        help="the results store (default path when DB is omitted)",
    )
    src.add_argument(
        "--estimate",
        type=_names,
        metavar="MODELS",
        help="the estimator's table: comma-separated models (zoo names, ONNX paths, "
        "NB201 strings) or 'zoo' for the 14 zoo networks",
    )
    p.add_argument(
        "--hw",
        type=_names,
        help="devices for --estimate (default: every registry "
        "device); or a subset of the table's devices",
    )
    p.add_argument("--runtime", help="runtime for --estimate and kernel explanations")
    p.add_argument(
        "--analyses",
        type=_names,
        default=list(DEFAULT_ANALYSES),
        help=f"comma-separated, of {', '.join(ANALYSES)} (default: all but estimate-transfer)",
    )
    p.add_argument(
        "--accuracy",
        metavar="CSV",
        help="per-model accuracy (columns model,accuracy) for Pareto transfer",
    )
    p.add_argument("--baseline", help="FRM baseline model (default: the first model)")
    p.add_argument("--rows", type=_span, help="keep table rows A:B (positions, before --sample)")
    p.add_argument(
        "--trim",
        type=_span,
        metavar="LO:HI",
        help="keep models within the LO-HI latency percentiles on every device",
    )
    p.add_argument("--sample", type=positive_int, help="keep N models drawn with --seed")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument(
        "--flops-semantics",
        choices=("reference", "pruned"),
        default="reference",
        help="NAS-Bench-201 FLOPs/params: the network as timed (reference) or with "
        "dead edges removed",
    )
    p.add_argument("--top-k", type=positive_int, default=5)
    p.add_argument(
        "--min-shift",
        type=nonnegative_float,
        default=2.0,
        help="rank positions that make a FLOPs disagreement (default 2)",
    )
    p.add_argument(
        "--metric",
        choices=("latency", "frm"),
        default="latency",
        help="what FLOPs ranks are compared with (default latency)",
    )
    p.add_argument(
        "--explain",
        type=nonnegative_int,
        default=3,
        help="kernel explanations for the N most-disagreeing models",
    )
    p.add_argument("--shots", type=_shots, default=(0, 5, 10), help="estimate transfer k values")
    p.add_argument("--draws", type=positive_int, default=5)
    p.add_argument("--pool", type=_span, help="models (positions after --rows) shots come from")
    p.add_argument("--query", type=_span, help="models (positions after --rows) scored on")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--out", help="folder for report.md, report.json, CSVs and PNGs")
    p.add_argument("--table-csv", help="also write the tidy table (long CSV) here")
    p.add_argument("--debug", action="store_true")
    return p


def _table(args: argparse.Namespace) -> EfficiencyTable:
    from estimator.analysis.efficiency import (
        estimated_table,
        from_store,
        read_csv,
        with_nb201_costs,
    )
    from estimator.analysis.efficiency.table import with_model_csv

    if args.estimate is not None:
        if args.estimate == ["zoo"]:
            from estimator.zoo import names

            models = names()
        else:
            models = args.estimate
        table = estimated_table(models, args.hw, runtime=args.runtime)
        return with_model_csv(table, args.accuracy, "accuracy") if args.accuracy else table
    table = from_store(args.store or None) if args.store is not None else read_csv(args.table)
    if args.hw:
        table = table.select_devices(args.hw)
    if any(m.startswith("|") for m in table.models) and not table.has("flops"):
        table = with_nb201_costs(table, semantics=args.flops_semantics)
    return with_model_csv(table, args.accuracy, "accuracy") if args.accuracy else table


def _positions(span: tuple[int, int] | None, n: int, what: str) -> range | None:
    if span is None:
        return None
    if span[1] > n:
        raise InputError(f"--{what} {span[0]}:{span[1]}: the table has {n} models")
    return range(*span)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from estimator.analysis.efficiency.render import to_json, to_text, write_outputs
    from estimator.analysis.efficiency.report import Options, run
    from estimator.analysis.efficiency.table import to_csv_text

    table = _table(args)
    rows = _positions(args.rows, len(table.models), "rows")
    if rows is not None:
        table = table.select(models=list(rows))
    if args.trim is not None:
        if args.trim[1] > 100:
            raise InputError(f"--trim {args.trim[0]}:{args.trim[1]}: percentiles are 0-100")
        table = table.trim(*args.trim)
    if args.sample is not None and args.sample < len(table.models):
        rng = np.random.default_rng(args.seed)
        table = table.select(models=sorted(rng.choice(len(table.models), args.sample, False)))
    n = len(table.models)
    opts = Options(
        baseline=args.baseline,
        top_k=args.top_k,
        min_shift=args.min_shift,
        explain=args.explain,
        metric=args.metric,
        shots=args.shots,
        draws=args.draws,
        seed=args.seed,
        pool=_positions(args.pool, n, "pool"),
        query=_positions(args.query, n, "query"),
        runtime=args.runtime,
    )
    rep = run(table, args.analyses, opts)
    if args.table_csv:
        from pathlib import Path

        from estimator.registry.loader import write_atomic

        write_atomic(Path(args.table_csv), to_csv_text(rep.table))
    if args.out:
        for path in write_outputs(rep, args.out):
            print(f"wrote {path}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(to_json(rep), indent=1))
    else:
        sys.stdout.write(to_text(rep))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from estimator.analysis.efficiency.report import ANALYSES

    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [a for a in args.analyses if a not in ANALYSES]
    if unknown:
        parser.error(
            f"--analyses: unknown analysis {unknown[0]!r}; choose from {', '.join(ANALYSES)}"
        )
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
