"""Export zoo models to ONNX, for measuring them with onnxruntime and checking the ONNX frontend.

    python tools/export_zoo.py OUTDIR [--models a,b|all] [--opset 17] [--batch 1] [--seq-len 128]

A thin command line over :mod:`estimator.zoo.export` (model names, exporter settings).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.common import run_guarded, wants_debug
from estimator.errors import InputError
from estimator.zoo.export import DEFAULT_OPSET, export, file_stem, model_list

PROG = "export_zoo"
__all__ = ["export", "file_stem", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Export zoo models to ONNX files.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--models", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=128, help="prefill tokens for decoders")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.seq_len < 1:
        raise InputError("--batch and --seq-len must be positive")
    models = model_list(args.models)
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{args.outdir}: {exc.strerror or exc}") from exc
    for name in models:
        try:
            path = export(
                name, args.outdir, opset=args.opset, batch=args.batch, seq_len=args.seq_len
            )
        except InputError:
            raise
        except Exception as exc:  # the exporter's own failure: one line, named model
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise InputError(f"{name}: export failed: {type(exc).__name__}: {first}") from exc
        print(f"{path}\t{path.stat().st_size / 1024:.1f} KiB")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
