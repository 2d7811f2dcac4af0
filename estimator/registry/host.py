"""Fingerprint of the machine at hand, for matching it to a registry device and for provenance."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@lru_cache(maxsize=1)
def cpu_model_name() -> str:
    """CPU model string: /proc/cpuinfo 'model name' on Linux, platform.processor() elsewhere."""
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model"):
            return value.strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return value.split()
    return []


def host_fingerprint() -> dict[str, Any]:
    """What calibration records about the machine in a profile's provenance."""
    cpuinfo = _read("/proc/cpuinfo")
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        k = key.strip()
        if k in ("vendor_id", "cpu family", "model", "stepping", "cpu MHz") and k not in fields:
            fields[k] = value.strip()
    flags = cpu_flags()
    simd = [
        f
        for f in ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimd")
        if f in flags
    ]
    return {
        "cpu_model": cpu_model_name(),
        "logical_cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
        "hypervisor": "hypervisor" in flags,
        "simd": simd,
        **{k.replace(" ", "_"): v for k, v in fields.items()},
    }
