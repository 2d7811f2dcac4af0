"""List, export and measure the generated validation corpus (``estimator.zoo.corpus``).

    python tools/corpus.py list [--per-family 20] [--seed 0] [--families a,b] [--tiny]
    python tools/corpus.py export [--out DIR] [--per-family 20] [--seed 0] [--families a,b]
    python tools/corpus.py measure [--out DIR] --threads 1,2 [--repeats 20] [--db PATH]
    python tools/corpus.py profile [--out DIR] --threads 1,2 [--repeats 20] --db CALIB.sqlite
    python tools/corpus.py validate --hw host --threads 1,2 --db CALIB.sqlite [--json FILE]
    python tools/corpus.py repeat --threads 1,2 --db CALIB.sqlite [-n 40] [--sessions 3]

``export`` writes ``DIR/<family>/<index>-<hash>.onnx`` and ``DIR/manifest.json``, keeping files
already there (resume after an interruption). ``measure`` times every exported network of the
manifest with ``estimator.measure.measure`` (onnxruntime, batch 1) at each thread count, records
each run in the results store (``--db``, ``$ESTIMATOR_DB`` or the user cache), skips a network
already stored for this machine at that thread count with at least ``--repeats`` samples, and
rewrites ``DIR/measurements.csv`` (name, family, threads, median_ms, p10_ms, p90_ms, runs)
atomically after every network. DIR defaults to ~/.cache/roofline-estimator/corpus.

``profile`` measures the corpus the way calibration measures (timed runs, then a profiled pass
per node) into a calibration store, so its kernels and whole runs can take part in fits.
``validate`` then scores leave-one-family-out accuracy on everything that store holds
(``estimator.calibration.families``): per family, overall, and against ``c x MACs``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from estimator.errors import InputError

#: Fewest timed runs a stored measurement may have (the median of at least this many warm runs).
MIN_REPEATS = 15
CSV_NAME = "measurements.csv"
CSV_FIELDS = ("name", "family", "threads", "median_ms", "p10_ms", "p90_ms", "runs")


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{flag}: expected integers like 1,2, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise InputError(f"{flag}: expected positive integers like 1,2, got {text!r}")
    return values


def _families(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names:
        raise InputError("--families: give family names separated by commas")
    return names


def _nets(args: argparse.Namespace) -> list[Any]:
    from estimator.zoo.corpus import generate_corpus

    if args.per_family < 0:
        raise InputError(f"--per-family must be >= 0, got {args.per_family}")
    return generate_corpus(
        args.per_family, args.seed, tiny=args.tiny, families=_families(args.families)
    )


def cmd_list(args: argparse.Namespace) -> int:
    nets = _nets(args)
    rows = [
        {
            "name": n.name,
            "family": n.family,
            "resolution": n.input_shape[-1],
            "macs": n.size.macs,
            "params": n.size.params,
            "weight_mb": round(n.size.weight_bytes / 1e6, 2),
            "rough_ms": n.size.rough_ms,
        }
        for n in nets
    ]
    if args.format == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"])
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return 0
    print(f"{'name':<36} {'family':<11} {'res':>4} {'MMACs':>9} {'params':>11} {'rough ms':>9}")
    for r in rows:
        print(
            f"{r['name']:<36} {r['family']:<11} {r['resolution']:>4} {r['macs'] / 1e6:>9.1f} "
            f"{r['params']:>11,} {r['rough_ms']:>9.2f}"
        )
    print(f"{len(rows)} networks")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from estimator.zoo.corpus import default_dir, export_corpus

    out = Path(args.out) if args.out else default_dir()
    t0 = time.perf_counter()
    nets = _nets(args)
    t_gen = time.perf_counter() - t0
    counts = {"exported": 0, "kept": 0}

    def done(net: Any, path: Path, exported: bool) -> None:
        counts["exported" if exported else "kept"] += 1
        if not args.quiet:
            what = "exported" if exported else "kept    "
            print(f"{what} {path}  {path.stat().st_size / 2**20:.1f} MiB", flush=True)

    export_corpus(nets, out, opset=args.opset, on_done=done)
    total = time.perf_counter() - t0
    print(
        f"{len(nets)} networks in {out}: {counts['exported']} exported, {counts['kept']} already "
        f"there; generation {t_gen:.1f} s, total {total:.1f} s"
    )
    return 0


def _stats(samples: Sequence[float]) -> dict[str, Any]:
    import numpy as np

    from estimator.measure.stats import percentile

    arr = np.asarray(samples, dtype=float)
    return {
        "median_ms": round(percentile(arr, 50), 6),
        "p10_ms": round(percentile(arr, 10), 6),
        "p90_ms": round(percentile(arr, 90), 6),
        "runs": int(arr.size),
    }


def _write_csv(path: Path, rows: dict[tuple[str, int], dict[str, Any]]) -> None:
    from estimator.zoo.corpus.exporting import write_atomic

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[k] for k in sorted(rows))
    write_atomic(path, buf.getvalue())


def _stored_run(store: Any, model_hash: str, machine: str, threads: int, repeats: int) -> Any:
    """Latest complete onnxruntime run of this model on this machine at ``threads``, or None."""
    runs = [
        r
        for r in store.runs(model=model_hash, runtime="onnxruntime", machine=machine)
        if r.threads == threads and r.status == "complete" and r.repeats >= repeats and r.batch == 1
    ]
    return runs[-1] if runs else None


def cmd_measure(args: argparse.Namespace) -> int:
    from estimator.measure import ResultsStore, fingerprint_hash, machine_fingerprint, measure
    from estimator.measure.ort_runtime import load_model
    from estimator.zoo.corpus import default_dir, manifest_nets

    out = Path(args.out) if args.out else default_dir()
    threads = _ints(args.threads, "--threads")
    if args.repeats < MIN_REPEATS:
        raise InputError(
            f"--repeats must be >= {MIN_REPEATS} (median of warm runs), got {args.repeats}"
        )
    if args.warmup < 1:
        raise InputError(f"--warmup must be >= 1, got {args.warmup}")
    nets = manifest_nets(out)
    if not nets:
        raise InputError(f"{out}: no exported corpus (run `tools/corpus.py export --out {out}`)")
    fams = _families(args.families)
    if fams is not None:
        nets = [(n, p) for n, p in nets if n.family in fams]
    if args.limit is not None:
        nets = nets[: args.limit]
    machine = fingerprint_hash(machine_fingerprint())
    csv_path = out / CSV_NAME
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    measured = skipped = 0
    t0 = time.perf_counter()
    with ResultsStore(args.db) as store:
        for i, (net, path) in enumerate(nets):
            model_hash = load_model(path)[1]
            for t in threads:
                run = _stored_run(store, model_hash, machine, t, args.repeats)
                if run is not None:
                    samples = store.samples(run.id)
                    skipped += 1
                else:
                    m = measure(
                        path,
                        runtime="onnxruntime",
                        threads=t,
                        warmup=args.warmup,
                        repeats=args.repeats,
                    )
                    if m.status != "complete":
                        _write_csv(csv_path, rows)
                        print("interrupted; completed runs are stored", file=sys.stderr)
                        return 130
                    m.model_name = net.name
                    store.record(m)
                    samples = [float(v) for v in m.samples_ms]
                    measured += 1
                row = {"name": net.name, "family": net.family, "threads": t, **_stats(samples)}
                rows[(net.name, t)] = row
                if not args.quiet:
                    print(
                        f"[{i + 1}/{len(nets)}] {net.name} threads={t} "
                        f"median {row['median_ms']:.3f} ms ({row['runs']} runs"
                        f"{', stored' if run is not None else ''})",
                        flush=True,
                    )
            _write_csv(csv_path, rows)
    print(
        f"{len(nets)} networks x {len(threads)} thread counts: {measured} measured, {skipped} "
        f"already stored; {time.perf_counter() - t0:.1f} s; {csv_path}; store {store.path}"
    )
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from estimator.calibration.collect import Budget, collect
    from estimator.calibration.families import link_corpus
    from estimator.zoo.corpus.exporting import default_dir

    if args.repeats < MIN_REPEATS:
        raise InputError(f"--repeats: at least {MIN_REPEATS}, got {args.repeats}")
    db = Path(args.db)
    links = link_corpus(Path(args.out) if args.out else default_dir(), db)
    budget = Budget(min_repeats=args.repeats)
    for th in _ints(args.threads, "--threads"):
        res = collect(links, db, th, budget=budget, passes=args.passes)
        print(
            f"threads={th}: measured {len(res.measured)}, reused {len(res.skipped)} "
            f"in {res.seconds:.0f} s"
        )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from estimator.calibration.dataset import load_dataset
    from estimator.calibration.families import validate_families
    from estimator.calibration.validate import format_metrics
    from estimator.registry import load_hardware

    hw = load_hardware(args.hw, args.registry)
    out: dict[str, Any] = {"hardware": hw.id, "threads": {}}
    for th in _ints(args.threads, "--threads"):
        t0 = time.perf_counter()
        ds = load_dataset(
            Path(args.db), hw, th, statistic=args.kernel_stat, whole=args.whole, corpus=True
        )
        if len(ds.models) < 3:
            raise InputError(f"need >= 3 measured networks at threads={th} in {args.db}")
        macs = [float(sum(k.macs for k in m.plan.kernels)) for m in ds.models]
        fv = validate_families(
            ds.sweep_points,
            ds.models,
            macs,
            hw,
            th,
            use_network_fit=not args.no_network_fit,
            kernel_model=not args.no_kernel_model,
            breakdown=args.breakdown,
        )
        fams = sorted(set(fv.families))
        print(f"## {hw.id} threads={th}: leave one family out ({len(ds.models)} networks)")
        print("| family | n | median abs. error | within 10% | within 15% | 95% coverage |"
              " c x MACs median | c x MACs within 10% |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        rows: dict[str, Any] = {}
        for fam in [*fams, None]:
            m = fv.metrics(fam)
            b = fv.baseline_metrics(fam)
            label = fam or "**all**"
            print(
                f"| {label} | {m.n} | {100 * m.median_abs_error:.1f}% | "
                f"{100 * m.within10:.0f}% | {100 * m.within15:.0f}% | "
                f"{100 * m.coverage:.0f}% | {100 * b.median_abs_error:.1f}% | "
                f"{100 * b.within10:.0f}% |"
            )
            rows[fam or "all"] = {"estimator": m.to_dict(), "c_x_macs": b.to_dict()}
        print(f"overall: {format_metrics(fv.metrics())}")
        print(f"c x MACs: {format_metrics(fv.baseline_metrics())}")
        if args.breakdown:
            from estimator.calibration.breakdown import format_breakdown

            print()
            print(format_breakdown([fv.breakdown[f] for f in fams if f in fv.breakdown]))
        print(f"({time.perf_counter() - t0:.0f} s)")
        out["threads"][str(th)] = {
            "families": rows,
            "networks": [
                {
                    "name": r.name,
                    "family": f,
                    "measured_ms": r.measured_ms,
                    "predicted_ms": r.predicted_ms,
                    "low_ms": r.low_ms,
                    "high_ms": r.high_ms,
                    "c_x_macs_ms": b,
                }
                for r, f, b in zip(fv.results, fv.families, fv.baseline_ms, strict=True)
            ],
        }
        if args.breakdown:
            out["threads"][str(th)]["breakdown"] = {
                f: b.to_dict() for f, b in sorted(fv.breakdown.items())
            }
    if args.json:
        from estimator.zoo.corpus.exporting import write_atomic

        write_atomic(Path(args.json), json.dumps(out, indent=1) + "\n")
    return 0


def cmd_repeat(args: argparse.Namespace) -> int:
    """Re-time a seeded sample of a calibration store's networks in fresh sessions: how far a
    median whole-run latency moves between two measurements of the same network on this
    machine (the floor under any accuracy figure measured here)."""
    import json

    import numpy as np

    from estimator.calibration.collect import CalibrationStore
    from estimator.measure import measure

    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {"db": str(args.db), "sessions": args.sessions, "threads": {}}
    for th in _ints(args.threads, "--threads"):
        with CalibrationStore(Path(args.db)) as store:
            runs = {r.model_name: r for r in store.calibration_runs(th)}
        names = sorted(n for n in runs if n.startswith("zoo__"))
        if not names:
            raise InputError(f"{args.db}: no measured networks at threads={th}")
        pick = [names[i] for i in rng.choice(len(names), min(args.n, len(names)), replace=False)]
        rows = []
        for name in pick:
            run = runs[name]
            medians = []
            for _ in range(args.sessions):
                m = measure(run.model_path, runtime="onnxruntime", threads=th, warmup=3,
                            repeats=args.repeats)  # fmt: skip
                if m.status != "complete":
                    print("interrupted", file=sys.stderr)
                    return 130
                medians.append(float(np.median(m.samples_ms)))
            rows.append({"name": name[len("zoo__") :], "stored_ms": run.median_ms,
                         "session_ms": medians})  # fmt: skip
        first = np.array([r["session_ms"][0] / r["stored_ms"] for r in rows])
        change = np.abs(np.log(first))
        spread = np.array([np.ptp(np.log(r["session_ms"])) for r in rows])
        summary = {
            "n": len(rows),
            "median_abs_log_change_vs_stored": float(np.median(change)),
            "within_5pct_of_stored": float(np.mean(change <= np.log(1.05))),
            "within_10pct_of_stored": float(np.mean(change <= np.log(1.10))),
            "median_ratio_vs_stored": float(np.exp(np.median(np.log(first)))),
            "median_session_log_range": float(np.median(spread)),
        }
        print(f"threads={th}: " + "  ".join(f"{k}={v:.3f}" for k, v in summary.items()))
        out["threads"][str(th)] = {**summary, "networks": rows}
    if args.json:
        from estimator.zoo.corpus.exporting import write_atomic

        write_atomic(Path(args.json), json.dumps(out, indent=1) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="corpus", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = p.add_subparsers(dest="command", required=True)

    def corpus_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--per-family", type=int, default=20, help="networks per family")
        sp.add_argument("--seed", type=int, default=0, help="corpus seed")
        sp.add_argument("--families", help="comma-separated families (default: all)")
        sp.add_argument("--tiny", action="store_true", help="the tiny members (tests)")

    sp = sub.add_parser("list", help="name, family, MACs, params of each network")
    corpus_args(sp)
    sp.add_argument("--format", choices=("table", "csv"), default="table")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("export", help="export the corpus to ONNX (skips files present)")
    corpus_args(sp)
    sp.add_argument("--out", help="corpus folder (default ~/.cache/roofline-estimator/corpus)")
    sp.add_argument("--opset", type=int, default=17)
    sp.add_argument("--quiet", action="store_true", help="only the summary line")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("measure", help="measure the exported corpus with onnxruntime")
    sp.add_argument("--out", help="corpus folder (default ~/.cache/roofline-estimator/corpus)")
    sp.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    sp.add_argument("--repeats", type=int, default=20, help=f"timed runs (>= {MIN_REPEATS})")
    sp.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    sp.add_argument("--db", help="results store (default $ESTIMATOR_DB or the user cache)")
    sp.add_argument("--families", help="comma-separated families (default: all)")
    sp.add_argument("--limit", type=int, help="only the first N networks of the manifest")
    sp.add_argument("--quiet", action="store_true", help="only the summary line")
    sp.set_defaults(func=cmd_measure)

    sp = sub.add_parser("profile", help="measure the corpus kernel by kernel into a calib store")
    sp.add_argument("--out", help="corpus folder (default ~/.cache/roofline-estimator/corpus)")
    sp.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    sp.add_argument("--repeats", type=int, default=20, help=f"timed runs (>= {MIN_REPEATS})")
    sp.add_argument("--passes", type=int, default=1, help="measurement passes")
    sp.add_argument("--db", required=True, help="calibration store (calibrate-hardware --db)")
    sp.set_defaults(func=cmd_profile)

    sp = sub.add_parser("repeat", help="re-time stored networks: how far medians move")
    sp.add_argument("--db", required=True, help="calibration store")
    sp.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    sp.add_argument("-n", type=int, default=40, help="networks sampled per thread count")
    sp.add_argument("--sessions", type=int, default=3, help="fresh sessions per network")
    sp.add_argument("--repeats", type=int, default=20, help=f"timed runs (>= {MIN_REPEATS})")
    sp.add_argument("--seed", type=int, default=0, help="seed of the sample")
    sp.add_argument("--json", help="also write the results here")
    sp.set_defaults(func=cmd_repeat)

    sp = sub.add_parser("validate", help="leave-one-family-out accuracy over a calib store")
    sp.add_argument("--hw", required=True, help="registry device, or 'host'")
    sp.add_argument("--registry", help="extra registry folder(s) searched first")
    sp.add_argument("--db", required=True, help="calibration store")
    sp.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    sp.add_argument("--kernel-stat", default="median", choices=("median", "p10"))
    sp.add_argument("--whole", default="median", choices=("median", "p10", "cpu"))
    sp.add_argument(
        "--no-network-fit",
        action="store_true",
        help="kernel prices only: no whole-network category scales and gap",
    )
    sp.add_argument("--no-kernel-model", action="store_true", help="curves only")
    sp.add_argument(
        "--breakdown",
        action="store_true",
        help="per family, its error by kernel category (predicted / profiled kernel time)",
    )
    sp.add_argument("--json", help="also write the results here")
    sp.set_defaults(func=cmd_validate)
    for action in sub.choices.values():
        action.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from estimator.cli.common import run_guarded, wants_debug

    args = build_parser().parse_args(argv)

    def body() -> int:
        try:
            return int(args.func(args))
        except OSError as exc:
            raise InputError(f"{exc.filename or ''}: {exc.strerror or exc}") from exc

    keeps = args.command in ("measure", "profile", "repeat")
    return run_guarded(
        body, debug=wants_debug(argv) or args.debug, prog="corpus", keeps_measurements=keeps
    )


if __name__ == "__main__":
    sys.exit(main())
