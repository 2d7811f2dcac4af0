"""The calibration console scripts, run as a user runs them: real processes on a small real store.

Each script: ``--help``, one real run on a store of a few sweep models and three tiny networks
measured with onnxruntime (seconds), and the shared error boundary (one line, exit 2; ``--debug``
brings the traceback back; Ctrl-C exits 130 and says the measurements are kept).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from estimator.errors import EstimatorError
from tests._nets import calibration_models

REPO = Path(__file__).resolve().parents[2]
HW = "epyc-milan-vm-2vcpu"
CASES = [
    "sweep/gemm/m8-k16-n16",
    "sweep/gemm/m64-k256-n1024",
    "sweep/elementwise/add-c16-r8",
    "sweep/conv_pointwise/c8x8-r8",
]
NETS = "net0,net1,net2"
MODULES = {
    "measure-efficiency": "measure_efficiency",
    "aggregate-efficiency": "aggregate_efficiency",
    "analyze-efficiency-distribution": "analyze_efficiency_distribution",
    "calibrate-hardware": "calibrate_hardware",
    "validate-calibration": "validate_calibration",
    "visualize-efficiency": "visualize_efficiency",
    "audit-calibration": "audit_calibration",
}


def run_script(
    script: str, *args: str, wrapper: bool = False, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``script`` as a process: ``python -m estimator.cli.<module>`` or the calibration/ file."""
    mod = MODULES[script]
    cmd = [str(REPO / "calibration" / f"{mod}.py")] if wrapper else ["-m", f"estimator.cli.{mod}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTIMATOR_")}
    return subprocess.run(
        [sys.executable, *cmd, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], script: str, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{script}: error: "), proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results store holding a few sweep kernels and three networks at one thread."""
    from estimator.calibration.collect import Budget, collect, models_dir

    db = tmp_path_factory.mktemp("calib") / "results.sqlite"
    folder = models_dir(db)
    paths = calibration_models(folder, CASES)
    tiny = Budget(warmup=2, min_time_s=0.03, profile_runs=5, max_profile_runs=20, min_repeats=5)
    collect(paths, db, 1, budget=tiny, progress=False)
    return db


@pytest.fixture
def device(tmp_path: Path) -> Path:
    """A registry folder with a copy of the device's hardware.json (calibrations write there)."""
    dev = tmp_path / "reg" / "cpu" / HW
    dev.mkdir(parents=True)
    shutil.copy(REPO / "hardware_registry" / "cpu" / HW / "hardware.json", dev)
    return dev


@pytest.mark.parametrize("script", sorted(MODULES))
def test_help(script: str) -> None:
    for wrapper in (False, True):
        proc = run_script(script, "--help", wrapper=wrapper)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"usage: {script}") and "--debug" in proc.stdout


