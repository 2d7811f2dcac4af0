"""A device's own elementary-work table: elementary_work.json next to its hardware.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from estimator.errors import RegistryError
from estimator.registry.elementary import (
    ELEMENTARY_FILE,
    load_elementary_work,
    save_elementary_work,
)
from estimator.registry.models import ElementaryWorkTable
from tests.registry.test_loader import shipped_hardware, write_device


def table(**values: float) -> ElementaryWorkTable:
    return ElementaryWorkTable(
        flop_equivalents=values,
        source="test",
        date="2026-11-23",
        peak_gflops_one_thread=100.0,
    )


@pytest.fixture
def device(tmp_path: Path) -> Path:
    return write_device(tmp_path, "cpu", "ew-dev", shipped_hardware("cpu/epyc-milan-vm-2vcpu"))


def test_table_is_read_per_runtime_and_absent_means_none(tmp_path: Path, device: Path) -> None:
    assert load_elementary_work("ew-dev", "onnxruntime-cpu", registry=tmp_path) is None
    save_elementary_work(device, "ew-dev", "onnxruntime-cpu", table(Erf=50.0))
    assert load_elementary_work("ew-dev", "onnxruntime-cpu", registry=tmp_path) == {"Erf": 50.0}
    assert load_elementary_work("ew-dev", "tensorrt", registry=tmp_path) is None


def test_saving_one_runtime_keeps_the_others(tmp_path: Path, device: Path) -> None:
    save_elementary_work(device, "ew-dev", "onnxruntime-cpu", table(Erf=50.0))
    save_elementary_work(device, "ew-dev", "other-rt", table(Tanh=7.0))
    save_elementary_work(device, "ew-dev", "onnxruntime-cpu", table(Erf=60.0))
    data = json.loads((device / ELEMENTARY_FILE).read_text())
    assert data["runtimes"]["other-rt"]["flop_equivalents"] == {"Tanh": 7.0}
    assert load_elementary_work("ew-dev", "onnxruntime-cpu", registry=tmp_path) == {"Erf": 60.0}


def test_bad_value_names_the_file_and_field(tmp_path: Path, device: Path) -> None:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "device": "ew-dev",
        "runtimes": {
            "onnxruntime-cpu": {
                "flop_equivalents": {"Erf": -3.0},
                "source": "hand-written",
                "date": "2026-11-23",
                "peak_gflops_one_thread": 100.0,
            }
        },
    }
    (device / ELEMENTARY_FILE).write_text(json.dumps(doc))
    with pytest.raises(RegistryError) as exc:
        load_elementary_work("ew-dev", "onnxruntime-cpu", registry=tmp_path)
    msg = str(exc.value)
    assert ELEMENTARY_FILE in msg and "runtimes.onnxruntime-cpu.flop_equivalents.Erf" in msg
    assert "\n" not in msg


def test_crash_mid_write_keeps_the_old_table(
    tmp_path: Path, device: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = save_elementary_work(device, "ew-dev", "onnxruntime-cpu", table(Erf=50.0))
    before = target.read_bytes()

    def boom(src: Any, dst: Any) -> None:
        raise OSError("simulated crash during replace")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated crash"):
        save_elementary_work(device, "ew-dev", "onnxruntime-cpu", table(Erf=99.0))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in device.iterdir()) == [ELEMENTARY_FILE, "hardware.json"]
