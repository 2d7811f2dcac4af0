"""``measure-latency``: time a model on a real runtime and keep the result.

Parsing and printing only: :func:`estimator.measure.measure` does the work and
:class:`estimator.measure.ResultsStore` keeps it (unless ``--no-store``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from estimator.cli.common import (
    ArgumentParser,
    name_arg,
    nonnegative_int,
    parse_shape_binding,
    positive_float,
    positive_int,
    run_guarded,
    wants_debug,
)
from estimator.errors import InputError, ModelLoadError
from estimator.safe_read import check_regular

PROG = "measure-latency"
#: Rows of the per-node profile table in table format (json/csv carry every row).
PROFILE_ROWS = 25


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description=(
            "Measure the latency of a model on onnxruntime or torch (CPU): percentiles, a 95%% CI "
            "of the median, throughput, peak memory, optional per-node profile. Runs are kept in "
            "a SQLite results store (--db, $ESTIMATOR_DB, or the user cache dir)."
        ),
    )
    p.add_argument("model", nargs="?", help="ONNX file (onnxruntime) or zoo model name (torch)")
    p.add_argument(
        "--runtime", default="onnxruntime", type=name_arg, help="onnxruntime (default) or torch"
    )
    p.add_argument("--threads", type=positive_int, help="intra-op threads (default: runtime's)")
    p.add_argument("--batch", type=positive_int, help="bind the batch dim of every input")
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=1x3x224x224",
        help="bind the shape of an input with dynamic dims (repeatable)",
    )
    p.add_argument(
        "--warmup", type=nonnegative_int, default=10, help="untimed runs first (default 10)"
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--repeats", type=positive_int, help="timed runs")
    when.add_argument(
        "--min-time", type=positive_float, help="time runs until this many seconds (default 1 s)"
    )
    p.add_argument("--batch-sweep", help="comma-separated batches, e.g. 1,2,4,8: one run each")
    p.add_argument("--profile", action="store_true", help="per-node times (extra profiled pass)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--db", help="results store path (default $ESTIMATOR_DB or user cache dir)")
    p.add_argument("--no-store", action="store_true", help="do not record the run")
    p.add_argument("--export", metavar="PATH", help="export every stored run (.csv or .json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or store message")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(
        lambda: _run(args, parser),
        debug=wants_debug(argv) or args.debug,
        prog=PROG,
        keeps_measurements=not args.no_store,  # each run is recorded as soon as it is timed
    )


def _shapes(items: list[str]) -> dict[str, tuple[int, ...]] | None:
    out: dict[str, tuple[int, ...]] = {}
    for text in items:
        try:
            name, shape = parse_shape_binding(text)
        except argparse.ArgumentTypeError as exc:
            raise InputError(f"--input-shape: {exc}") from exc
        out[name] = shape
    return out or None


def _batches(text: str | None) -> list[int | None]:
    if text is None:
        return [None]
    try:
        batches = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--batch-sweep: expected integers like 1,2,4, got {text!r}") from None
    if not batches or any(b <= 0 for b in batches):
        raise InputError(f"--batch-sweep: expected positive integers like 1,2,4, got {text!r}")
    return list(batches)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from estimator.measure import ResultsStore, measure
    from estimator.measure.api import RUNTIMES

    if args.export:
        if Path(args.export).is_dir():
            raise InputError(
                f"--export {args.export}: is a folder; give a file name (.csv or .json)"
            )
        fmt = "json" if args.export.lower().endswith(".json") else "csv"
        with ResultsStore(args.db) as source:
            n = source.export(args.export, fmt)
        if not args.quiet:
            print(f"exported {n} runs from {source.path} to {args.export}", file=sys.stderr)
        if not args.model:
            return 0
    if not args.model:
        parser.error("MODEL is required (or --export)")
    if args.runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {args.runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    shapes = _shapes(args.input_shape)
    batches = _batches(args.batch_sweep) if args.batch_sweep else [args.batch]
    if args.runtime == "onnxruntime":
        # checked before opening the store, so a typo does not create an empty store file; a
        # FIFO or a device is refused before anything opens it
        check_regular(args.model, what="model file", error=ModelLoadError)
    store: ResultsStore | None = None if args.no_store else ResultsStore(args.db)
    results: list[tuple[Any, int | None]] = []
    try:
        for b in batches:
            m = measure(
                args.model,
                runtime=args.runtime,
                threads=args.threads,
                batch=b,
                input_shapes=shapes,
                warmup=args.warmup,
                repeats=args.repeats,
                min_time_s=args.min_time,
                profile=args.profile,
                progress=not args.quiet,
            )
            run_id = store.record(m) if store is not None and m.repeats else None
            results.append((m, run_id))
            if m.status == "interrupted":
                break
    finally:
        if store is not None:
            store.close()
    _print(results, args)
    if store is not None and not args.quiet:
        ids = ", ".join(str(r) for _, r in results if r is not None)
        print(f"recorded run(s) {ids} in {store.path}", file=sys.stderr)
    if any(m.status == "interrupted" for m, _ in results):
        print(f"{PROG}: interrupted; partial samples kept", file=sys.stderr)
        return 130
    return 0


def _row(m: Any, run_id: int | None) -> dict[str, Any]:
    stats = m.summary.to_dict() if m.summary else {}
    return {
        "run_id": run_id,
        "model": m.model_name,
        "runtime": m.runtime,
        "threads": m.threads,
        "status": m.status,
        **stats,
        "peak_rss_bytes": m.peak_rss_bytes,
        "rss_growth_bytes": m.rss_growth_bytes,
    }


def _print(results: list[tuple[Any, int | None]], args: argparse.Namespace) -> None:
    if args.format == "json":
        payload = [
            {
                "run_id": rid,
                **m.summary_dict(),
                "kernels": [k.to_dict() for k in m.kernel_times],
            }
            for m, rid in results
        ]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=1))
    elif args.format == "csv":
        rows = [_row(m, rid) for m, rid in results]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
    elif len(results) > 1:
        sys.stdout.write(sweep_table([m for m, _ in results]))
    else:
        sys.stdout.write(run_table(results[0][0]))


def _mb(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 2**20:.1f} MiB"


def run_table(m: Any) -> str:
    s = m.summary
    lines = [
        f"model       {m.model_name}  ({m.model_hash[:12]})",
        f"runtime     {m.runtime} {m.runtime_version}, threads {m.threads or 'default'}, "
        f"batch {m.batch}, {m.dtype}",
        f"runs        {m.repeats} timed after {m.warmup} warmup ({m.status})",
    ]
    if s is None:
        return "\n".join([*lines, "no samples"]) + "\n"
    need = "n/a" if s.repeats_for_2pct is None else str(s.repeats_for_2pct)
    lines += [
        f"median      {s.p50_ms:.4f} ms   95% CI [{s.median_ci95_low_ms:.4f}, "
        f"{s.median_ci95_high_ms:.4f}] (coverage {s.median_ci_coverage:.3f})",
        f"mean        {s.mean_ms:.4f} ms +/- {s.std_ms:.4f} (CV {100 * s.cv:.1f}%)",
        f"min / max   {s.min_ms:.4f} / {s.max_ms:.4f} ms",
        f"P90/95/99   {s.p90_ms:.4f} / {s.p95_ms:.4f} / {s.p99_ms:.4f} ms",
        f"throughput  {s.throughput_sps:.1f} samples/s (batch / median)",
        f"memory      peak RSS {_mb(m.peak_rss_bytes)}, growth {_mb(m.rss_growth_bytes)}",
        f"precision   {need} repeats for a +/-2% median CI (have {s.n})",
    ]
    if m.kernel_times:
        total = sum(k.mean_us for k in m.kernel_times) or 1.0
        lines += ["", f"{'node':<40} {'op':<18} {'us/run':>10} {'share':>7} {'calls':>7}"]
        for k in m.kernel_times[:PROFILE_ROWS]:
            lines.append(
                f"{k.node_name[:40]:<40} {k.op_type[:18]:<18} {k.mean_us:>10.2f} "
                f"{100 * k.mean_us / total:>6.1f}% {k.calls:>7}"
            )
        if len(m.kernel_times) > PROFILE_ROWS:
            lines.append(f"... {len(m.kernel_times) - PROFILE_ROWS} more nodes (--format json)")
    return "\n".join(lines) + "\n"


def sweep_table(ms: list[Any]) -> str:
    head = (
        f"{'batch':>6} {'median ms':>11} {'CI95 low':>10} {'CI95 high':>10} {'P90 ms':>10} "
        f"{'P99 ms':>10} {'CV %':>6} {'samples/s':>12} {'n':>6}"
    )
    lines = [head]
    for m in ms:
        s = m.summary
        if s is None:
            lines.append(f"{m.batch:>6} {'no samples':>11}")
            continue
        lines.append(
            f"{m.batch:>6} {s.p50_ms:>11.4f} {s.median_ci95_low_ms:>10.4f} "
            f"{s.median_ci95_high_ms:>10.4f} {s.p90_ms:>10.4f} {s.p99_ms:>10.4f} "
            f"{100 * s.cv:>6.1f} {s.throughput_sps:>12.1f} {s.n:>6}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
