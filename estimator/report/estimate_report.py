"""Render :class:`Estimate` results: one device in depth, or several side by side.

JSON is ``Estimate.to_dict()`` (versioned, documented in docs/design/report_schema.md); a list
when several devices are compared. CSV has one row per kernel and device.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from estimator.estimate import BatchEstimate, Estimate
from estimator.report import render
from estimator.report.cost_report import unmodeled_line
from estimator.report.units import ms, nbytes, si

KERNEL_FIELDS = (
    "hardware",
    "kernel",
    "category",
    "ops",
    "sources",
    "flops",
    "bytes",
    "time_ms",
    "std_ms",
    "bound",
    "share",
    "modeled",
)


def estimates_json(results: Sequence[Estimate]) -> str:
    docs = [r.to_dict() for r in results]
    return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2)


def estimates_csv(results: Sequence[Estimate]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=KERNEL_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        for k in r.kernels:
            writer.writerow(
                {
                    "hardware": r.hardware,
                    "kernel": k.name,
                    "category": k.category,
                    "ops": "+".join(k.ops),
                    "sources": ";".join(k.sources),
                    "flops": k.flops,
                    "bytes": k.bytes,
                    "time_ms": f"{k.time_ms:.6g}",
                    "std_ms": f"{k.std_ms:.6g}",
                    "bound": k.bound,
                    "share": f"{k.share:.6g}",
                    "modeled": k.modeled,
                }
            )
    return buf.getvalue()


def _status(r: Estimate) -> str:
    if r.calibrated:
        return f"calibrated ({r.calibration_source[:80]})"
    return "UNCALIBRATED: datasheet priors, wide interval"


def estimate_table(r: Estimate, *, top: int = 20, width: int = 120) -> str:
    c = render.console(width)
    c.print(
        f"[bold]{r.model}[/bold] on [bold]{r.hardware}[/bold] "
        f"({r.runtime}, {r.dtype}, {r.threads} threads)"
    )
    spread = (
        f"  runs: p90 {ms(r.p90_ms)}, p99 {ms(r.p99_ms)}"
        if r.p90_ms is not None and r.p99_ms is not None
        else ""
    )
    c.print(
        f"latency (median run) {ms(r.latency_ms)}  95% interval "
        f"[{ms(r.ci95_low_ms)}, {ms(r.ci95_high_ms)}]{spread}  {_status(r)}"
    )
    bounds = ", ".join(f"{b} {s:.0%}" for b, s in sorted(r.bound_summary.items()) if s > 0)
    c.print(
        f"FLOPs {si(r.flops)}  MACs {si(r.macs)}  params {si(r.params)}  "
        f"weights {nbytes(r.weight_bytes)}  peak activations {nbytes(r.peak_activation_bytes)}"
    )
    c.print(f"{len(r.kernels)} kernels; time by bound: {bounds}")
    rows = sorted(r.kernels, key=lambda k: k.time_ms, reverse=True)
    shown, title = render.top_rows(rows, top, "kernels by time")
    t = render.table(
        [
            ("kernel", "left"),
            ("category", "left"),
            ("FLOPs", "right"),
            ("bytes", "right"),
            ("time", "right"),
            ("+/- sd", "right"),
            ("bound", "left"),
            ("share", "right"),
        ],
        title,
    )
    for k in shown:
        t.add_row(
            k.name + ("" if k.modeled else " (unmodeled)"),
            k.category,
            si(k.flops),
            nbytes(k.bytes),
            ms(k.time_ms),
            ms(k.std_ms),
            k.bound,
            f"{k.share:.1%}",
        )
    c.print(t)
    c.print(unmodeled_line(r.unmodeled))
    for note in r.notes:
        c.print(f"note: {note}")
    return c.export_text()


def compare_table(results: Sequence[Estimate], *, width: int = 120) -> str:
    c = render.console(width)
    c.print(f"[bold]{results[0].model}[/bold] on {len(results)} devices")
    t = render.table(
        [
            ("device", "left"),
            ("runtime", "left"),
            ("threads", "right"),
            ("latency", "right"),
            ("95% interval", "right"),
            ("main bound", "left"),
            ("calibration", "left"),
        ]
    )
    for r in results:
        main = max(r.bound_summary.items(), key=lambda kv: kv[1])[0] if r.bound_summary else "-"
        t.add_row(
            r.hardware,
            r.runtime,
            str(r.threads),
            ms(r.latency_ms),
            f"[{ms(r.ci95_low_ms)}, {ms(r.ci95_high_ms)}]",
            main,
            "calibrated" if r.calibrated else "uncalibrated",
        )
    c.print(t)
    c.print(unmodeled_line(results[0].unmodeled))
    return c.export_text()


#: Version of the batch document (``POST /v1/estimate/batch``, :func:`batch_json`).
BATCH_SCHEMA_VERSION = 1


def batch_to_dict(r: BatchEstimate) -> dict[str, Any]:
    """One device's totals of many models, column-wise (arrays in the order of ``models``)."""
    return {
        "hardware": r.hardware,
        "runtime": r.runtime,
        "dtype": r.dtype,
        "threads": r.threads,
        "calibrated": r.calibrated,
        "models": list(r.names),
        "latency_ms": r.latency_ms.tolist(),
        "std_ms": r.std_ms.tolist(),
        "ci95_low_ms": r.ci95_low_ms.tolist(),
        "ci95_high_ms": r.ci95_high_ms.tolist(),
    }


def batch_json(results: Sequence[BatchEstimate]) -> str:
    """The batch document: one column-wise block per (device, group of models)."""
    doc = {
        "schema_version": BATCH_SCHEMA_VERSION,
        "kind": "batch",
        "results": [batch_to_dict(r) for r in results],
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)
