"""The machine at hand: one fingerprint for registry matching, calibration provenance and the
results store.

A latency means nothing without the machine: the results store groups runs by machine, calibration
records it in a profile's provenance, and ``--hw host`` matches it to a registry device. The
fingerprint keeps what explains speed (CPU model, family and flags, cores, governor, kernel,
library versions) and leaves out what identifies a person (the hostname is hashed).

A leaf module (standard library only), so the registry and the measurement code can both use it.

Keys (:data:`KEYS`)::

    cpu_model         /proc/cpuinfo 'model name' ('Hardware' / 'Model' on ARM), else platform
    cpu_vendor        'vendor_id'           cpu_family   'cpu family'
    cpu_model_number  'model'               cpu_stepping 'stepping'
    cpu_mhz           'cpu MHz' (as written there)
    cpu_flags         sorted 'flags' / 'Features'
    simd              the SIMD extensions among them that kernels use
    hypervisor        True inside a VM (the 'hypervisor' flag)
    cores_logical     os.cpu_count()        cores_physical  distinct (core, socket) from lscpu
    arch              platform.machine()    system          platform.system()
    host_hash         sha256 of the hostname, 16 hex digits
    governor          cpufreq governor of cpu0, None where there is none
    kernel, python    platform.release(), platform.python_version()
    versions          {package: version} of onnxruntime, torch, numpy, onnx

Data written before the two fingerprints were merged used other names for some of these (see
:data:`LEGACY_KEYS`); :func:`normalize_fingerprint` reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: Every key :func:`machine_fingerprint` returns.
KEYS = (
    "cpu_model",
    "cpu_vendor",
    "cpu_family",
    "cpu_model_number",
    "cpu_stepping",
    "cpu_mhz",
    "cpu_flags",
    "simd",
    "hypervisor",
    "cores_logical",
    "cores_physical",
    "arch",
    "system",
    "host_hash",
    "governor",
    "kernel",
    "python",
    "versions",
)

#: Keys that identify the hardware; the machine hash covers only these, so upgrading a library
#: or switching the governor does not make a new machine (those are kept per run).
HARDWARE_KEYS = ("cpu_model", "cpu_flags", "cores_logical", "cores_physical", "arch", "host_hash")

#: Keys left out of a registry profile's provenance: shipped files are public, and the full flag
#: list is noise there (``simd`` keeps the flags that matter).
NOT_IN_PROVENANCE = frozenset({"host_hash", "cpu_flags"})

#: Old key -> key, for fingerprints written by ``estimator.registry.host.host_fingerprint``
#: (calibration provenance in hardware_registry/**/efficiency_curves.json). The results store's
#: old keys (``estimator.measure.fingerprint``) are all current keys.
LEGACY_KEYS = {
    "logical_cpus": "cores_logical",
    "machine": "arch",
    "vendor_id": "cpu_vendor",
    "model": "cpu_model_number",
    "stepping": "cpu_stepping",
    "cpu_MHz": "cpu_mhz",
}

#: SIMD extensions recorded in ``simd``, in this order.
SIMD_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimd")

_PACKAGES = ("onnxruntime", "torch", "numpy", "onnx")

#: /proc/cpuinfo field -> key.
_CPUINFO_FIELDS = {
    "vendor_id": "cpu_vendor",
    "cpu family": "cpu_family",
    "model": "cpu_model_number",
    "stepping": "cpu_stepping",
    "cpu MHz": "cpu_mhz",
}


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
    """The first CPU's flags from /proc/cpuinfo, sorted; empty where there is none."""
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return sorted(value.split())
    return []


def _cpuinfo_fields() -> dict[str, str | None]:
    fields: dict[str, str | None] = dict.fromkeys(_CPUINFO_FIELDS.values())
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        name = _CPUINFO_FIELDS.get(key.strip())
        if name is not None and fields[name] is None:
            fields[name] = value.strip()
    return fields


@lru_cache(maxsize=1)
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
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip() or None


@cache
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> dict[str, Any]:
    """Describe this machine and its software (:data:`KEYS`); JSON-serializable, no raw
    hostname."""
    flags = cpu_flags()
    return {
        "cpu_model": cpu_model_name(),
        **_cpuinfo_fields(),
        "cpu_flags": flags,
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "hypervisor": "hypervisor" in flags,
        "cores_logical": os.cpu_count(),
        "cores_physical": _physical_cores(),
        "arch": platform.machine(),
        "system": platform.system(),
        "host_hash": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16],
        "governor": _governor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in _PACKAGES},
    }


def provenance_fingerprint() -> dict[str, Any]:
    """The fingerprint a calibrated profile records: :func:`machine_fingerprint` without
    :data:`NOT_IN_PROVENANCE`."""
    return {k: v for k, v in machine_fingerprint().items() if k not in NOT_IN_PROVENANCE}


def normalize_fingerprint(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """``fingerprint`` with :data:`LEGACY_KEYS` renamed (a current key wins over an old one);
    other keys, current or unknown, kept as they are."""
    out = {LEGACY_KEYS.get(k, k): v for k, v in fingerprint.items() if k not in KEYS}
    out.update({k: v for k, v in fingerprint.items() if k in KEYS})
    return out


def fingerprint_hash(fingerprint: Mapping[str, Any]) -> str:
    """sha256 over the hardware keys only (see :data:`HARDWARE_KEYS`); old key names accepted."""
    fp = normalize_fingerprint(fingerprint)
    hw = {k: fp.get(k) for k in HARDWARE_KEYS}
    return hashlib.sha256(json.dumps(hw, sort_keys=True).encode()).hexdigest()
