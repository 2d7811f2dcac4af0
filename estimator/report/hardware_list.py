"""``estimate-latency --list-hw``: the devices the registry knows, with their headline figures."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from estimator.registry import list_hardware, load_hardware


def hardware_table(registry: str | None = None, *, width: int = 120) -> str:
    table = Table(title="devices in the hardware registry", title_justify="left")
    for col, just in (
        ("id", "left"),
        ("type", "left"),
        ("device", "left"),
        ("cores", "right"),
        ("fp32 peak", "right"),
        ("DRAM bandwidth", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for name in list_hardware(registry):
        hw = load_hardware(name, registry)
        fp32 = hw.peak_gflops.get("fp32")
        table.add_row(
            hw.id,
            str(hw.type),
            hw.model
            if hw.model.lower().startswith(hw.vendor.lower())
            else f"{hw.vendor} {hw.model}",
            str(hw.cores),
            f"{fp32.gflops:,.0f} GFLOP/s" if fp32 else "-",
            f"{hw.memory.dram_bandwidth_gbs:,.1f} GB/s",
        )
    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    console.print(table)
    return console.export_text()
