"""Render a :class:`ModelCost` (what the model costs, before any device) as table, JSON or CSV.

The JSON layout is versioned (``schema_version``) and documented in docs/design/report_schema.md so
scripts can rely on it.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.table import Table

from estimator.analysis import ModelCost
from estimator.report import render
from estimator.report.units import nbytes, si

COST_SCHEMA_VERSION = 1
NODE_FIELDS = (
    "name",
    "op",
    "source",
    "output_shape",
    "flops",
    "macs",
    "bytes_read",
    "bytes_written",
    "params",
    "modeled",
)


def cost_totals(cost: ModelCost) -> dict[str, Any]:
    return {
        "flops": cost.flops,
        "macs": cost.macs,
        "params": cost.params,
        "weight_bytes": cost.weight_bytes,
        "activation_bytes": cost.activation_bytes,
        "bytes_read": cost.bytes_read,
        "bytes_written": cost.bytes_written,
        "peak_activation_bytes": cost.peak_activation_bytes,
        "nodes": len(cost.nodes),
    }


def node_rows(cost: ModelCost) -> list[dict[str, Any]]:
    rows = []
    for nc in cost.nodes:
        n, c = nc.node, nc.cost
        rows.append(
            {
                "name": n.name,
                "op": n.op,
                "source": n.source,
                "output_shape": "x".join(map(str, n.outputs[0].shape)) if n.outputs else "",
                "flops": c.flops,
                "macs": c.macs,
                "bytes_read": c.bytes_read,
                "bytes_written": c.bytes_written,
                "params": c.params,
                "modeled": c.modeled,
            }
        )
    return rows


def cost_to_dict(cost: ModelCost) -> dict[str, Any]:
    return {
        "schema_version": COST_SCHEMA_VERSION,
        "kind": "cost",
        "model": cost.name,
        "totals": cost_totals(cost),
        "unmodeled": dict(sorted(cost.unmodeled.items())),
        "nodes": node_rows(cost),
    }


def cost_json(cost: ModelCost) -> str:
    return json.dumps(cost_to_dict(cost), indent=2)


def cost_csv(cost: ModelCost) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=NODE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(node_rows(cost))
    return buf.getvalue()


def unmodeled_line(unmodeled: dict[str, int]) -> str:
    """The "no silent zeros" line every report carries."""
    if not unmodeled:
        return "unmodeled: none (every op has a cost rule)"
    parts = ", ".join(f"{op} x{n}" for op, n in sorted(unmodeled.items()))
    return f"unmodeled: {parts} (costed as memory traffic only)"


def cost_table(cost: ModelCost, *, top: int = 20, width: int = 120) -> str:
    console = render.console(width)
    console.print(f"[bold]{cost.name}[/bold]: {len(cost.nodes)} nodes")
    totals = Table(show_header=False, box=None, pad_edge=False)
    totals.add_column("quantity")
    totals.add_column("value", justify="right")
    totals.add_row("FLOPs", si(cost.flops))
    totals.add_row("MACs", si(cost.macs))
    totals.add_row("parameters", si(cost.params))
    totals.add_row("weight bytes", nbytes(cost.weight_bytes))
    totals.add_row("activation bytes", nbytes(cost.activation_bytes))
    totals.add_row("bytes read + written", nbytes(cost.bytes_read + cost.bytes_written))
    totals.add_row("peak activation memory", nbytes(cost.peak_activation_bytes))
    console.print(totals)
    rows = sorted(node_rows(cost), key=lambda r: r["flops"], reverse=True)
    shown, title = render.top_rows(rows, top, "nodes by FLOPs")
    table = render.table(
        [
            ("node", "left"),
            ("op", "left"),
            ("output", "left"),
            ("FLOPs", "right"),
            ("bytes", "right"),
            ("params", "right"),
        ],
        title,
    )
    for r in shown:
        table.add_row(
            r["source"] or r["name"],
            r["op"] + ("" if r["modeled"] else " (unmodeled)"),
            r["output_shape"],
            si(r["flops"]),
            nbytes(r["bytes_read"] + r["bytes_written"]),
            si(r["params"]) if r["params"] else "",
        )
    console.print(table)
    console.print(unmodeled_line(cost.unmodeled))
    return console.export_text()
