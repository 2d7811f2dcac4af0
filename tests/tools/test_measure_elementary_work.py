"""tools/measure_elementary_work.py on real onnxruntime: what it keeps and how it normalises."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from estimator.partition.rules import load_rules


@pytest.fixture(scope="module")
def tool(repo_root: Path) -> ModuleType:
    path = repo_root / "tools" / "measure_elementary_work.py"
    spec = importlib.util.spec_from_file_location("measure_elementary_work", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_op_model_runs_and_the_table_covers_shipped_ops() -> None:
    import onnxruntime as ort

    from estimator.calibration.elementary import OPS, op_model

    names = {name for name, *_ in OPS}
    assert set(load_rules("onnxruntime-cpu").elementary_work) <= names
    for _, op, domain, attrs in OPS:
        ort.InferenceSession(op_model(op, domain, attrs, 64), providers=["CPUExecutionProvider"])


def test_gelu_costs_more_per_element_than_relu(
    tool: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tool.main(["--hw", "epyc-milan-vm-2vcpu", "--repeats", "3", "--runs", "60"]) == 0
    out = capsys.readouterr().out
    table = json.loads(out[out.index("{") :])
    assert "Relu" not in table  # the memory-bound floor itself is never kept
    assert table["Gelu"] > 0
    assert all(v > 0 for v in table.values())


def test_write_stores_a_device_table_covering_the_runtime_table(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from estimator.registry.models import ElementaryWorkFile

    argv = ["--hw", "epyc-milan-vm-2vcpu", "--repeats", "3", "--runs", "60"]
    assert tool.main([*argv, "--write", "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    doc = ElementaryWorkFile.model_validate_json((tmp_path / "elementary_work.json").read_text())
    entry = doc.runtimes["onnxruntime-cpu"]
    # every entry of the runtime's table is replaced, whatever this run's noise near the floor
    assert set(load_rules("onnxruntime-cpu").elementary_work) <= set(entry.flop_equivalents)
    assert "Relu" in entry.ns_per_element and entry.peak_gflops_one_thread > 0
    assert doc.device == "epyc-milan-vm-2vcpu" and "measure_elementary_work.py" in entry.source


def test_a_non_positive_slope_is_left_out_and_the_entry_stays_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a loaded machine the floor op's slope can come out negative (CI: Relu -0.104 ns per
    element, which made the registry record invalid): it measures nothing and is left out."""
    from estimator.calibration import elementary
    from estimator.registry.loader import load_hardware

    fake = {"Relu": -0.1, "Sigmoid": 0.0, "Tanh": 0.3, "Erf": 0.5}
    monkeypatch.setattr(
        elementary, "slope_ns", lambda op, dom, attrs, repeats, runs: fake.get(op, 0.2)
    )
    m = elementary.measure_elementary(load_hardware("i7-12700K"), repeats=1, runs=1)
    assert "Relu" not in m.table and "Sigmoid" not in m.table
    assert m.table["Tanh"] > 0 and m.table["Erf"] > m.table["Tanh"]
    assert all(v > 0 for v in m.entry("test").flop_equivalents.values())
