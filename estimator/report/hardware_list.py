"""The devices the registry knows: ``estimate-latency --list-hw``'s table and the service's
``/v1/hardware`` documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from estimator.registry import (
    EfficiencyProfile,
    Hardware,
    list_hardware,
    load_hardware,
    read_efficiency_file,
)
from estimator.registry.loader import CURVES_FILE
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


def _profiles(hw: Hardware) -> list[EfficiencyProfile]:
    """The calibrated profiles stored next to the device's hardware.json (none: priors only)."""
    if hw.source_dir is None:
        return []
    path = Path(hw.source_dir) / CURVES_FILE
    return list(read_efficiency_file(path).profiles) if path.is_file() else []


def _profile_summary(p: EfficiencyProfile) -> dict[str, Any]:
    return {
        "runtime": p.runtime,
        "dtype": p.dtype,
        "threads": p.threads,
        "calibrated": p.calibrated,
        "device_sigma": p.device_sigma,
        "categories": sorted(str(c) for c in p.categories),
        "source": p.provenance.source,
        "date": p.provenance.date,
    }


def hardware_doc(name: str, registry: str | None = None, *, full: bool = True) -> dict[str, Any]:
    """A device as JSON: its description, whether any profile is calibrated, and its profiles
    (``full``: every curve, as stored; else one summary line each). The server's folder names
    are left out."""
    hw = load_hardware(name, registry)
    profiles = _profiles(hw)
    doc: dict[str, Any] = {
        "id": hw.id,
        "calibrated": any(p.calibrated for p in profiles),
        "hardware": hw.model_dump(mode="json"),
        "profiles": [_profile_summary(p) for p in profiles],
    }
    if full:
        doc["curves"] = [p.model_dump(mode="json") for p in profiles]
    return doc


def hardware_docs(registry: str | None = None) -> dict[str, Any]:
    """Every device the registry knows, each as :func:`hardware_doc` without the curves."""
    return {
        "schema_version": 1,
        "kind": "hardware_list",
        "devices": [hardware_doc(n, registry, full=False) for n in list_hardware(registry)],
    }
