"""``estimate-server`` as a user runs it: bad flags are one line and exit 2 (the server itself is
exercised in tests/service/, started by this same script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("estimate-server")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_help() -> None:
    r = _run("--help")
    assert r.returncode == 0 and "--token-file" in r.stdout and "--max-upload-mb" in r.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "0"], "positive integer"),
        (["--port", "70000"], "65535"),
        (["--registry", "/no/such/folder"], "no such folder"),
        (["--max-upload-mb", "nan"], "finite"),
    ],
)
def test_bad_flags_exit_2(args: list[str], says: str) -> None:
    r = _run(*args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_short_token_file_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("short\n")
    r = _run("--registry", str(tmp_path), "--token-file", str(token), "--port", "1")
    assert r.returncode == 2 and "at least 16 characters" in r.stderr
