"""tools/bench_mbspace.py: bad CSV rows are one line naming file and line, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_mbspace.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False
    )


def test_bad_rows_name_the_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("model,code,threads,latency_ms\nmbspace-0-00000,x,1,0.5\nmbspace-0-00001,x,1,-2\n")
    r = _run("bench", "--csv", str(p))
    assert r.returncode == 2
    assert f"{p}, line 3: latency_ms must be > 0" in r.stderr and "Traceback" not in r.stderr
    p.write_text("model,threads,latency_ms\n")
    r = _run("bench", "--csv", str(p))
    assert r.returncode == 2 and "missing column(s) code" in r.stderr
    r = _run("bench", "--csv", str(tmp_path / "none.csv"))
    assert r.returncode == 2 and "none.csv: cannot read" in r.stderr
