"""Render :class:`estimator.llm.Generation` results: one generation in depth, or a sweep table.

JSON is ``Generation.to_dict()`` (versioned); a sweep is ``{"sweep": {...}, "results": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from estimator.llm.blocks import BLOCKS
from estimator.llm.generation import Generation
from estimator.report import render
from estimator.report.units import ms, nbytes, si

_WIDTH = 110


def generation_json(result: Generation) -> str:
    return json.dumps(result.to_dict(), indent=2)


def sweep_json(param: str, values: Sequence[int], results: Sequence[Generation]) -> str:
    doc = {
        "sweep": {"parameter": param, "values": list(values)},
        "results": [r.to_dict() for r in results],
    }
    return json.dumps(doc, indent=2)


def _interval(mean: float, lo: float, hi: float) -> str:
    return f"{ms(mean)}  (95%: {ms(lo)} - {ms(hi)})"


def generation_table(g: Generation) -> str:
    """The text report of one generation."""
    con = render.console(_WIDTH)
    status = "calibrated" if g.calibrated else "UNCALIBRATED"
    con.print(
        f"{g.model} ({g.family}) on {g.hardware} ({g.runtime}, {g.dtype}, {g.threads} threads, "
        f"{status})"
    )
    imgs = f", {g.images} image(s) x {g.image_tokens} tokens" if g.images else ""
    con.print(
        f"workload: batch {g.batch}, prompt {g.prompt} tokens{imgs} (prefill {g.prefill_tokens}),"
        f" generate {g.generate} tokens; {si(g.params)} parameters"
    )
    con.print(f"TTFT        {_interval(g.ttft_ms, g.ttft_ci95_low_ms, g.ttft_ci95_high_ms)}")
    con.print(
        f"TPOT        first {ms(g.tpot_first_ms)}, mean {ms(g.tpot_mean_ms)}, "
        f"last {ms(g.tpot_last_ms)}"
    )
    con.print(f"end to end  {_interval(g.e2e_ms, g.e2e_ci95_low_ms, g.e2e_ci95_high_ms)}")
    con.print(
        f"throughput  {g.tokens_per_s:,.1f} tokens/s end to end, "
        f"{g.decode_tokens_per_s:,.1f} tokens/s while decoding"
    )
    m = g.memory
    fits = "unknown (no memory size)" if m.fits is None else ("yes" if m.fits else "NO")
    device = "" if m.device_bytes is None else f" of {nbytes(m.device_bytes)}"
    con.print(
        f"memory      weights {nbytes(m.weight_bytes)} + KV cache {nbytes(m.kv_cache_bytes)} + "
        f"peak activations {nbytes(m.peak_activation_bytes)} = {nbytes(m.total_bytes)}{device};"
        f" fits: {fits}"
    )
    stages = render.table(
        [("stage", "left"), ("passes", "right"), ("time", "right"), ("share", "right"),
         ("95% interval", "right"), ("FLOPs", "right"), ("bytes", "right"), ("bound", "left")],
        title="by stage",
    )  # fmt: skip
    for s in g.stages:
        share = s.latency_ms / g.e2e_ms if g.e2e_ms > 0 else 0.0
        bound = max(s.bound_summary, key=lambda k: s.bound_summary[k]) if s.bound_summary else ""
        stages.add_row(
            s.name, str(s.passes), ms(s.latency_ms), f"{share:.1%}",
            f"{ms(s.ci95_low_ms)} - {ms(s.ci95_high_ms)}", si(s.flops), nbytes(s.bytes), bound,
        )  # fmt: skip
    con.print(stages)
    names = [s.name for s in g.stages]
    blocks = render.table(
        [("block", "left"), *((n, "right") for n in names)], title="by block (time, share of stage)"
    )
    for key, label in BLOCKS.items():
        cells = []
        for s in g.stages:
            t = s.blocks.get(key, 0.0)
            cells.append(f"{ms(t)} {t / s.latency_ms:.0%}" if t > 0 and s.latency_ms > 0 else "-")
        if any(c != "-" for c in cells):
            blocks.add_row(label, *cells)
    con.print(blocks)
    if g.decode_steps:
        steps = render.table(
            [("step", "right"), ("KV length", "right"), ("TPOT", "right"),
             ("95% interval", "right"), ("floor", "right")],
            title="decode steps (TPOT against KV length; floor = streamed bytes / bandwidth)",
        )  # fmt: skip
        for d in g.decode_steps:
            steps.add_row(
                str(d.step), str(d.kv_len), ms(d.tpot_ms),
                f"{ms(d.ci95_low_ms)} - {ms(d.ci95_high_ms)}", ms(d.floor_ms),
            )  # fmt: skip
        con.print(steps)
    for note in g.notes:
        con.print(f"note: {note}", markup=False)
    return con.export_text()


def sweep_table(param: str, values: Sequence[int], results: Sequence[Generation]) -> str:
    """One row per sweep value: latencies, throughput, stage shares, memory."""
    con = render.console(_WIDTH + 20)
    first = results[0]
    con.print(
        f"{first.model} on {first.hardware} ({first.runtime}, {first.dtype}): sweep of {param}"
    )
    stage_names = [s.name for s in first.stages]
    t = render.table(
        [(param, "right"), ("TTFT", "right"), ("TPOT first", "right"), ("TPOT mean", "right"),
         ("TPOT last", "right"), ("end to end", "right"), ("tokens/s", "right"),
         *((f"{n} %", "right") for n in stage_names), ("memory", "right"), ("fits", "left")],
    )  # fmt: skip
    for v, g in zip(values, results, strict=True):
        shares = g.stage_shares()
        fits = "?" if g.memory.fits is None else ("yes" if g.memory.fits else "NO")
        t.add_row(
            str(v), ms(g.ttft_ms), ms(g.tpot_first_ms), ms(g.tpot_mean_ms), ms(g.tpot_last_ms),
            ms(g.e2e_ms), f"{g.tokens_per_s:,.1f}",
            *(f"{shares.get(n, 0.0):.1%}" for n in stage_names),
            nbytes(g.memory.total_bytes), fits,
        )  # fmt: skip
    con.print(t)
    for note in first.notes:
        con.print(f"note: {note}", markup=False)
    return con.export_text()
