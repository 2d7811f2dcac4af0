"""Command-line entry points of the calibration tools (the scripts in calibration/ call these).

Each ``main`` parses, calls the library, prints, and returns an exit status: 0 success, 1 a
validation threshold missed, 2 a user error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from estimator.errors import InputError
from estimator.registry.models import Hardware, KernelCategory

if TYPE_CHECKING:
    from estimator.calibration.attribute import KernelPoint
    from estimator.calibration.dataset import Dataset
    from estimator.calibration.fit import CategoryFit

RUNTIMES = ("onnxruntime", "onnxruntime-cpu", "ort")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run(prog: str, body: Callable[[], int]) -> int:
    try:
        return body()
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (measurements so far are kept)", file=sys.stderr)
        return 130


def _threads(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(
            f"--threads: expected integers separated by commas, got {text!r}"
        ) from None
    if not out or any(t < 1 for t in out):
        raise InputError(f"--threads: expected positive integers, got {text!r}")
    return out


def _db(path: str | None) -> Path:
    from estimator.measure import default_db_path

    return Path(path) if path else default_db_path()


def _hw(name: str, registry: str | None = None) -> Hardware:
    from estimator.registry import load_hardware

    return load_hardware(name, registry)  # "host" resolves to this machine's entry there


def _zoo(text: str) -> list[str] | None:
    if text == "all":
        return None
    if text == "none":
        return []
    return [t.strip() for t in text.split(",") if t.strip()]


def _runtime(text: str) -> None:
    if text not in RUNTIMES:
        raise InputError(f"--runtime: only onnxruntime is calibrated by this tool, got {text!r}")


def _common(p: argparse.ArgumentParser, hw: bool = True) -> None:
    if hw:
        p.add_argument("--hw", required=True, help="registry device name, or 'host'")
        p.add_argument("--registry", help="extra registry folder(s) searched first")
        p.add_argument("--kernel-stat", default="p10", choices=("p10", "median"),
                       help="per-kernel time over the profiled runs (default p10)")  # fmt: skip
    p.add_argument("--db", help="results store (default: measure-latency's store)")
    p.add_argument("--threads", default="1", help="intra-op threads, e.g. 1 or 1,2")


# --------------------------------------------------------------------------- 1 measure


def measure_efficiency(argv: Sequence[str] | None = None) -> int:
    """Measure single-kernel sweeps and zoo networks kernel by kernel into the results store."""
    p = argparse.ArgumentParser(prog="measure_efficiency", description=measure_efficiency.__doc__)
    _common(p, hw=False)
    p.add_argument("--quick", action="store_true", help="reduced sweep grid")
    p.add_argument("--zoo", default="all", help="zoo models: all, none, or a,b,c")
    p.add_argument("--onnx", nargs="*", default=[], type=Path, help="extra ONNX networks")
    p.add_argument("--min-time", type=float, default=0.25, help="timed seconds per model")
    p.add_argument("--remeasure", action="store_true", help="measure again models already stored")
    p.add_argument("--passes", type=int, default=1,
                   help="measure this many times; the least disturbed pass is used")  # fmt: skip
    args = p.parse_args(argv)

    def body() -> int:
        from estimator.calibration.collect import Budget, collect
        from estimator.calibration.dataset import model_files

        db = _db(args.db)
        if args.min_time <= 0:
            raise InputError("--min-time must be positive")
        paths = model_files(
            db, quick=args.quick, zoo_models=_zoo(args.zoo), extra=args.onnx, log=_log
        )
        for th in _threads(args.threads):
            res = collect(
                paths,
                db,
                th,
                budget=Budget(min_time_s=args.min_time),
                force=args.remeasure,
                passes=args.passes,
            )
            print(
                f"threads={th}: measured {len(res.measured)}, already stored {len(res.skipped)}, "
                f"{res.seconds:.0f} s; store {db}"
            )
        return 0

    return _run(p.prog, body)


# --------------------------------------------------------------------------- 2 aggregate


def _fit_points(
    args: argparse.Namespace, th: int
) -> tuple[Hardware, Dataset, list[KernelPoint], dict[KernelCategory, CategoryFit]]:
    from estimator.calibration.dataset import load_dataset
    from estimator.calibration.fit import fit_all

    hw = _hw(args.hw, args.registry)
    ds = load_dataset(_db(args.db), hw, th, statistic=args.kernel_stat)
    pts = ds.all_points
    if not pts:
        raise InputError(f"no calibration measurements at threads={th} in {_db(args.db)}")
    return hw, ds, pts, fit_all(pts)


def aggregate_efficiency(argv: Sequence[str] | None = None) -> int:
    """Pooled efficiency statistics per category and log-size bin (mean, std, n, 95% CI)."""
    p = argparse.ArgumentParser(
        prog="aggregate_efficiency", description=aggregate_efficiency.__doc__
    )
    _common(p)
    p.add_argument("--step", type=float, default=0.5, help="bin width in log10 units")
    p.add_argument("--json", type=Path, help="also write the bins as JSON here")
    args = p.parse_args(argv)

    def body() -> int:
        from estimator.calibration.aggregate import aggregate, efficiency_points, format_table

        for th in _threads(args.threads):
            _, ds, pts, fits = _fit_points(args, th)
            overhead = {c: f.profile.overhead_us.mean * 1e-6 for c, f in fits.items()}
            stats = aggregate(efficiency_points(pts, overhead), args.step)
            print(f"# threads={th}: {len(pts)} kernels; {ds.match_summary()}")
            print(format_table(stats))
            if args.json:
                doc = {f"{c}/{k}": [_bin(b) for b in bins] for (c, k), bins in stats.items()}
                args.json.write_text(json.dumps(doc, indent=1))
        return 0

    return _run(p.prog, body)


def _bin(b: object) -> dict[str, float]:
    return {k: getattr(b, k) for k in ("lo", "hi", "n", "mean", "var", "ci_low", "ci_high")}


# --------------------------------------------------------------------------- 3 distribution


def analyze_efficiency_distribution(argv: Sequence[str] | None = None) -> int:
    """Normality, heteroscedasticity and outliers of the fit residuals per category and curve."""
    p = argparse.ArgumentParser(
        prog="analyze_efficiency_distribution", description=analyze_efficiency_distribution.__doc__
    )
    _common(p)
    p.add_argument("--alpha", type=float, default=0.05)
    args = p.parse_args(argv)

    def body() -> int:
        import numpy as np

        from estimator.calibration.distribution import analyze, format_report

        for th in _threads(args.threads):
            _, _ds, pts, fits = _fit_points(args, th)
            results = []
            for cat, f in fits.items():
                cpts = [q for q in pts if q.category == cat and q.t > 0 and (q.flops or q.bytes)]
                for code, name in ((0, "compute"), (1, "memory")):
                    sel = f.bound == code
                    if int(sel.sum()) == 0:
                        continue
                    size = np.array(
                        [np.log10(max(q.flops if code == 0 else q.bytes, 1.0)) for q in cpts]
                    )
                    results.append(analyze(f.residuals[sel], size[sel], f"{cat}/{name}"))
            print(f"# threads={th}: residual = log(measured / fitted kernel time)")
            print(format_report(results, args.alpha))
        return 0

    return _run(p.prog, body)


# --------------------------------------------------------------------------- 4 calibrate


def calibrate_hardware(argv: Sequence[str] | None = None) -> int:
    """Measure, fit and write efficiency_curves.json for a device (atomically, with backup)."""
    p = argparse.ArgumentParser(prog="calibrate_hardware", description=calibrate_hardware.__doc__)
    _common(p)
    p.add_argument(
        "--runtime",
        default=None,
        help="measured runtime (onnxruntime); with --from-latencies the fusion-rule family of the "
        "timed runs: onnxruntime-cpu, pytorch-eager or tensorrt (default: the device type's usual)",
    )
    p.add_argument(
        "--from-latencies",
        type=Path,
        metavar="FILE.csv",
        help="few-shot: fit the device from measured whole-model latencies (columns model, "
        "latency_ms[, batch]; model = ONNX path, zoo name or NAS-Bench-201 arch string)",
    )
    p.add_argument("--shots", type=int, help="with --from-latencies: use k random rows")
    p.add_argument("--quick", action="store_true", help="reduced sweep grid and zoo subset")
    p.add_argument("--zoo", default=None, help="zoo models (default: all; --quick: 4 small ones)")
    p.add_argument("--no-measure", action="store_true", help="fit what the store already holds")
    p.add_argument("--whole", default="auto", choices=("auto", "median", "cpu", "p10"),
                   help="whole-run figure for the gap and device_sigma; auto: thread CPU time "
                        "at 1 thread, p10 wall time otherwise")  # fmt: skip
    p.add_argument("--out", type=Path, help="folder or file to write (default: the device's)")
    p.add_argument("--note", default="", help="audit note")
    p.add_argument(
        "--gap",
        action="store_true",
        help="also fit a whole-model per-kernel gap (off by default: with ~14 networks it is not "
        "identifiable apart from the per-category overheads; see docs/calibration.md)",
    )
    p.add_argument("--passes", type=int, default=1,
                   help="measurement passes; the least disturbed one is used")  # fmt: skip
    args = p.parse_args(argv)
    if args.from_latencies is not None:
        from estimator.estimate import default_runtime
        from estimator.transfer import cli_from_latencies

        def few_shot() -> int:
            runtime = args.runtime or default_runtime(args.hw, args.registry)
            return cli_from_latencies(args.hw, args.from_latencies, args.shots, runtime, args.out)

        return _run(p.prog, few_shot)
    args.runtime = args.runtime or "onnxruntime"

    def body() -> int:
        from estimator.calibration.calibrate import (
            calibrate,
            held_out_residuals,
            peak_excess,
            scatter_sigma,
        )
        from estimator.calibration.collect import collect
        from estimator.calibration.dataset import load_dataset, model_files
        from estimator.registry import save_profiles
        from estimator.registry.loader import curves_path

        _runtime(args.runtime)
        t0 = time.perf_counter()
        hw = _hw(args.hw, args.registry)
        db = _db(args.db)
        threads = _threads(args.threads)
        zoo = _zoo(args.zoo) if args.zoo else (QUICK_ZOO if args.quick else None)
        out = args.out or (Path(hw.source_dir) if hw.source_dir else None)
        if out is None:
            raise InputError(f"{hw.id}: no folder to write to; give --out")
        curves_path(out)  # fail before minutes of measuring, not after
        if not args.no_measure:
            _elementary_work(hw, args.quick, curves_path(out).parent)
            paths = model_files(db, quick=args.quick, zoo_models=zoo, log=_log)
            for th in threads:
                res = collect(paths, db, th, passes=args.passes)
                _log(f"threads={th}: measured {len(res.measured)}, reused {len(res.skipped)}")
        profiles = []
        for th in threads:
            whole = _whole(args.whole, th)
            ds = load_dataset(db, hw, th, statistic=args.kernel_stat, whole=whole, models=zoo)
            pts = ds.all_points
            if not pts:
                raise InputError(f"no calibration measurements at threads={th} in {db}")
            _log(
                f"threads={th}: {len(pts)} kernels, {len(ds.models)} networks; {ds.match_summary()}"
            )
            cal = calibrate(pts, ds.models, hw, th, use_gap=args.gap, source=_source(args, th))
            if len(ds.models) >= MIN_HELD_OUT:
                _log(f"threads={th}: device_sigma from {len(ds.models)} held-out refits")
                r, rk = held_out_residuals(pts, ds.models, hw, th, use_gap=args.gap)
                sigma = scatter_sigma(r, rk, len(r))
                cal.profile = cal.profile.model_copy(update={"device_sigma": sigma})
            profiles.append(cal.profile)
            print(
                f"threads={th}: {len(cal.fits)} categories fitted, "
                f"gap {cal.gap * 1e6:.1f} us/kernel,"
                f" device_sigma {cal.profile.device_sigma:.3f}"
            )
            for cat, f in cal.fits.items():
                print(f"  {cat!s:<15} n={f.n_points:<5} R2={f.r2:.3f} resid sd={f.resid_std:.3f}")
            excess = peak_excess(pts)
            if excess > 1.0:
                print(
                    f"warning: threads={th}: 10% of compute-bound kernels run at >= {excess:.2f}x "
                    f"the fp32 peak of {hw.id}'s hardware.json; efficiencies are capped at 1, so "
                    "the peak is too low: correct peak_gflops and refit (--no-measure)"
                )
        path = save_profiles(out, profiles, device=hw.id, note=args.note or "calibrate_hardware")
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
        return 0

    return _run(p.prog, body)


def _elementary_work(hw: Hardware, quick: bool, out: Path) -> None:
    """Measure the device's own elementary-function table once, before the kernels it prices
    are attributed (a device with a table keeps it; rerun tools/measure_elementary_work.py
    --write to replace it). Only into the device's own folder: the table is read from next to
    its hardware.json, and a calibration told to write elsewhere must not touch that folder."""
    import onnxruntime as ort

    from estimator.calibration.elementary import RUNTIME, measure_elementary, method
    from estimator.registry.elementary import load_elementary_work, save_elementary_work

    if hw.source_dir is None or load_elementary_work(hw, RUNTIME) is not None:
        return
    if out.resolve() != Path(hw.source_dir).resolve():
        _log(
            f"{hw.id} has no elementary_work.json; the runtime's default table applies (measure "
            f"one with tools/measure_elementary_work.py --hw {hw.id} --write)"
        )
        return
    repeats, runs = (3, 100) if quick else (11, 300)
    _log(f"measuring elementary-function work on {hw.id} (one thread)")
    m = measure_elementary(hw, repeats, runs)
    source = f"calibrate_hardware.py --hw {hw.id} ({method(repeats, runs, ort.__version__)})"
    _log(f"wrote {save_elementary_work(hw.source_dir, hw.id, RUNTIME, m.entry(source))}")


def _whole(choice: str, threads: int) -> str:
    """'auto': CPU time of the calling thread at one thread (all the work runs there, and it
    excludes time other processes took); the 10th percentile of wall time otherwise."""
    if choice != "auto":
        return choice
    return "cpu" if threads == 1 else "p10"


def _source(args: argparse.Namespace, th: int) -> str:
    return (
        f"calibrate_hardware --hw {args.hw} --threads {th} --kernel-stat {args.kernel_stat} "
        f"--whole {_whole(args.whole, th)}{' --gap' if args.gap else ''}"
        f"{' --quick' if args.quick else ''}"
        " (onnxruntime CPU, single-kernel sweeps + zoo networks profiled per node)"
    )


#: Fewest networks for which device_sigma comes from held-out refits (one per network) rather
#: than from the in-sample residuals: with two, each refit rests on a single network's run.
MIN_HELD_OUT = 3

#: Networks --quick calibrates with (small, fast to export and measure, varied categories).
QUICK_ZOO = ["mobilenet_v3_small", "squeezenet1_1", "resnet18", "deit_tiny"]


# --------------------------------------------------------------------------- 5 validate


def validate_calibration(argv: Sequence[str] | None = None) -> int:
    """Leave-one-model-out accuracy over the measured networks; non-zero exit below thresholds."""
    p = argparse.ArgumentParser(
        prog="validate_calibration", description=validate_calibration.__doc__
    )
    _common(p)
    p.add_argument("--models", default="all", help="networks to validate: all or a,b,c")
    p.add_argument("--whole", default="median", choices=("median", "cpu", "p10"),
                   help="whole-run figure to compare with (default: median wall time)")  # fmt: skip
    p.add_argument("--max-median-error", type=float, help="e.g. 0.10")
    p.add_argument("--min-within15", type=float, help="e.g. 0.80")
    p.add_argument("--min-coverage", type=float, help="e.g. 0.85")
    p.add_argument("--max-mape", type=float)
    p.add_argument("--min-spearman", type=float)
    p.add_argument("--json", type=Path, help="write per-model results and metrics here")
    p.add_argument(
        "--gap",
        action="store_true",
        help="also fit a whole-model per-kernel gap (off by default: with ~14 networks it is not "
        "identifiable apart from the per-category overheads; see docs/calibration.md)",
    )
    args = p.parse_args(argv)

    def body() -> int:
        from estimator.calibration.dataset import load_dataset
        from estimator.calibration.validate import (
            Thresholds,
            failures,
            format_metrics,
            format_table,
            leave_one_out,
            metrics,
        )

        hw = _hw(args.hw, args.registry)
        db = _db(args.db)
        wanted = _zoo(args.models)
        thr = Thresholds(
            max_median_abs_error=args.max_median_error,
            min_within15=args.min_within15,
            min_coverage=args.min_coverage,
            max_mape=args.max_mape,
            min_spearman=args.min_spearman,
        )
        failed: list[str] = []
        report: dict[str, object] = {}
        for th in _threads(args.threads):
            ds = load_dataset(
                db, hw, th, statistic=args.kernel_stat, whole=args.whole, models=wanted
            )
            if len(ds.models) < 2:
                raise InputError(f"need >= 2 measured networks at threads={th} in {db}")
            res = leave_one_out(ds.sweep_points, ds.models, hw, th, use_gap=args.gap)
            m = metrics(res)
            print(f"## {hw.id} onnxruntime fp32 threads={th} (whole-run statistic: {args.whole})")
            print(format_table(res))
            print(format_metrics(m))
            bad = failures(m, thr)
            for line in bad:
                print(f"FAIL threads={th}: {line}")
            failed += bad
            report[str(th)] = {
                "metrics": m.to_dict(),
                "models": [_res(r) for r in res],
            }
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return 1 if failed else 0

    return _run(p.prog, body)


def _res(r: object) -> dict[str, object]:
    return {
        k: getattr(r, k)
        for k in ("name", "measured_ms", "predicted_ms", "low_ms", "high_ms", "error", "covered")
    }


# --------------------------------------------------------------------------- 6 visualize


def visualize_efficiency(argv: Sequence[str] | None = None) -> int:
    """PNG plots: measured points vs fitted curves per category; a roofline of one model."""
    p = argparse.ArgumentParser(
        prog="visualize_efficiency", description=visualize_efficiency.__doc__
    )
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    p.add_argument("--model", help="network for the roofline chart (default: the first)")
    args = p.parse_args(argv)

    def body() -> int:
        from estimator.calibration.aggregate import efficiency_points
        from estimator.calibration.attribute import roofs
        from estimator.calibration.calibrate import calibrate
        from estimator.calibration.plots import plot_curves, plot_roofline
        from estimator.registry.loader import load_priors

        for th in _threads(args.threads):
            hw, ds, pts, _fits = _fit_points(args, th)
            cal = calibrate(pts, ds.models, hw, th)
            overhead = {c: f.profile.overhead_us.mean * 1e-6 for c, f in cal.fits.items()}
            folder = args.out / f"threads{th}"
            prior = load_priors(hw.type)
            files = plot_curves(efficiency_points(pts, overhead), cal.profile, folder, prior=prior)
            nets = [m for m in ds.models if args.model in (None, m.name)]
            if args.model and not nets:
                raise InputError(f"--model {args.model}: not measured at threads={th}")
            if nets and nets[0].attribution is not None:
                peak, dev = roofs(hw, prior, th)
                bws = {f"L{i + 1}": float(b) for i, b in enumerate(dev.level_bw)}
                bws["DRAM"] = dev.dram_bw
                files.append(
                    plot_roofline(
                        nets[0].attribution.points,
                        peak,
                        bws,
                        folder / f"roofline_{nets[0].name}.png",
                        title=f"{nets[0].name} on {hw.id}, {th} thread(s)",
                    )
                )
            for f in files:
                print(f)
        return 0

    return _run(p.prog, body)


# --------------------------------------------------------------------------- 7 audit


def audit_calibration(argv: Sequence[str] | None = None) -> int:
    """Compare two efficiency_curves.json files: which categories moved, by how much, provenance."""
    p = argparse.ArgumentParser(prog="audit_calibration", description=audit_calibration.__doc__)
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument(
        "--threshold", type=float, default=0.05, help="report moves >= this (0.05 = 5 percent)"
    )
    args = p.parse_args(argv)

    def body() -> int:
        from estimator.calibration.audit import diff_paths, format_report

        for f in (args.old, args.new):
            if not f.is_file():
                raise InputError(f"{f}: no such file")
        print(format_report(diff_paths(args.old, args.new), args.threshold))
        return 0

    return _run(p.prog, body)
