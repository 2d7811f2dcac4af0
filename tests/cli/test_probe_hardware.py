"""``probe-hardware``, ``estimate-latency --hw host [--probe]`` and ``visualize-efficiency
--roofline`` on this machine, run as a user runs them, against a user registry and data folder
of their own (the machine is unknown to both, whatever the shipped registry or the user's own
data folder say). Quick probes at one thread: a few seconds each."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from estimator.registry.loader import read_hardware_file, schema_problem

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "examples" / "tiny_convnet.onnx"


def _shipped_without_cpus(tmp: Path) -> Path:
    """The shipped registry without the development VMs' CPU entries (CI may draw one of those
    machines); desktop CPUs stay for the tests that name one."""
    out = tmp / "builtin-registry"
    if not out.is_dir():
        src = REPO / "hardware_registry"

        def vms(folder: str, names: list[str]) -> list[str]:
            return [n for n in names if "vm" in n] if Path(folder) == src / "cpu" else []

        shutil.copytree(src, out, ignore=vms)
    return out


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTIMATOR_")}
    env.update(XDG_DATA_HOME=str(tmp / "xdg"), HOME=str(tmp / "home"), MPLBACKEND="Agg")
    env["ESTIMATOR_BUILTIN_REGISTRY"] = str(_shipped_without_cpus(tmp))
    return env


def _run(
    tmp: Path, module: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"estimator.cli.{module}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(tmp),
        cwd=tmp,
    )


@pytest.fixture(scope="module")
def probed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("probe")
    registry = tmp / "registry"
    registry.mkdir()
    proc = _run(tmp, "probe_hardware", "--quick", "--threads", "1", "--registry", str(registry))
    return tmp, registry, proc


def test_probe_writes_a_schema_valid_entry(
    probed: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    _, registry, proc = probed
    assert proc.returncode == 0, proc.stderr
    files = list(registry.glob("cpu/*/hardware.json"))
    assert len(files) == 1 and f"wrote {files[0]}" in proc.stdout
    doc = json.loads(files[0].read_text())
    assert schema_problem("hardware.schema.json", doc) is None
    hw = read_hardware_file(files[0])
    m = hw.measured
    assert m is not None and m.quick and m.threads == [1]
    assert m.command == "probe-hardware --threads 1 --quick"
    fma = m.best_compute("fp32", 1)
    assert fma is not None and fma.gflops > 0 and fma.runs >= 5
    # bf16 is timed through torch where the CPU has bf16 dot products (avx512_bf16, amx_bf16)
    bf16 = "bf16" in m.machine.dot_products
    assert {c.method for c in m.compute} == {"register_fma", "onnxruntime_gemm"} | (
        {"torch_gemm"} if bf16 else set()
    )
    assert ("bf16" in hw.peak_gflops) == bf16
    levels = {b.level for b in m.bandwidth}
    assert "DRAM" in levels and ("L1" in levels or not m.machine.caches)
    # the engine's fields are the measured ones, and say so
    assert hw.peak_gflops["fp32"].derivation.startswith("measured on this machine")
    dram = m.level_bandwidth("DRAM", 1)
    assert dram is not None and hw.memory.per_core_bandwidth_gbs == round(dram.gbs, 2)
    assert "measured roofline (quick probe" in proc.stdout


def test_the_entry_matches_this_machine(
    probed: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp, registry, _ = probed
    load = f"load_hardware('host', {str(registry)!r})"
    code = f"from estimator.registry import load_hardware; print({load}.id)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.parent.name for p in registry.glob("cpu/*/hardware.json")] == [proc.stdout.strip()]


def test_an_existing_entry_is_not_replaced_without_force(
    probed: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp, registry, _ = probed
    path = next(registry.glob("cpu/*/hardware.json"))
    before = path.read_bytes()
    proc = _run(tmp, "probe_hardware", "--quick", "--threads", "1", "--registry", str(registry))
    assert proc.returncode == 2
    assert (
        proc.stderr.count("\n") == 1
        and "already exists" in proc.stderr
        and "--force" in proc.stderr
    )
    assert "probe:" not in proc.stderr  # refused before measuring anything
    assert path.read_bytes() == before


def test_an_interrupted_probe_writes_nothing(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "estimator.cli.probe_hardware",
            "--quick",
            "--threads",
            "1",
            "--registry",
            str(registry),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        # Ctrl-C as at a terminal: a runner started in the background passes SIGINT down
        # ignored, and Python keeps an inherited SIG_IGN (it then never sees the signal)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "probe: FMA loop and ...": measuring has begun
    assert line.startswith("probe:"), line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "probe-hardware: interrupted" in err
    assert list(registry.iterdir()) == []  # no device folder, no temp folder, no partial file


def test_estimate_for_an_unknown_host_names_the_command(tmp_path: Path) -> None:
    empty = tmp_path / "registry"
    empty.mkdir()
    proc = _run(tmp_path, "estimate_latency", str(TINY), "--hw", "host", "--registry", str(empty))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "no registry entry matches this machine" in proc.stderr
    assert "calibrate-hardware --hw host" in proc.stderr and "--probe" in proc.stderr


def test_estimate_with_probe_is_uncalibrated_and_writes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "registry"
    empty.mkdir()
    proc = _run(
        tmp_path,
        "estimate_latency",
        str(TINY),
        "--hw",
        "host",
        "--probe",
        "--threads",
        "1",
        "--registry",
        str(empty),
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)
    assert est["calibrated"] is False and est["threads"] == 1 and est["latency_ms"] > 0
    assert any(n.startswith("roofline measured just now by a quick probe") for n in est["notes"])
    assert list(empty.iterdir()) == [] and not (tmp_path / "xdg").exists()


def test_visualize_the_measured_roofline(
    probed: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp, registry, _ = probed
    dev = next(registry.glob("cpu/*/hardware.json")).parent.name
    out = tmp / "plots"
    proc = _run(
        tmp,
        "visualize_efficiency",
        "--hw",
        dev,
        "--registry",
        str(registry),
        "--threads",
        "1",
        "--db",
        str(tmp / "empty.sqlite"),
        "--roofline",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    png = out / "threads1" / "roofline_measured.png"
    assert proc.stdout.strip() == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no calibration kernels at threads=1" in proc.stderr
    proc = _run(
        tmp,
        "visualize_efficiency",
        "--hw",
        "i7-12700K",
        "--threads",
        "1",
        "--roofline",
        "--db",
        str(tmp / "empty.sqlite"),
        "--out",
        str(out),
    )
    assert proc.returncode == 2 and "has no measured roofline" in proc.stderr
    assert proc.stderr.count("\n") == 1
