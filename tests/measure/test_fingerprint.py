"""Machine fingerprint: contents checked against the OS directly."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from pathlib import Path

from estimator.host import (
    HARDWARE_KEYS,
    KEYS,
    LEGACY_KEYS,
    NOT_IN_PROVENANCE,
    fingerprint_hash,
    machine_fingerprint,
    normalize_fingerprint,
    provenance_fingerprint,
)


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


def test_one_set_of_keys() -> None:
    fp = machine_fingerprint()
    assert tuple(fp) == KEYS
    assert set(HARDWARE_KEYS) <= set(fp)
    assert not set(LEGACY_KEYS) & set(fp)
    assert set(provenance_fingerprint()) == set(KEYS) - NOT_IN_PROVENANCE
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "cpu family" in cpuinfo.read_text():
        assert fp["cpu_family"] and fp["cpu_model_number"] is not None
        assert fp["simd"] == [f for f in fp["simd"] if f in fp["cpu_flags"]]


def test_old_keys_still_read() -> None:
    # what estimator.registry.host.host_fingerprint() wrote into provenance before the merge
    old = {
        "cpu_model": "AMD EPYC",
        "logical_cpus": 2,
        "machine": "x86_64",
        "system": "Linux",
        "hypervisor": True,
        "simd": ["avx", "avx2", "fma"],
        "vendor_id": "AuthenticAMD",
        "cpu_family": "25",
        "model": "1",
        "stepping": "1",
        "cpu_MHz": "2445.406",
    }
    new = normalize_fingerprint(old)
    assert new == {
        "cpu_model": "AMD EPYC",
        "cores_logical": 2,
        "arch": "x86_64",
        "system": "Linux",
        "hypervisor": True,
        "simd": ["avx", "avx2", "fma"],
        "cpu_vendor": "AuthenticAMD",
        "cpu_family": "25",
        "cpu_model_number": "1",
        "cpu_stepping": "1",
        "cpu_mhz": "2445.406",
    }
    assert normalize_fingerprint(new) == new
    assert normalize_fingerprint({"logical_cpus": 8, "cores_logical": 2}) == {"cores_logical": 2}
    assert fingerprint_hash(old) == fingerprint_hash(new)
    # the results store's old fingerprint (estimator.measure.fingerprint) used current keys only:
    # its machine hashes stay valid
    fp = machine_fingerprint()
    stored = {k: fp[k] for k in (*HARDWARE_KEYS, "governor", "kernel", "python", "versions")}
    assert normalize_fingerprint(stored) == stored
    assert fingerprint_hash(stored) == fingerprint_hash(fp)


def test_shipped_provenance_reads_under_current_keys() -> None:
    from estimator.registry import read_efficiency_file

    repo = Path(__file__).resolve().parents[2]
    path = repo / "hardware_registry/cpu/epyc-milan-vm-2vcpu/efficiency_curves.json"
    assert '"logical_cpus": 2' in path.read_text()  # written under the old keys
    fp = read_efficiency_file(path).profiles[0].provenance.machine_fingerprint
    assert fp["cores_logical"] == 2 and fp["cpu_model_number"] == "1" and fp["arch"] == "x86_64"
    assert not set(LEGACY_KEYS) & set(fp)
