"""``estimate-latency --list-hw``: the devices the registry knows, with their headline figures."""

from __future__ import annotations

from estimator.registry import list_hardware, load_hardware
from estimator.report import render


def hardware_table(registry: str | None = None, *, width: int = 120) -> str:
    table = render.table(
        [
            ("id", "left"),
            ("type", "left"),
            ("device", "left"),
            ("cores", "right"),
            ("fp32 peak", "right"),
            ("DRAM bandwidth", "right"),
        ],
        "devices in the hardware registry",
    )
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
    console = render.console(width)
    console.print(table)
    return console.export_text()
