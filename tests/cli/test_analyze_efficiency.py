"""``analyze-efficiency`` run as a user runs it: the console script, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from estimator.zoo.nb201_ir import random_archs

SCRIPT = Path(sys.executable).parent / "analyze-efficiency"
ARCHS = random_archs(16, seed=4)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTIMATOR_")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


@pytest.fixture()
def wide(tmp_path: Path) -> Path:
    """16 NB201 networks on three registry columns; latencies grow with the conv count, with a
    per-column twist so rankings differ."""
    lines = ["nb201_index,arch_str,1080ti_1,silver_4114,pixel3"]
    for i, a in enumerate(ARCHS):
        c3, c1, pool = a.count("conv_3x3"), a.count("conv_1x1"), a.count("pool")
        gpu = 5.0 + 0.2 * (c3 + c1) + 0.3 * pool + 0.01 * i
        cpu = 2.0 + 3.0 * c3 + 0.5 * c1 + 0.2 * pool + 0.01 * i
        phone = float(round(10 + 8 * c3 + c1 + 2 * pool))
        lines.append(f"{i},{a},{gpu:.3f},{cpu:.3f},{phone:.0f}")
    p = tmp_path / "latency.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_every_analysis_and_the_report_files(wide: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    analyses = "frm,stability,rank-transfer,estimate-transfer,disagreements,snr"
    proc = run(
        str(wide),
        "--analyses",
        analyses,
        "--shots",
        "0,3",
        "--draws",
        "2",
        "--out",
        str(out),
        "--format",
        "json",
        "--table-csv",
        str(tmp_path / "tidy.csv"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["models"] == 16 and doc["devices"] == ["1080ti_1", "silver_4114", "pixel3"]
    assert doc["baseline_invariance"]["invariant"] is True
    types = {d["device"]: d["type"] for d in doc["rank_transfer"]["devices"]}
    assert types == {"1080ti_1": "gpu", "silver_4114": "cpu", "pixel3": "mobile"}
    assert doc["rank_transfer"]["model_pairs"] == 16 * 15 // 2
    assert {t["device"] for t in doc["estimate_transfer"]["targets"]} == set(types)
    assert doc["frm"]["components"] == ["flops", "latency_ms"]  # FLOPs from the cost model
    for name in (
        "report.md",
        "report.json",
        "rank_transfer.png",
        "disagreements.png",
        "frm_vs_flops.png",
        "rank_transfer_spearman.csv",
        "disagreements.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "rank_transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.md").read_text()
    assert "## Guide" in page and "Best source per target" in page
    tidy = (tmp_path / "tidy.csv").read_text().splitlines()
    assert tidy[0] == "model,device,latency_ms,flops,params" and len(tidy) == 1 + 16 * 3


def test_text_report_and_named_skips(wide: Path, tmp_path: Path) -> None:
    proc = run(str(wide), "--analyses", "snr,pareto,rank-transfer", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Signal-to-noise: inter-model range" in proc.stdout
    assert "skipped pareto: Pareto transfer needs an accuracy column" in proc.stdout


def test_bad_input_is_one_line_and_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model,device,latency_ms\na,x,1\na,x,2\n")
    proc = run(str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "line 3: duplicate row for model 'a' on device 'x'" in proc.stderr
    proc = run("x.csv", "--analyses", "frm,nonsense", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown analysis 'nonsense'" in proc.stderr
    proc = run(str(tmp_path / "missing.csv"), cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_help_tells_it_apart_from_the_calibration_tool(tmp_path: Path) -> None:
    proc = run("--help", cwd=tmp_path)
    # argparse may wrap the name at its hyphens
    assert proc.returncode == 0 and "analyze-efficiency-distribution" in "".join(
        proc.stdout.split()
    )
