"""``estimate-server``: the estimator's HTTP API (docs/service.md).

Parsing only: :func:`estimator.service.server.serve` runs the app of :mod:`estimator.service`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.cli.common import (
    ArgumentParser,
    positive_float,
    positive_int,
    run_guarded,
    wants_debug,
)
from estimator.errors import InputError

PROG = "estimate-server"
_MIB = 1 << 20


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Serve latency estimates over HTTP (API v1; OpenAPI at /openapi.json, "
        "interactive docs at /docs).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=positive_int, default=8000, help="port (default %(default)s)")
    p.add_argument(
        "--registry",
        help="hardware registry folder read first and written by calibrations (needs --token-file)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="server processes")
    p.add_argument(
        "--max-upload-mb", type=positive_float, default=256, help="largest request body (MiB)"
    )
    p.add_argument("--token-file", help="file holding the bearer token that allows registry writes")
    p.add_argument(
        "--cache-mb", type=positive_float, default=512, help="memory cap of the parsed-model cache"
    )
    p.add_argument(
        "--time-limit", type=positive_float, default=30.0, help="seconds per parse or estimate"
    )
    p.add_argument(
        "--max-nodes", type=positive_int, default=100_000, help="largest model accepted (nodes)"
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=2,
        help="worker threads per process that parse and estimate",
    )
    p.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN",
        help="allow browser requests from ORIGIN (repeatable; default: CORS off)",
    )  # fmt: skip
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info"))
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args), debug=wants_debug(argv) or args.debug, prog=PROG)


def _run(args: argparse.Namespace) -> int:
    from estimator.service.config import ServiceConfig
    from estimator.service.server import serve

    if args.port > 65535:
        raise InputError(f"--port {args.port}: ports go up to 65535")
    if args.registry is not None and not Path(args.registry).is_dir():
        raise InputError(f"--registry {args.registry}: no such folder")
    config = ServiceConfig(
        registry=str(Path(args.registry).resolve()) if args.registry else None,
        max_upload_bytes=int(args.max_upload_mb * _MIB),
        token_file=args.token_file,
        cache_bytes=int(args.cache_mb * _MIB),
        time_limit_s=args.time_limit,
        max_nodes=args.max_nodes,
        workers_threads=args.threads,
        cors_origins=tuple(args.cors_origin),
    )
    serve(config, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
