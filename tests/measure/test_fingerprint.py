"""Machine fingerprint: contents checked against the OS directly."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from pathlib import Path

from estimator.measure.fingerprint import HARDWARE_KEYS, fingerprint_hash, machine_fingerprint


def test_fingerprint_contents() -> None:
    fp = machine_fingerprint()
    assert fp["cores_logical"] == os.cpu_count()
    assert fp["kernel"] == platform.release()
    assert fp["python"] == platform.python_version()
    host = socket.gethostname()
    strings = [v for v in fp.values() if isinstance(v, str)]
    assert host not in strings  # only a hash of the host name
    assert fp["host_hash"] == hashlib.sha256(host.encode()).hexdigest()[:16]
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        assert fp["cpu_model"] in cpuinfo.read_text()
        assert fp["cpu_flags"], "flags read from /proc/cpuinfo"
    gov = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    assert fp["governor"] == (gov.read_text().strip() if gov.exists() else None)
    import numpy

    assert fp["versions"]["numpy"] == numpy.__version__
    if fp["cores_physical"] is not None:
        assert 1 <= fp["cores_physical"] <= fp["cores_logical"]


def test_hash_covers_hardware_only() -> None:
    fp = machine_fingerprint()
    h = fingerprint_hash(fp)
    assert len(h) == 64
    assert fingerprint_hash({**fp, "governor": "other", "versions": {}}) == h
    assert fingerprint_hash({**fp, HARDWARE_KEYS[0]: "another cpu"}) != h
