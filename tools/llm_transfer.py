"""Fit a device's prefill (compute) and decode (bandwidth) scales from k measured generations
and score the prediction error against k (shared/seeds/003 E3; estimator.llm.transfer).

Input: a CSV of measured rows (columns ``model, hardware, prompt, generate, batch, dtype,
ttft_ms, tpot_ms, e2e_ms``; ``model`` a config.json path or a preset, ``hardware`` the
registry entry whose prior is fitted, else ``--hw``), or ``--published``: NVIDIA's published
Llama-2-7B latencies on A100 and H100 (``tools/llm_accuracy_gpu.py``, end to end) and
TensorRT-LLM's A100 first-token latencies (:data:`FIRST_TOKEN`). Per device, each row is
held out in turn, the scales are fitted on every k-subset of the others, and the held-out row is
predicted; the table gives the median |error| per metric against k.

Usage::

    python tools/llm_transfer.py --published --k 0,1,2,3 --out docs/accuracy_llm_transfer
    python tools/llm_transfer.py --csv my_device.csv --hw a100 --k 0,1,2
    python tools/llm_transfer.py --csv my_device.csv --hw a100 --fit   # fit on every row
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from estimator.errors import InputError
from estimator.llm.transfer import (
    METRICS,
    Base,
    Measurement,
    base_estimate,
    fit,
    leave_one_out,
    prior_taus,
    read_measurements,
)
from estimator.registry.loader import write_atomic

REPO = Path(__file__).resolve().parents[1]
#: TensorRT-LLM's published first-token latencies (its "Low Latency" table, data from v0.5):
#: LLaMA 7B (the Llama-2-7b engine of its methodology), A100 FP16, batch 1, TP 1, measured as a
#: generation of one output token. The H100 rows of that table are FP8 and are not used.
TRTLLM_PERF = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/138f96d45f90b9667426f7c47297d8c06bafac73/"
    "docs/source/performance.md"
)
FIRST_TOKEN: tuple[tuple[str, int, float], ...] = (("a100", 128, 16.0), ("a100", 2048, 133.0))


def published() -> list[Measurement]:
    """The published GPU points of tools/llm_accuracy_gpu.py (end to end, NeMo) and the
    first-token latencies of :data:`FIRST_TOKEN` (TTFT, TensorRT-LLM)."""
    spec = importlib.util.spec_from_file_location(
        "llm_accuracy_gpu", REPO / "tools/llm_accuracy_gpu.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("llm_accuracy_gpu", mod)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules["llm_accuracy_gpu"])
    mod = sys.modules["llm_accuracy_gpu"]
    llama = str(mod.EXAMPLES / "llama-2-7b" / "config.json")
    first = [
        Measurement(model=llama, prompt=n, batch=1, hardware=hw, dtype="fp16", ttft_ms=ms, row=-i)
        for i, (hw, n, ms) in enumerate(FIRST_TOKEN, start=1)
    ]
    return first + [
        Measurement(
            model=str(mod.EXAMPLES / p.model / "config.json"),
            prompt=p.prompt,
            batch=p.batch,
            generate=p.generate,
            hardware=p.hardware,
            dtype=p.dtype,
            e2e_ms=p.latency_ms,
            row=i,
        )
        for i, p in enumerate(mod.PUBLISHED, start=1)
    ]


def _subsets(others: Sequence[int], k: int) -> list[tuple[int, ...]]:
    return list(itertools.combinations(others, k))


def _ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--k: integers separated by commas, got {text!r}") from None
    if not ks or any(k < 0 for k in ks):
        raise InputError(f"--k: integers >= 0 separated by commas, got {text!r}")
    return ks


def _by_device(rows: list[Measurement], hw: str | None) -> dict[str, list[Measurement]]:
    """Rows per device: a row's hardware column, else ``--hw``."""
    devices: dict[str, list[Measurement]] = {}
    for m in rows:
        dev = m.hardware or hw
        if dev is None:
            raise InputError(f"row {m.row}: no hardware column value and no --hw")
        devices.setdefault(dev, []).append(m)
    return devices


