"""Time decoder generations on this CPU with torch and onnxruntime and score the LLM estimates.

GPT-2 small and a small Llama-style model (random weights, the project's own decoder module)
run a prefill of P tokens (TTFT) and then S decode steps with a KV cache (TPOT), in torch eager
and in onnxruntime (the module exported to a prefill and a decode ONNX model with past-key-value
inputs). Each is estimated with :func:`estimator.llm.estimate_generation` for the same workload
on ``--hw`` (``host``: this machine's registry entry) and runtime; the page reports |error| of
TTFT and TPOT per point and their medians.

Usage (writes ``<out>.json`` and ``<out>.md`` atomically)::

    python tools/llm_accuracy_cpu.py --hw host --threads 2 --out docs/accuracy_llm_cpu

Bounded: each point is timed ``--repeats`` times (median), the decode loop has ``--steps``
steps; the whole default run takes a few minutes on a 2-vCPU VM.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from estimator.llm import estimate_generation
from estimator.registry import load_hardware
from estimator.registry.loader import write_atomic
from estimator.zoo.decoders_ir import DecoderConfig, gpt2_small


def llama_small() -> DecoderConfig:
    """A small Llama-style model: 8 layers of 512, GQA (8 query, 4 KV heads), SwiGLU, RMSNorm,
    rotary, a 32,000-token untied vocabulary (56 M parameters)."""
    return DecoderConfig(
        layers=8, hidden=512, heads=8, kv_heads=4, ffn=1408, ffn_type="swiglu", vocab=32000,
        norm="rmsnorm", tie_embeddings=False, max_positions=None, bias=False, norm_eps=1e-6,
        name="llama_small",
    )  # fmt: skip


MODELS: dict[str, Callable[[], DecoderConfig]] = {
    "gpt2_small": gpt2_small,
    "llama_small": llama_small,
}
RUNTIMES = {"torch": "pytorch-eager", "ort": "onnxruntime-cpu"}


@dataclass(frozen=True, slots=True)
class Point:
    model: str
    runtime: str
    prompt: int
    steps: int
    measured_ttft_ms: float
    measured_tpot_ms: float
    estimated_ttft_ms: float
    estimated_tpot_ms: float
    ttft_ci95_ms: tuple[float, float]
    ttft_error: float
    tpot_error: float


def _median_runs(runs: Sequence[tuple[float, list[float]]]) -> tuple[float, float]:
    """(median TTFT, median over runs of the mean decode step) in ms."""
    ttft = statistics.median(r[0] for r in runs)
    tpot = statistics.median(statistics.fmean(r[1]) for r in runs)
    return ttft * 1e3, tpot * 1e3


def time_torch(model: Any, prompt: int, steps: int, repeats: int) -> tuple[float, float]:
    import torch

    ids = torch.randint(0, model.cfg.vocab, (1, prompt), generator=torch.Generator().manual_seed(0))
    runs: list[tuple[float, list[float]]] = []
    with torch.inference_mode():
        for r in range(repeats + 1):  # the first run warms up and is dropped
            t0 = time.perf_counter()
            logits, past = model(ids)
            ttft = time.perf_counter() - t0
            tok = logits[:, -1:].argmax(-1)
            step_times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                logits, past = model(tok, past)
                step_times.append(time.perf_counter() - t0)
                tok = logits[:, -1:].argmax(-1)
            if r:
                runs.append((ttft, step_times))
    return _median_runs(runs)


def export_pair(model: Any, cfg: DecoderConfig, folder: Path) -> tuple[Path, Path]:
    """The module as a prefill ONNX model (dynamic length) and a decode one (dynamic past)."""
    import torch

    from estimator.zoo.export import decoder_wrapper, export_module

    kv_names = [f"{kv}.{i}" for i in range(cfg.layers) for kv in ("key", "value")]
    flat = decoder_wrapper(model)
    outs = ["logits", *(f"present_{n}" for n in kv_names)]
    pre = export_module(
        flat,
        (torch.zeros(1, 16, dtype=torch.int64),),
        folder / f"{cfg.name}_prefill.onnx",
        input_names=["input_ids"],
        output_names=outs,
        dynamic_axes={"input_ids": {1: "seq"}, **{o: {1: "seq"} for o in outs[:1]},
                      **{o: {2: "seq"} for o in outs[1:]}},
    )  # fmt: skip
    past = tuple(torch.zeros(1, cfg.kv_heads, 16, cfg.head_dim) for _ in range(2 * cfg.layers))
    ins = ["input_ids", *(f"past_{n}" for n in kv_names)]
    dec = export_module(
        flat,
        (torch.zeros(1, 1, dtype=torch.int64), *past),
        folder / f"{cfg.name}_decode.onnx",
        input_names=ins,
        output_names=outs,
        dynamic_axes={**{i: {2: "past"} for i in ins[1:]}, **{o: {2: "total"} for o in outs[1:]}},
    )
    return pre, dec


def time_ort(
    pre: Path, dec: Path, cfg: DecoderConfig, prompt: int, steps: int, repeats: int, threads: int
) -> tuple[float, float]:
    from estimator.measure.ort_runtime import open_session

    sp = open_session(str(pre), pre.name, threads)
    sd = open_session(str(dec), dec.name, threads)
    past_names = [i.name for i in sd.get_inputs()[1:]]
    rng = np.random.default_rng(0)
    ids = rng.integers(0, cfg.vocab, (1, prompt), dtype=np.int64)
    runs: list[tuple[float, list[float]]] = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        out = sp.run(None, {"input_ids": ids})
        ttft = time.perf_counter() - t0
        tok = out[0][:, -1:].argmax(-1).astype(np.int64)
        step_times = []
        for _ in range(steps):
            feed = {"input_ids": tok, **dict(zip(past_names, out[1:], strict=True))}
            t0 = time.perf_counter()
            out = sd.run(None, feed)
            step_times.append(time.perf_counter() - t0)
            tok = out[0][:, -1:].argmax(-1).astype(np.int64)
        if r:
            runs.append((ttft, step_times))
    return _median_runs(runs)


def _prompts_for(cfg: DecoderConfig, prompts: Sequence[int], steps: int) -> list[int]:
    """The prompts that fit the model's positions with ``steps`` decode steps after them."""
    if cfg.max_positions is None:
        return list(prompts)
    top = cfg.max_positions - steps
    return sorted({min(p, top) for p in prompts})


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from estimator.zoo.decoders import decoder_module

    torch.set_num_threads(args.threads)
    hw = load_hardware(args.hw, args.registry)
    points: list[Point] = []
    calibration: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llm-acc-") as tmp:
        for name in args.models.split(","):
            cfg = MODELS[name]()
            torch.manual_seed(0)
            model = decoder_module(cfg)
            pair: tuple[Path, Path] | None = None
            for rt in args.runtimes.split(","):
                runtime = RUNTIMES[rt]
                if rt == "ort" and pair is None:
                    pair = export_pair(model, cfg, Path(tmp))
                for prompt in _prompts_for(cfg, args.prompt_list, args.steps):
                    if rt == "torch":
                        m_ttft, m_tpot = time_torch(model, prompt, args.steps, args.repeats)
                    else:
                        assert pair is not None
                        m_ttft, m_tpot = time_ort(
                            *pair, cfg, prompt, args.steps, args.repeats, args.threads
                        )
                    g = estimate_generation(
                        cfg, hw, prompt=prompt, generate=args.steps + 1, runtime=runtime,
                        dtype="fp32", threads=args.threads, registry=args.registry,
                    )  # fmt: skip
                    calibration[runtime] = {
                        "calibrated": g.calibrated,
                        "calibration_source": g.calibration_source,
                    }
                    points.append(
                        Point(
                            model=name,
                            runtime=runtime,
                            prompt=prompt,
                            steps=args.steps,
                            measured_ttft_ms=m_ttft,
                            measured_tpot_ms=m_tpot,
                            estimated_ttft_ms=g.ttft_ms,
                            estimated_tpot_ms=g.tpot_mean_ms,
                            ttft_ci95_ms=(g.ttft_ci95_low_ms, g.ttft_ci95_high_ms),
                            ttft_error=g.ttft_ms / m_ttft - 1,
                            tpot_error=g.tpot_mean_ms / m_tpot - 1,
                        )
                    )
                    print(
                        f"{name:12s} {runtime:16s} P={prompt:5d}  TTFT {m_ttft:9.2f} ms "
                        f"est {g.ttft_ms:9.2f} ({points[-1].ttft_error:+.1%})  TPOT "
                        f"{m_tpot:7.2f} ms est {g.tpot_mean_ms:7.2f} "
                        f"({points[-1].tpot_error:+.1%})",
                        flush=True,
                    )
    return {
        "schema_version": 1,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python tools/llm_accuracy_cpu.py " + " ".join(sys.argv[1:]),
        "hardware": hw.id,
        "host_cpu": platform.processor() or _cpu_model(),
        "threads": args.threads,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "onnxruntime": _ort_version(),
        "calibration": calibration,
        "wall_s": round(time.perf_counter() - started, 1),
        "points": [asdict(p) for p in points],
        "summary": summarize(points),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def summarize(points: Sequence[Point]) -> dict[str, Any]:
    """Median |error| of TTFT and TPOT per runtime, per model and runtime, and overall."""

    def med(ps: Sequence[Point], key: str) -> float:
        return float(statistics.median(abs(getattr(p, key)) for p in ps))

    groups: dict[str, list[Point]] = {"all": list(points)}
    for p in points:
        groups.setdefault(p.runtime, []).append(p)
        groups.setdefault(f"{p.model} / {p.runtime}", []).append(p)
    return {
        k: {"n": len(v), "ttft_median_abs_error": med(v, "ttft_error"),
            "tpot_median_abs_error": med(v, "tpot_error")}
        for k, v in groups.items() if v
    }  # fmt: skip


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "| model | runtime | prompt | TTFT measured | TTFT estimated | error | TPOT measured | "
        "TPOT estimated | error |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in doc["points"]:
        lines.append(
            f"| {p['model']} | {p['runtime']} | {p['prompt']} | {p['measured_ttft_ms']:.2f} ms | "
            f"{p['estimated_ttft_ms']:.2f} ms | {p['ttft_error']:+.1%} | "
            f"{p['measured_tpot_ms']:.2f} ms | {p['estimated_tpot_ms']:.2f} ms | "
            f"{p['tpot_error']:+.1%} |"
        )
    lines += ["", "| group | points | median abs. TTFT error | median abs. TPOT error |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for k, s in doc["summary"].items():
        lines.append(
            f"| {k} | {s['n']} | {s['ttft_median_abs_error']:.1%} | "
            f"{s['tpot_median_abs_error']:.1%} |"
        )
    cal = "; ".join(
        f"{rt}: {'calibrated' if c['calibrated'] else 'UNCALIBRATED (priors)'}"
        for rt, c in doc["calibration"].items()
    )
    head = [
        f"Measured {doc['date']} on {doc['host_cpu']} ({doc['threads']} threads, median of "
        f"{doc['repeats']} runs, torch {doc['torch']}, onnxruntime {doc['onnxruntime']}), "
        f"estimated for registry entry `{doc['hardware']}` ({cal}); {doc['wall_s']} s in all.",
        "",
        f"Command: `{doc['command']}`",
        "",
    ]
    return "\n".join(head + lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hw", default="host", help="registry entry to estimate for (default host)")
    p.add_argument("--registry", default=os.environ.get("ESTIMATOR_REGISTRY") or None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--prompts", default="32,128,512,1024")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--runtimes", default=",".join(RUNTIMES))
    p.add_argument("--out", default="docs/accuracy_llm_cpu", help="path stem of .json and .md")
    args = p.parse_args(argv)
    args.prompt_list = [int(x) for x in args.prompts.split(",")]
    doc = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out.with_suffix(".json"), json.dumps(doc, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), markdown(doc))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
