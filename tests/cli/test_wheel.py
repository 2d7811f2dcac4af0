"""The built wheel works on its own: installed into a fresh venv, run from a foreign folder.

Only ``estimator*`` (and the shipped ``hardware_registry``) go into the wheel, so anything that
still reaches into the checkout (``tools/``, ``examples/``) fails here. The fresh venv sees the dev
venv's third-party packages through a ``.pth`` line, not the editable install of this project:
a path line in a ``.pth`` file adds the folder to ``sys.path`` but the ``.pth`` files inside it
(the editable finder's hook) are never run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
SCRIPTS = [
    "estimate-latency",
    "measure-latency",
    "measure-efficiency",
    "aggregate-efficiency",
    "analyze-efficiency-distribution",
    "calibrate-hardware",
    "validate-calibration",
    "visualize-efficiency",
    "audit-calibration",
    "probe-hardware",
    "estimate-server",
    "analyze-efficiency",
]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the fresh venv's bin folder, a user's environment) with the wheel installed."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("the test venv has no pip")
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy: `pip wheel .` writes build/ and *.egg-info into the source folder.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.bak-*")
    for name in ("estimator", "hardware_registry"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip"]
    cmd = [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)]
    _run(cmd, tmp, dict(os.environ))
    (wheel,) = dist.glob("roofline_estimator-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, dict(os.environ))
    py = venv / "bin" / "python"
    # Install first, expose the dev dependencies after: pip never sees the editable project.
    _run(
        [*pip, "--python", str(py), "install", "--no-deps", "-q", str(wheel)], tmp, dict(os.environ)
    )
    fresh = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    dev = Path(sysconfig.get_paths()["purelib"])
    assert not (dev / "estimator").exists()  # the dev venv holds the project only as editable
    (fresh / "_dev_dependencies.pth").write_text(f"{dev}\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ESTIMATOR_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ESTIMATOR_DB"] = str(tmp / "results.sqlite")
    return venv / "bin", env


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    work = tmp_path / "user"
    work.mkdir()
    return work


def test_package_comes_from_the_wheel(
    installed: tuple[Path, dict[str, str]], user_dir: Path
) -> None:
    bindir, env = installed
    code = (
        "import sys, estimator; from estimator.registry.loader import builtin_registry; "
        "from estimator.partition.rules import FUSION_DIR; "
        "print(estimator.__file__); print(builtin_registry()); print(FUSION_DIR); "
        "print(any('editable' in m for m in sys.modules))"
    )
    out = _run([str(bindir / "python"), "-c", code], user_dir, env).stdout.split()
    venv = bindir.parent.resolve()
    assert all(Path(p).resolve().is_relative_to(venv) for p in out[:3]), out
    assert out[3] == "False"
    for script in SCRIPTS:
        assert (bindir / script).is_file(), script


def test_estimate_latency_from_the_wheel(
    installed: tuple[Path, dict[str, str]], user_dir: Path
) -> None:
    bindir, env = installed
    shutil.copy2(REPO / "examples" / "tiny_convnet.onnx", user_dir)
    proc = _run(
        [str(bindir / "estimate-latency"), "tiny_convnet.onnx", "--hw", "i7-12700K"], user_dir, env
    )
    assert "i7-12700K" in proc.stdout and "ms" in proc.stdout


@pytest.mark.parametrize(
    "script",
    [
        "calibrate-hardware",
        "validate-calibration",
        "measure-latency",
        "audit-calibration",
        "estimate-server",
    ],
)
def test_console_script_help(
    installed: tuple[Path, dict[str, str]], user_dir: Path, script: str
) -> None:
    bindir, env = installed
    proc = _run([str(bindir / script), "--help"], user_dir, env)
    assert proc.stdout.startswith(f"usage: {script}") and "--debug" in proc.stdout


def test_zoo_export_from_the_wheel(installed: tuple[Path, dict[str, str]], user_dir: Path) -> None:
    bindir, env = installed
    code = (
        "import onnx; from estimator.zoo.export import export; "
        f"p = export('nb201:{ARCH}', 'out'); onnx.checker.check_model(onnx.load(str(p))); print(p)"
    )
    proc = _run([str(bindir / "python"), "-c", code], user_dir, env)
    assert proc.stdout.strip() == str(Path("out") / "nb201-c3-p-c1-s-n-c3.onnx")
    assert (user_dir / "out" / "nb201-c3-p-c1-s-n-c3.onnx").is_file()
