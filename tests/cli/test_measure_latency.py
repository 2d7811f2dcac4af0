"""measure-latency end to end on a tiny real ONNX model."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from estimator.cli.measure_latency import main
from estimator.measure import ResultsStore


@pytest.fixture
def model(tmp_path: Path) -> Path:
    nodes = [
        helper.make_node("Tanh", ["x"], ["t"], name="tanh0"),
        helper.make_node("Abs", ["t"], ["y"], name="abs0"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 128])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 9
    path = tmp_path / "tiny.onnx"
    onnx.save(m, path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_output_and_store(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db = tmp_path / "r.sqlite"
    rc, out, _ = _run(
        capsys, str(model), "--repeats", "20", "--warmup", "2", "--batch", "3",
        "--profile", "--format", "json", "--db", str(db), "--quiet",
    )  # fmt: skip
    assert rc == 0
    data = json.loads(out)
    assert data["batch"] == 3 and data["repeats"] == 20 and data["status"] == "complete"
    stats = data["stats"]
    assert stats["min_ms"] <= stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert {k["node_name"] for k in data["kernels"]} == {"tanh0", "abs0"}
    with ResultsStore(db) as store:
        (run,) = store.runs()
        assert run.id == data["run_id"] and len(store.samples(run.id)) == 20


def test_table_sweep_csv_and_export(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.sqlite"
    rc, out, _ = _run(
        capsys, str(model), "--repeats", "10", "--warmup", "1", "--batch-sweep", "1,2,4",
        "--db", str(db), "--quiet",
    )  # fmt: skip
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[0] == "batch" and [ln.split()[0] for ln in lines[1:]] == ["1", "2", "4"]
    rc, out, _ = _run(
        capsys, str(model), "--repeats", "10", "--format", "csv", "--no-store", "--quiet"
    )
    assert rc == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["run_id"] == "" and float(row["p50_ms"]) > 0
    rc, _, err = _run(capsys, "--export", str(tmp_path / "all.csv"), "--db", str(db))
    assert rc == 0 and "exported 3 runs" in err
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert [int(r["batch"]) for r in rows] == [1, 2, 4]


def test_table_output(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, str(model), "--repeats", "10", "--no-store", "--profile", "--quiet")
    assert rc == 0
    assert "95% CI" in out and "samples/s" in out and "tanh0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.onnx"], "missing.onnx: no such model file"),
        (["{model}", "--runtime", "tvm"], "unknown runtime 'tvm'"),
        (["{model}", "--runtime", "torch"], "torch runtime needs a zoo model name"),
        (["{model}", "--input-shape", "x=3y128"], "--input-shape"),
        (["{model}", "--input-shape", "nope=1x2"], "unknown input"),
        (["{model}", "--batch-sweep", "1,a"], "--batch-sweep"),
    ],
)
def test_user_errors_one_line_exit_2(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.replace("{model}", str(model)) for a in argv]
    db = tmp_path / "never.sqlite"
    rc, _, err = _run(capsys, *argv, "--db", str(db), "--repeats", "2")
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("measure-latency: error:")
    assert message in err and "Traceback" not in err
    if "missing" in argv[0] or "tvm" in argv:
        assert not db.exists()  # rejected before the store is opened


def test_broken_model_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00\x01 not a model")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "estimator.cli.measure_latency", str(bad), "--no-store"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "broken.onnx" in proc.stderr


@pytest.mark.parametrize(("runtime", "target"), [("torch", "zoo-net"), ("onnxruntime", "{model}")])
def test_runtime_not_installed(model: Path, runtime: str, target: str) -> None:
    # a meta-path finder that refuses the package behaves like a machine without it installed
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == sys.argv[1]:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from estimator.cli.measure_latency import main\n"
        "sys.exit(main([sys.argv[2], '--runtime', sys.argv[1], '--no-store']))"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code, runtime, target.replace("{model}", str(model))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"runtime '{runtime}' is not installed: pip install {runtime}" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_debug_shows_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"junk")
    rc, _, err = _run(capsys, str(bad), "--no-store", "--debug")
    assert rc == 2
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("measure-latency: error")


def test_torch_zoo_model(capsys: pytest.CaptureFixture[str]) -> None:
    zoo = pytest.importorskip("estimator.zoo")
    if "mobilenet_v3_small" not in zoo.names():
        pytest.skip("zoo has no mobilenet_v3_small")
    rc, out, _ = _run(
        capsys, "mobilenet_v3_small", "--runtime", "torch", "--repeats", "3", "--warmup", "1",
        "--batch", "2", "--threads", "1", "--no-store", "--format", "json", "--quiet",
    )  # fmt: skip
    assert rc == 0
    data = json.loads(out)
    assert data["runtime"] == "torch" and data["batch"] == 2 and data["repeats"] == 3
    assert data["stats"]["p50_ms"] > 0
    rc, _, err = _run(capsys, "no_such_net", "--runtime", "torch", "--no-store")
    assert rc == 2 and "no_such_net" in err and err.count("\n") == 1


def test_ctrl_c_between_runs_keeps_the_stored_ones(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    # importlib: ``estimator.measure`` as an attribute is the function, not the package
    measure_pkg = importlib.import_module("estimator.measure")

    real = measure_pkg.measure
    calls: list[int] = []

    def second_run_interrupted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(measure_pkg, "measure", second_run_interrupted)
    db = tmp_path / "r.sqlite"
    argv = [str(model), "--batch-sweep", "1,2", "--repeats", "3", "--quiet", "--db", str(db)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err == "measure-latency: interrupted (measurements so far are kept)"
    with ResultsStore(db) as store:
        assert len(store.runs()) == 1
    assert main([*argv[:-2], "--no-store"]) == 130
    assert capsys.readouterr().err.strip() == "measure-latency: interrupted"