def run(
    rows: list[Measurement], hw: str | None, runtime: str | None, ks: list[int]
) -> dict[str, Any]:
    devices = _by_device(rows, hw)
    per_device: list[dict[str, Any]] = []
    pooled: dict[int, dict[str, list[float]]] = {k: {m: [] for m in METRICS} for k in ks}
    for dev, ms in devices.items():
        tau_c, tau_b, sigma = prior_taus(dev, runtime, ms[0].dtype)
        pairs: list[tuple[Measurement, Base]] = [(m, base_estimate(m, dev, runtime)) for m in ms]
        scores = leave_one_out(pairs, (tau_c, tau_b), sigma, ks, _subsets)
        for s in scores:
            for metric, e in s.errors.items():
                pooled[s.k][metric] += e
        full = fit(pairs, (tau_c, tau_b), sigma)
        per_device.append(
            {
                "hardware": dev, "rows": len(ms), "tau_compute": tau_c, "tau_bandwidth": tau_b,
                "sigma": sigma, "fit_all_rows": {"compute_scale": full.compute_scale,
                                                 "bandwidth_scale": full.bandwidth_scale},
                "scores": [{"k": s.k, "fits": s.fits, "median_abs": s.median_abs} for s in scores],
            }
        )  # fmt: skip
    summary = [
        {
            "k": k,
            "n": {m: len(e) for m, e in errs.items()},
            "median_abs": {m: (statistics.median(e) if e else None) for m, e in errs.items()},
        }
        for k, errs in pooled.items()
        if any(errs.values())
    ]
    return {
        "schema_version": 1,
        "command": "python tools/llm_transfer.py " + " ".join(sys.argv[1:]),
        "devices": per_device,
        "summary": summary,
    }


def _pct(v: float | None, n: int) -> str:
    return "not measured" if v is None else f"{v:.1%} ({n})"


def markdown(doc: dict[str, Any]) -> str:
    out = [f"Command: `{doc['command']}`", ""]
    out += [
        "Median |error| of the held-out predictions (their count) against k:",
        "",
        "| k | TTFT | TPOT | end to end |",
        "|---:|---:|---:|---:|",
    ]
    for s in doc["summary"]:
        cells = " | ".join(_pct(s["median_abs"][m], s["n"][m]) for m in METRICS)
        out.append(f"| {s['k']} | {cells} |")
    out += [
        "",
        "| device | rows | tau compute | tau bandwidth | sigma | scales fitted on all rows |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for d in doc["devices"]:
        f = d["fit_all_rows"]
        out.append(
            f"| {d['hardware']} | {d['rows']} | {d['tau_compute']:.3f} | {d['tau_bandwidth']:.3f} "
            f"| {d['sigma']:.3f} | compute x{f['compute_scale']:.3f}, bandwidth "
            f"x{f['bandwidth_scale']:.3f} |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="measured rows (see the module docstring for the columns)")
    src.add_argument("--published", action="store_true", help="NVIDIA's published A100/H100 rows")
    p.add_argument("--hw", help="registry device of rows without a hardware column")
    p.add_argument("--runtime", help="LLM runtime (default: the device's usual one)")
    p.add_argument("--k", default="0,1,2,4", help="rows to fit on, comma-separated")
    p.add_argument("--fit", action="store_true", help="fit on every row and print the scales")
    p.add_argument("--out", help="path stem of .json and .md (default: print only)")
    args = p.parse_args(argv)
    try:
        rows = published() if args.published else read_measurements(args.csv)
        if args.fit:
            return _fit_only(rows, args.hw, args.runtime)
        doc = run(rows, args.hw, args.runtime, _ks(args.k))
    except InputError as exc:
        print(f"llm_transfer: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out.with_suffix(".json"), json.dumps(doc, indent=2) + "\n")
        write_atomic(out.with_suffix(".md"), markdown(doc))
    print(markdown(doc), end="")
    return 0


def _fit_only(rows: list[Measurement], hw: str | None, runtime: str | None) -> int:
    devices = _by_device(rows, hw)
    for dev, ms in devices.items():
        tau_c, tau_b, sigma = prior_taus(dev, runtime, ms[0].dtype)
        f = fit([(m, base_estimate(m, dev, runtime)) for m in ms], (tau_c, tau_b), sigma)
        print(
            f"{dev}: k={f.k} compute x{f.compute_scale:.4f} bandwidth x{f.bandwidth_scale:.4f} "
            f"(prior widths {tau_c:.3f}, {tau_b:.3f}; sigma {sigma:.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
