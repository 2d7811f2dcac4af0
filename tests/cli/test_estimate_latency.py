"""The estimate-latency console script, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "estimator.cli.estimate_latency", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _relu_model(path: Path, *, opset: int = 17, batch: int | str = 1, op: str = "Relu") -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 8])
    domain = "com.example" if op != "Relu" else ""
    node = helper.make_node(op, ["x"], ["y"], name="act", domain=domain)
    graph = helper.make_graph([node], "g", [x], [y])
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=imports)
    onnx.save(model, path)
    return path


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_demo_model_table() -> None:
    proc = run_cli(str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert "FLOPs" in proc.stdout and "peak activation memory" in proc.stdout
    assert "unmodeled:" in proc.stdout


def test_json_totals_match_hand_count(tmp_path: Path) -> None:
    model = _relu_model(tmp_path / "relu.onnx")
    proc = run_cli(str(model), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    # one Relu over 8 fp32 elements: 8 FLOPs, reads 32 B, writes 32 B
    assert doc["totals"]["flops"] == 8
    assert doc["totals"]["bytes_read"] == 32 and doc["totals"]["bytes_written"] == 32
    assert doc["unmodeled"] == {}


def test_csv_has_a_row_per_node(tmp_path: Path) -> None:
    proc = run_cli(str(_relu_model(tmp_path / "relu.onnx")), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("name,op,")
    assert len(lines) == 2 and ",Relu," in lines[1]


def test_missing_file(tmp_path: Path) -> None:
    _assert_one_line_error(run_cli(str(tmp_path / "absent.onnx")), "absent.onnx")


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a protobuf\n" * 20)
    _assert_one_line_error(run_cli(str(bad)), "notes.onnx")


def test_truncated_onnx(tmp_path: Path) -> None:
    data = EXAMPLE.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    _assert_one_line_error(run_cli(str(cut)), "cut.onnx")


def test_unsupported_opset(tmp_path: Path) -> None:
    old = _relu_model(tmp_path / "old.onnx", opset=7)
    _assert_one_line_error(run_cli(str(old)), "opset")


def test_unbound_dynamic_dims(tmp_path: Path) -> None:
    dyn = _relu_model(tmp_path / "dyn.onnx", batch="N")
    _assert_one_line_error(run_cli(str(dyn)), "unbound")
    bound = run_cli(str(dyn), "--batch", "4", "--format", "json")
    assert bound.returncode == 0, bound.stderr
    assert json.loads(bound.stdout)["totals"]["flops"] == 32  # 4 x 8 elements, 1 FLOP each


def test_unknown_op_is_listed_and_strict_fails(tmp_path: Path) -> None:
    model = _relu_model(tmp_path / "custom.onnx", op="Mystery")
    proc = run_cli(str(model), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["unmodeled"] == {"com.example.Mystery": 1}
    # costed as memory traffic, never zero: 32 B read, 32 B written
    assert doc["totals"]["bytes_read"] + doc["totals"]["bytes_written"] == 64
    _assert_one_line_error(run_cli(str(model), "--strict"), "Mystery")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = run_cli(str(tmp_path / "absent.onnx"), "--debug")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize("flag", ["--batch=0", "--input-shape=x=1xq"])
def test_bad_flags_are_usage_errors(flag: str) -> None:
    proc = run_cli(str(EXAMPLE), flag)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_estimate_on_a_device_json() -> None:
    proc = run_cli(str(EXAMPLE), "--hw", "i7-12700K", "--threads", "4", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    assert doc["hardware"] == "i7-12700K" and doc["threads"] == 4
    assert 0 < doc["ci95_low_ms"] < doc["latency_ms"] < doc["ci95_high_ms"]
    assert abs(sum(k["share"] for k in doc["kernels"]) - 1.0) < 1e-6
    assert {k["bound"] for k in doc["kernels"]} <= {"compute", "memory", "overhead"}


def test_estimate_table_and_compare() -> None:
    one = run_cli(str(EXAMPLE), "--hw", "raspberry-pi-4", "--top", "3")
    assert one.returncode == 0, one.stderr
    assert "95% interval" in one.stdout and "unmodeled:" in one.stdout
    many = run_cli(str(EXAMPLE), "--compare", "i7-12700K,h100", "--format", "json")
    assert many.returncode == 0, many.stderr
    docs = json.loads(many.stdout)
    assert [d["hardware"] for d in docs] == ["i7-12700K", "h100"]
    assert docs[1]["runtime"] == "tensorrt"  # a GPU defaults to its usual runtime


def test_unknown_device_lists_close_matches() -> None:
    _assert_one_line_error(run_cli(str(EXAMPLE), "--hw", "i7-1270K"), "i7-12700K")


def test_list_hw() -> None:
    proc = run_cli("--list-hw")
    assert proc.returncode == 0, proc.stderr
    for device in ("i7-12700K", "raspberry-pi-4", "h100", "xeon-gold-6240"):
        assert device in proc.stdout
