"""The registry entry of a probed machine: engine-facing fields set from the measured figures,
scaled per core as the engine reads them; schema-valid; written once, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from estimator.errors import RegistryError
from estimator.host import read_topology
from estimator.probe.entry import default_id, hardware_entry
from estimator.probe.roofline import machine_reading
from estimator.registry.loader import read_hardware_file, save_hardware, schema_problem
from estimator.registry.models import MeasuredRoofline

HOSTS = Path(__file__).resolve().parents[1] / "fixtures" / "hosts"
INTEL = read_topology(HOSTS / "intel-xeon-icelake-vm", lscpu=None)


def _ceiling(method: str, th: int, g: float, dtype: str = "fp32") -> dict[str, Any]:
    return {"dtype": dtype, "threads": th, "method": method, "gflops": g, "u95_gflops": 1.0,
            "runs": 5, "derivation": "synthetic"}  # fmt: skip


def _bw(level: str, th: int, g: float) -> dict[str, Any]:
    return {"level": level, "threads": th, "gbs": g, "u95_gbs": 0.5,
            "working_set_kib": (1.0, 2.0), "points": 2, "derivation": "synthetic"}  # fmt: skip


ROOF = MeasuredRoofline.model_validate(
    {
        "date": "2026-12-02T15:00:00+00:00",
        "tool_version": "test",
        "command": "probe-hardware --threads 1,2",
        "quick": False,
        "seconds": 40.0,
        "threads": [1, 2],
        "machine": machine_reading(INTEL).model_dump(),
        "compute": [
            _ceiling("register_fma", 1, 180.0),
            _ceiling("onnxruntime_gemm", 1, 165.0),
            _ceiling("register_fma", 2, 350.0),
            _ceiling("onnxruntime_gemm", 2, 330.0, "int8"),
        ],
        "bandwidth": [
            _bw("L1", 1, 200.0),
            _bw("L1", 2, 380.0),
            _bw("L2", 1, 90.0),
            _bw("L3", 1, 30.0),
            _bw("L3", 2, 50.0),
            _bw("DRAM", 1, 12.0),
            _bw("DRAM", 2, 20.0),
        ],
    }
)


def test_engine_fields_come_from_the_measured_figures() -> None:
    hw = hardware_entry(INTEL, ROOF)
    # best per core: max(180 / 1, 350 / 2) = 180, x 2 cores
    assert hw.peak_gflops["fp32"].gflops == 360.0
    assert hw.peak_flops("fp32", threads=1) == pytest.approx(180e9)
    assert hw.peak_gflops["int8"].gflops == 330.0
    assert (hw.memory.dram_bandwidth_gbs, hw.memory.per_core_bandwidth_gbs) == (20.0, 12.0)
    assert hw.dram_bandwidth(1) == pytest.approx(12e9) and hw.dram_bandwidth(2) == pytest.approx(
        20e9
    )
    levels = {c.level: (c.size_kib, c.shared, c.bandwidth_gbs) for c in hw.caches}
    # L1, L2 private: per core = the best of 200 / 1, 380 / 2; L3 shared: aggregate at 2 threads
    assert levels == {1: (48.0, False, 200.0), 2: (1280.0, False, 90.0), 3: (49152.0, True, 50.0)}
    assert "measured on this machine by probe-hardware" in hw.peak_gflops["fp32"].derivation
    assert "166.4 GFLOP/s" in hw.peak_gflops["fp32"].derivation  # 2 x 16 x 2 x 2.6 for comparison
    assert (hw.cores, hw.threads, hw.simd_bits, hw.base_clock_ghz) == (2, 2, 512, 2.6)
    assert hw.measured == ROOF
    fp = hw.fingerprint
    assert fp is not None and (fp.cpu_family, fp.cpu_model_number, fp.logical_cpus) == (6, 106, 2)
    import re

    assert re.search(fp.cpu_model_regex or "", INTEL.cpu_model)
    assert default_id(INTEL) == hw.id == "intel-xeon-2-60ghz-2cpu-vm"


def test_written_once_schema_valid_and_atomic(tmp_path: Path) -> None:
    hw = hardware_entry(INTEL, ROOF)
    path = save_hardware(hw, tmp_path)
    assert path == tmp_path / "cpu" / hw.id / "hardware.json"
    assert schema_problem("hardware.schema.json", json.loads(path.read_text())) is None
    assert read_hardware_file(path).measured == ROOF
    assert sorted(p.name for p in (tmp_path / "cpu").iterdir()) == [hw.id]  # no temp folder left
    with pytest.raises(RegistryError, match="already exists; pass --force"):
        save_hardware(hw, tmp_path)
    save_hardware(hw.model_copy(update={"notes": "replaced"}), tmp_path, force=True)
    assert read_hardware_file(path).notes == "replaced"
    assert len(list(path.parent.glob("hardware.json.bak-*"))) == 1
