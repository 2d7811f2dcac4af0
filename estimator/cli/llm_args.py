"""The generation options of ``estimate-latency`` (a decoder config or preset, TTFT/TPOT).

Kept apart from :mod:`estimator.cli.estimate_latency` so that file only adds these options and
routes to :func:`run`; the work is :func:`estimator.llm.estimate_generation` and the rendering
:mod:`estimator.report.generation_report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from estimator.cli.common import positive_int
from estimator.errors import InputError


def _nonnegative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "generation (MODEL is a Hugging Face config.json, a decoder preset: gpt2_small, "
        "llama_7b, tiny_llama, or with --prompt an ONNX decoder with past-key-value inputs)"
    )
    g.add_argument("--prompt", type=positive_int, help="prompt tokens per sequence (default 512)")
    g.add_argument("--generate", type=positive_int, help="tokens generated (default 128)")
    g.add_argument("--images", type=_nonnegative, help="images per sequence (a VLM config)")
    g.add_argument(
        "--sweep",
        metavar="KNOB=LO:HI",
        help="vary prompt, generate, batch or images (LO:HI doubles; or A,B,C): a table and "
        "two PNGs (stage shares, TPOT against KV length)",
    )
    g.add_argument(
        "--plot-dir", default=".", help="folder for the sweep's PNGs (default: current folder)"
    )


def wants_generation(args: argparse.Namespace) -> bool:
    """A decoder config file, or any generation option with a model name."""
    from estimator.llm import is_decoder_config

    asked = any(getattr(args, k) is not None for k in ("prompt", "generate", "images", "sweep"))
    return asked or (args.model is not None and is_decoder_config(args.model))


def run(args: argparse.Namespace) -> int:
    from estimator.llm import (
        DEFAULT_GENERATE,
        DEFAULT_PROMPT,
        Generation,
        Workload,
        estimate_generation,
    )
    from estimator.llm.sweep import parse_sweep, plot_sweep, run_sweep
    from estimator.report import generation_report as rep

    if not args.hw:
        raise InputError("a generation estimate needs --hw (see --list-hw)")
    if args.compare:
        raise InputError("--compare does not apply to generation estimates; use --hw")
    if args.format == "csv":
        raise InputError("--format csv is per kernel; generation estimates are table or json")
    work = Workload(
        prompt=DEFAULT_PROMPT if args.prompt is None else args.prompt,
        generate=DEFAULT_GENERATE if args.generate is None else args.generate,
        batch=1 if args.batch is None else args.batch,
        images=0 if args.images is None else args.images,
    )

    def one(w: Workload) -> Generation:
        return estimate_generation(
            args.model,
            args.hw,
            prompt=w.prompt,
            generate=w.generate,
            batch=w.batch,
            images=w.images,
            runtime=args.runtime,
            dtype=args.dtype,
            threads=args.threads,
            registry=args.registry,
        )

    if args.sweep is None:
        g = one(work)
        text = rep.generation_json(g) if args.format == "json" else rep.generation_table(g)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    knob, values = parse_sweep(args.sweep)
    results = run_sweep(knob, values, work, one)
    if args.format == "json":
        print(rep.sweep_json(knob, values, results))
    else:
        sys.stdout.write(rep.sweep_table(knob, values, results))
    for path in plot_sweep(knob, values, results, Path(args.plot_dir)):
        print(f"wrote {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    return 0
