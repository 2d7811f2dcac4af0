"""Score the LLM estimates against published GPU measurements of named models.

The published figures (with their sources) are below; each is re-estimated with
:func:`estimator.llm.estimate_generation` for the same model config (``examples/llm``), GPU,
precision, batch and token counts, and the page reports the signed and absolute error.

Usage (writes ``<out>.json`` and ``<out>.md`` atomically)::

    python tools/llm_accuracy_gpu.py --out docs/accuracy_llm_gpu
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estimator.llm import estimate_generation
from estimator.registry.loader import write_atomic

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "llm"
NEMO = "https://docs.nvidia.com/nemo-framework/user-guide/latest/performance/llama.html"


@dataclass(frozen=True, slots=True)
class Published:
    """One published end-to-end latency: ``prompt`` tokens in, ``generate`` tokens out."""

    model: str
    hardware: str
    gpu: str
    dtype: str
    batch: int
    prompt: int
    generate: int
    latency_ms: float
    source: str
    what: str


_NEMO_WHAT = (
    "NeMo Framework inference (TensorRT-LLM), 'Configuration 1: Chatbot Conversation' (input "
    "128, output 20 tokens), TP=1 PP=1 on one GPU, 'Average Latency [ms]' (the table's "
    "throughput column equals batch / latency for these rows)"
)
PUBLISHED: tuple[Published, ...] = tuple(
    Published("llama-2-7b", hw, gpu, "fp16", b, 128, 20, ms, NEMO, _NEMO_WHAT)
    for hw, gpu, rows in (
        ("a100", "A100 80GB SXM4", ((1, 234.0), (2, 249.6), (4, 272.6), (8, 329.5))),
        ("h100", "H100 80GB HBM3", ((1, 153.8), (2, 160.8), (4, 174.8), (8, 199.2))),
    )
    for b, ms in rows
)


def run(runtime: str | None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for p in PUBLISHED:
        g = estimate_generation(
            EXAMPLES / p.model / "config.json",
            p.hardware,
            prompt=p.prompt,
            generate=p.generate,
            batch=p.batch,
            dtype=p.dtype,
            runtime=runtime,
        )
        rows.append(
            {
                "model": p.model, "gpu": p.gpu, "hardware": p.hardware, "batch": p.batch,
                "prompt": p.prompt, "generate": p.generate, "published_ms": p.latency_ms,
                "estimated_ms": g.e2e_ms, "ci95_ms": [g.e2e_ci95_low_ms, g.e2e_ci95_high_ms],
                "ttft_ms": g.ttft_ms, "tpot_mean_ms": g.tpot_mean_ms,
                "error": g.e2e_ms / p.latency_ms - 1, "runtime": g.runtime,
                "calibrated": g.calibrated, "source": p.source, "what": p.what,
            }
        )  # fmt: skip
    errs = [abs(r["error"]) for r in rows]
    covered = sum(r["ci95_ms"][0] <= r["published_ms"] <= r["ci95_ms"][1] for r in rows)
    return {
        "schema_version": 1,
        "command": "python tools/llm_accuracy_gpu.py " + " ".join(sys.argv[1:]),
        "rows": rows,
        "summary": {
            "n": len(rows),
            "median_abs_error": statistics.median(errs),
            "max_abs_error": max(errs),
            "within_95_interval": covered,
        },
    }


def markdown(doc: dict[str, Any]) -> str:
    out = [
        f"Command: `{doc['command']}`",
        "",
        "| model | GPU | batch | in / out tokens | published | estimated (95% interval) | "
        "TTFT est. | TPOT est. | error |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        lo, hi = r["ci95_ms"]
        out.append(
            f"| {r['model']} | {r['gpu']} | {r['batch']} | {r['prompt']} / {r['generate']} | "
            f"{r['published_ms']:.1f} ms | {r['estimated_ms']:.1f} ms ({lo:.0f}-{hi:.0f}) | "
            f"{r['ttft_ms']:.1f} ms | {r['tpot_mean_ms']:.2f} ms | {r['error']:+.1%} |"
        )
    s = doc["summary"]
    out += [
        "",
        f"{s['n']} measurements: median |error| {s['median_abs_error']:.1%}, largest "
        f"{s['max_abs_error']:.1%}, {s['within_95_interval']} of {s['n']} inside the 95% interval.",
    ]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", help="LLM runtime (default: the GPU's usual one)")
    p.add_argument("--out", default="docs/accuracy_llm_gpu", help="path stem of .json and .md")
    args = p.parse_args(argv)
    doc = run(args.runtime)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out.with_suffix(".json"), json.dumps(doc, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), markdown(doc))
    print(markdown(doc), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
