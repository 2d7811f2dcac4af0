"""Which machine and software a measurement came from.

A latency means nothing without the machine: calibration groups runs by machine and refuses to
mix them. The fingerprint keeps what explains speed (CPU model and flags, cores, governor, kernel,
library versions) and leaves out what identifies a person (the hostname is hashed).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

#: Keys that identify the hardware; the machine hash covers only these, so upgrading a library
#: or switching the governor does not make a new machine (those are kept per run).
HARDWARE_KEYS = ("cpu_model", "cpu_flags", "cores_logical", "cores_physical", "arch", "host_hash")

_PACKAGES = ("onnxruntime", "torch", "numpy", "onnx")


def _cpuinfo() -> tuple[str, list[str]]:
    model = platform.processor() or "unknown"
    flags: list[str] = []
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model in ("unknown", "", platform.machine()):
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = sorted(value.split())
    return model, flags


def _physical_cores() -> int | None:
    """Distinct (core, socket) pairs from ``lscpu -p``; None when lscpu is missing."""
    exe = shutil.which("lscpu")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-p=CORE,SOCKET"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    pairs = {line.strip() for line in out.splitlines() if line and not line.startswith("#")}
    return len(pairs) or None


def _governor() -> str | None:
    try:
        return (
            Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
            or None
        )
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> dict[str, Any]:
    """Describe this machine and its software; JSON-serializable, no raw hostname."""
    model, flags = _cpuinfo()
    host_hash = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "cores_logical": os.cpu_count(),
        "cores_physical": _physical_cores(),
        "arch": platform.machine(),
        "host_hash": host_hash,
        "governor": _governor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in _PACKAGES},
    }


def fingerprint_hash(fingerprint: dict[str, Any]) -> str:
    """sha256 over the hardware keys only (see :data:`HARDWARE_KEYS`)."""
    hw = {k: fingerprint.get(k) for k in HARDWARE_KEYS}
    return hashlib.sha256(json.dumps(hw, sort_keys=True).encode()).hexdigest()
