"""``calibrate-hardware``: measure, fit and write efficiency_curves.json for a device.

Two modes. Kernel by kernel on this machine (the default):
:func:`estimator.calibration.pipeline.calibrate_device` exports the zoo, measures the sweeps and
networks, fits and writes the profiles. Few-shot, ``--from-latencies FILE.csv``:
:func:`estimator.transfer.write_from_latencies` fits the device to measured whole-model
latencies. This module parses the flags and prints the results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from estimator.cli.calibration_args import (
    NO_NETWORK_FIT_HELP,
    add_common,
    model_choice,
    progress_line,
    threads_list,
)
from estimator.cli.common import (
    ArgumentParser,
    existing_file,
    name_arg,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    run_guarded,
    wants_debug,
)
from estimator.errors import InputError

if TYPE_CHECKING:
    from estimator.calibration.pipeline import CalibrationResult
    from estimator.transfer import LatencyCalibration

PROG = "calibrate-hardware"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Measure, fit and write efficiency_curves.json for a device (atomically, "
        "with backup).",
    )
    add_common(p)
    p.add_argument(
        "--runtime",
        default=None,
        type=name_arg,
        help="measured runtime (onnxruntime); with --from-latencies the fusion-rule family of the "
        "timed runs: onnxruntime-cpu, pytorch-eager or tensorrt (default: the device type's usual)",
    )
    p.add_argument(
        "--from-latencies",
        type=existing_file,
        metavar="FILE.csv",
        help="few-shot: fit the device from measured whole-model latencies (columns model, "
        "latency_ms[, batch]; model = ONNX path, zoo name or NAS-Bench-201 arch string)",
    )
    p.add_argument("--shots", type=nonnegative_int, help="with --from-latencies: use k random rows")
    p.add_argument("--quick", action="store_true", help="reduced sweep grid and zoo subset")
    p.add_argument("--zoo", default=None, help="zoo models (default: all; --quick: 4 small ones)")
    p.add_argument("--no-measure", action="store_true", help="fit what the store already holds")
    p.add_argument("--whole", default="median", choices=("median", "auto", "cpu", "p10"),
                   help="whole-run figure for the gap and device_sigma (default median, what "
                        "estimates predict; auto: thread CPU time at 1 thread, p10 wall time "
                        "otherwise)")  # fmt: skip
    p.add_argument("--sample-budget", type=nonnegative_float, default=None, metavar="SECONDS",
                   help="measurement time per thread count for kernels sampled over each "
                        "category's shape space (default %(default)s: the pipeline's, 0: grid "
                        "only)")  # fmt: skip
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the sampled kernels")
    p.add_argument("--corpus", type=nonnegative_int, default=None, metavar="N",
                   help="networks per block family of the generated calibration corpus measured "
                        "with the zoo (default 4, --quick: 0)")  # fmt: skip
    p.add_argument("--out", type=Path, help="folder or file to write (default: the device's)")
    p.add_argument("--note", default="", help="audit note")
    p.add_argument("--no-network-fit", action="store_true", help=NO_NETWORK_FIT_HELP)
    p.add_argument("--passes", type=positive_int, default=1,
                   help="measurement passes; the least disturbed one is used")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help="--hw host on a machine no entry matches: the probe may replace an "
                        "existing hardware.json of the same id")  # fmt: skip
    return p


def print_few_shot(res: LatencyCalibration) -> None:
    f = res.fit
    scales = ", ".join(f"{n}={v:.3g}" for n, v in f.scales.items())
    print(f"fitted {f.hw.id} ({f.runtime}) on k={f.k} measurements: {scales}")
    if f.k:
        sigma = res.profile.device_sigma
        print(f"rms log residual {f.rms_log_residual:.3f}; device_sigma {sigma:.3f}")
    print(f"wrote {res.path}")


def _few_shot(args: argparse.Namespace) -> int:
    from estimator.estimate import default_runtime
    from estimator.registry import load_hardware
    from estimator.transfer import write_from_latencies

    runtime = args.runtime or default_runtime(args.hw, args.registry)
    # resolved here so a device of the user's --registry is found (the fit takes the Hardware)
    hw = load_hardware(args.hw, args.registry)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out}: is a file; with --from-latencies give a folder")
    res = write_from_latencies(
        hw, args.from_latencies, runtime=runtime, shots=args.shots, out_registry=args.out
    )
    print_few_shot(res)
    return 0


def print_calibration(res: CalibrationResult) -> None:
    for t in res.per_threads:
        print(
            f"threads={t.threads}: {len(t.fits)} categories fitted, "
            f"gap {t.gap_s * 1e6:.1f} us/kernel,"
            f" device_sigma {t.device_sigma:.3f}"
        )
        for cat, f in t.fits.items():
            print(f"  {cat!s:<15} n={f.n_points:<5} R2={f.r2:.3f} resid sd={f.resid_std:.3f}")
        if t.peak_excess > 1.0:
            print(
                f"warning: threads={t.threads}: 10% of compute-bound kernels run at >= "
                f"{t.peak_excess:.2f}x the fp32 peak of {res.device}'s hardware.json; efficiencies "
                "are capped at 1, so the peak is too low: correct peak_gflops and refit "
                "(--no-measure)"
            )
    print(f"wrote {res.path} in {res.timings['total']:.0f} s")


def _kernel_by_kernel(args: argparse.Namespace) -> int:
    from estimator.calibration.pipeline import calibrate_device

    threads = threads_list(args.threads)
    hw, registry = args.hw, args.registry
    if hw.lower() == "host" and not args.no_measure:
        from estimator.probe import host_entry

        # this machine's entry; on a machine no entry matches, the one a probe writes
        hw, registry, _ = host_entry(
            registry, threads=threads, quick=args.quick, force=args.force, progress=progress_line
        )
    res = calibrate_device(
        hw,
        db=args.db,
        registry=registry,
        threads=threads,
        runtime=args.runtime or "onnxruntime",
        statistic=args.kernel_stat,
        quick=args.quick,
        zoo=model_choice(args.zoo) if args.zoo else None,
        measure=not args.no_measure,
        whole=args.whole,
        out=args.out,
        note=args.note,
        use_network_fit=not args.no_network_fit,
        passes=args.passes,
        **({} if args.sample_budget is None else {"sample_s": args.sample_budget}),
        seed=args.seed,
        corpus_per_family=args.corpus,
        progress=progress_line,
        progress_bar=True,
    )
    print_calibration(res)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    few_shot = args.from_latencies is not None
    return run_guarded(
        lambda: _few_shot(args) if few_shot else _kernel_by_kernel(args),
        debug=wants_debug(argv) or args.debug,
        prog=PROG,
        keeps_measurements=not few_shot,
    )


if __name__ == "__main__":
    sys.exit(main())
