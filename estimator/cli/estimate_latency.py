"""``estimate-latency``: what a model costs and how fast it runs on a device.

Parsing and printing only: the work happens in :mod:`estimator.analysis` and
:func:`estimator.estimate.estimate`, which the Python API and the calibration tools share.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from estimator.cli import llm_args
from estimator.cli.common import (
    ArgumentParser,
    name_arg,
    nonnegative_int,
    parse_shape_binding,
    positive_int,
    run_guarded,
    wants_debug,
)
from estimator.errors import InputError

if TYPE_CHECKING:
    from estimator.registry.models import Hardware

PROG = "estimate-latency"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description=(
            "Count FLOPs, bytes and parameters of a model and, with --hw, estimate its latency on "
            "a device with a calibrated roofline model."
        ),
    )
    p.add_argument("model", nargs="?", help="ONNX file, zoo model name, or NAS-Bench-201 arch")
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        type=parse_shape_binding,
        metavar="NAME=1x3x224x224",
        help="bind the shape of a graph input with dynamic dims (repeatable)",
    )
    p.add_argument("--batch", type=positive_int, help="bind the batch dim of every input")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument(
        "--top", type=nonnegative_int, default=20, help="rows in the per-node table (0 = all)"
    )
    p.add_argument("--strict", action="store_true", help="fail on ops without a cost rule")
    p.add_argument(
        "--hw", type=name_arg, help="device to estimate for (see --list-hw); 'host' = this machine"
    )
    p.add_argument(
        "--compare", type=name_arg, help="comma-separated devices to estimate side by side"
    )
    p.add_argument(
        "--runtime",
        type=name_arg,
        help="runtime whose fusion rules apply: onnxruntime-cpu, pytorch-eager, tensorrt "
        "(default: onnxruntime-cpu on CPUs and phones, tensorrt on GPUs)",
    )
    p.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16", "int8"))
    p.add_argument("--threads", type=positive_int, help="threads the runtime uses")
    p.add_argument("--registry", help="extra hardware registry folder (also ESTIMATOR_REGISTRY)")
    p.add_argument("--list-hw", action="store_true", help="list known devices and exit")
    p.add_argument(
        "--probe",
        action="store_true",
        help="with --hw host on a machine the registry does not know: probe it quickly (<= 20 s) "
        "and estimate, uncalibrated, from the measured roofline and the priors",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    llm_args.add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(lambda: _run(args, parser), debug=wants_debug(argv) or args.debug, prog=PROG)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.list_hw:
        from estimator.report.hardware_list import hardware_table

        print(hardware_table(args.registry), end="")
        return 0
    if not args.model:
        parser.error("MODEL is required (or --list-hw)")
    if llm_args.wants_generation(args):
        return llm_args.run(args)
    shapes = dict(args.input_shape) or None
    if args.hw is not None or args.compare is not None:
        return _estimate(args, shapes)
    return _cost_only(args, shapes)


def _cost_only(args: argparse.Namespace, shapes: dict[str, tuple[int, ...]] | None) -> int:
    from estimator.analysis import analyze_graph
    from estimator.loading import load_model
    from estimator.report import cost_report

    graph = load_model(args.model, input_shapes=shapes, batch=args.batch)
    cost = analyze_graph(graph, strict=args.strict)
    if args.format == "json":
        print(cost_report.cost_json(cost))
    elif args.format == "csv":
        sys.stdout.write(cost_report.cost_csv(cost))
    else:
        sys.stdout.write(cost_report.cost_table(cost, top=args.top))
    return 0


def _preload(
    hw: str | Hardware, runtime: str | None, dtype: str, threads: int | None, registry: str | None
) -> None:
    from estimator.estimate import preload

    preload(hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry)


def _estimate(args: argparse.Namespace, shapes: dict[str, tuple[int, ...]] | None) -> int:
    from estimator.estimate import estimate
    from estimator.loading import load_model
    from estimator.report import estimate_report

    devices = [d.strip() for d in (args.compare or args.hw).split(",") if d.strip()]
    if args.compare and args.hw and args.hw not in devices:
        devices.insert(0, args.hw)
    if not devices:
        raise InputError("--hw/--compare name no device")
    targets: list[str | Hardware] = list(devices)
    if args.probe and any(d.lower() == "host" for d in devices):
        from estimator.cli.calibration_args import progress_line
        from estimator.probe import probed_host

        ths = [args.threads] if args.threads else None
        host = probed_host(args.registry, threads=ths, progress=progress_line)
        targets = [host if d.lower() == "host" else d for d in devices]
    # Load numba's cached engine in a thread while the model is parsed (most of a cold start).
    warm = threading.Thread(
        target=_preload,
        args=(targets[0], args.runtime, args.dtype, args.threads, args.registry),
        daemon=True,
    )
    warm.start()
    graph = load_model(args.model, input_shapes=shapes, batch=args.batch)
    warm.join()
    results = [
        estimate(
            graph,
            hw=dev,
            runtime=args.runtime,
            dtype=args.dtype,
            threads=args.threads,
            registry=args.registry,
            strict=args.strict,
        )
        for dev in targets
    ]
    if args.format == "json":
        print(estimate_report.estimates_json(results))
    elif args.format == "csv":
        sys.stdout.write(estimate_report.estimates_csv(results))
    elif len(results) > 1:
        sys.stdout.write(estimate_report.compare_table(results))
    else:
        sys.stdout.write(estimate_report.estimate_table(results[0], top=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
