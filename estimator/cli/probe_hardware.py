"""``probe-hardware``: read this machine, measure its roofline, write its registry entry.

Parsing and printing only: :func:`estimator.probe.register_host` (or :func:`estimator.probe.probe`
with ``--dry-run``) does the work.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from estimator.cli.calibration_args import add_debug, progress_line, threads_list
from estimator.cli.common import run_guarded, wants_debug

PROG = "probe-hardware"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Read this machine (model, cores/SMT, caches, NUMA, SIMD/FMA), measure its "
        "empirical roofline (FMA and GEMM ceilings, bandwidth per cache level and DRAM) and "
        "write its hardware.json into the user registry.",
    )
    p.add_argument("--threads", help="thread counts to measure, e.g. 1,2 (default: 1 and "
                                     "every core)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="fewer runs and sizes (<= 20 s)")
    p.add_argument("--registry", help="registry folder to write to (default: $ESTIMATOR_REGISTRY, "
                                      "else ~/.local/share/roofline-estimator)")  # fmt: skip
    p.add_argument("--id", dest="device_id", help="device id (default: from the model name)")
    p.add_argument("--force", action="store_true", help="replace an existing hardware.json")
    p.add_argument("--dry-run", action="store_true", help="measure and print; write nothing")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="json: the registry entry itself")  # fmt: skip
    add_debug(p)
    return p


def _run(args: argparse.Namespace) -> int:
    from estimator.probe import probe, register_host
    from estimator.report.probe_report import probe_report

    threads = threads_list(args.threads) if args.threads else None
    if args.dry_run:
        result = probe(threads, quick=args.quick, device_id=args.device_id, progress=progress_line)
    else:
        result = register_host(
            args.registry,
            threads=threads,
            quick=args.quick,
            force=args.force,
            device_id=args.device_id,
            progress=progress_line,
        )
    if args.format == "json":
        print(json.dumps(result.hardware.model_dump(mode="json"), indent=2))
    else:
        sys.stdout.write(probe_report(result.hardware))
        if result.path is not None:
            print(f"wrote {result.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