def test_calibrate_then_validate_audit_aggregate_plot(
    store: Path, device: Path, tmp_path: Path
) -> None:
    common = ["--hw", HW, "--db", str(store), "--threads", "1"]
    proc = run_script(
        "calibrate-hardware",
        *common,
        "--no-measure",
        "--zoo",
        NETS,
        "--out",
        str(device),
        "--note",
        "t",
        wrapper=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "categories fitted" in proc.stdout and "R2=" in proc.stdout
    curves = device / "efficiency_curves.json"
    assert f"wrote {curves}" in proc.stdout
    assert "3 networks" in proc.stderr  # progress lines go to stderr

    out = tmp_path / "v.json"
    proc = run_script(
        "validate-calibration", *common, "--models", NETS, "--max-median-error", "50", "--json",
        str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["1"]["metrics"]["n"] == 3
    missed = run_script("validate-calibration", *common, "--models", NETS, "--min-coverage", "1.01")
    assert missed.returncode == 1 and "FAIL threads=1" in missed.stdout

    shipped = REPO / "hardware_registry" / "cpu" / HW / "efficiency_curves.json"
    proc = run_script("audit-calibration", str(shipped), str(curves))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()

    bins = tmp_path / "bins.json"
    proc = run_script("aggregate-efficiency", *common, "--json", str(bins))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# threads=1: ") and json.loads(bins.read_text())

    proc = run_script("analyze-efficiency-distribution", *common)
    assert proc.returncode == 0, proc.stderr
    assert "residual = log(measured / fitted kernel time)" in proc.stdout


def test_visualize_efficiency_writes_pngs(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    common = ["--hw", HW, "--db", str(store), "--threads", "1"]
    proc = run_script("visualize-efficiency", *common, "--out", str(tmp_path / "png"))
    assert proc.returncode == 0, proc.stderr
    files = [Path(line) for line in proc.stdout.split()]
    assert files and all(f.suffix == ".png" and f.is_file() for f in files)
    assert any(f.name.startswith("roofline_") for f in files)
    bad = run_script("visualize-efficiency", *common, "--out", str(tmp_path), "--model", "nope")
    _one_line_error(bad, "visualize-efficiency", "--model nope")


def test_measure_efficiency_quick_then_resume(tmp_path: Path) -> None:
    """The quick sweep grid, no zoo network, one extra ONNX file; a second run reuses them."""
    db = tmp_path / "r.sqlite"
    args = ["--db", str(db), "--quick", "--zoo", "none", "--min-time", "0.01"]
    proc = run_script(
        "measure-efficiency", *args, "--onnx", str(REPO / "examples/tiny_convnet.onnx")
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith("threads=1: measured ") and line.endswith(f"store {db}")
    assert (db.parent / "calibration_models" / "zoo__tiny_convnet.onnx").is_file()
    again = run_script("measure-efficiency", *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("threads=1: measured 0, already stored ")


def test_few_shot_calibration_prints_the_fit(tmp_path: Path) -> None:
    from estimator.transfer import estimate_nb201
    from estimator.zoo.nb201 import random_archs

    archs = random_archs(12, seed=3)
    y = 4.0 * estimate_nb201("titan-x-pascal", archs, batch=1).latency_ms
    csv_path = tmp_path / "lat.csv"
    csv_path.write_text(
        "model,latency_ms\n" + "".join(f"{a},{v:.4f}\n" for a, v in zip(archs, y, strict=True))
    )
    args = ["--hw", "titan-x-pascal", "--runtime", "pytorch-eager", "--out", str(tmp_path)]
    proc = run_script(
        "calibrate-hardware", *args, "--from-latencies", str(csv_path), "--shots", "8"
    )
    assert proc.returncode == 0, proc.stderr
    assert "on k=8 measurements" in proc.stdout and "device_sigma" in proc.stdout
    written = tmp_path / "gpu" / "titan-x-pascal" / "efficiency_curves.json"
    assert f"wrote {written}" in proc.stdout
    zero = run_script(
        "calibrate-hardware", *args, "--from-latencies", str(csv_path), "--shots", "0"
    )
    _one_line_error(zero, "calibrate-hardware", "fits nothing")
    bad = tmp_path / "bad.csv"
    bad.write_text("model,latency_ms\n|nor_conv_3x3~0|+|x~0|none~1|+|none~0|none~1|none~2|,1\n")
    proc = run_script("calibrate-hardware", *args, "--from-latencies", str(bad))
    _one_line_error(proc, "calibrate-hardware", "line 2")


@pytest.mark.parametrize(
    ("script", "args", "needle"),
    [
        ("measure-efficiency", ["--threads", "x"], "--threads"),
        ("aggregate-efficiency", ["--hw", "no-such-device"], "no-such-device"),
        ("analyze-efficiency-distribution", ["--hw", HW, "--threads", "0"], "--threads"),
        ("calibrate-hardware", ["--hw", HW, "--runtime", "tvm"], "only onnxruntime"),
        ("validate-calibration", ["--hw", "no-such-device"], "no-such-device"),
        ("visualize-efficiency", ["--hw", HW, "--out", "x", "--threads", "0"], "--threads"),
        ("audit-calibration", ["missing-a.json", "missing-b.json"], "missing-a.json"),
    ],
)
def test_user_errors_are_one_line_and_debug_shows_the_traceback(
    script: str, args: list[str], needle: str, tmp_path: Path
) -> None:
    proc = run_script(script, *args, cwd=tmp_path)
    _one_line_error(proc, script, needle)
    debug = run_script(script, *args, "--debug", cwd=tmp_path)
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith(f"{script}: error: ")


def test_empty_store_is_a_user_error(tmp_path: Path) -> None:
    db = str(tmp_path / "empty.sqlite")
    proc = run_script("aggregate-efficiency", "--hw", HW, "--db", db)
    _one_line_error(proc, "aggregate-efficiency", "no calibration measurements at threads=1")


def test_interrupt_keeps_measurements_and_other_errors_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from estimator.calibration import pipeline
    from estimator.cli import audit_calibration, measure_efficiency

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "measure_models", interrupted)
    assert measure_efficiency.main(["--db", str(tmp_path / "r.sqlite")]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "measure-efficiency: interrupted (measurements so far are kept)"

    from estimator.calibration import audit

    def broken(*args: object, **kwargs: object) -> None:
        raise EstimatorError("the audit broke")

    monkeypatch.setattr(audit, "diff_paths", broken)
    (tmp_path / "a.json").write_text("{}")
    assert audit_calibration.main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 1
    assert capsys.readouterr().err.strip() == "audit-calibration: error: the audit broke"
