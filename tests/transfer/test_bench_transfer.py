"""tools/bench_transfer.py in --quick mode on a synthetic latency table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from estimator.transfer import estimate_nb201
from estimator.zoo.nb201 import random_archs

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_transfer.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_transfer", TOOL)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_transfer", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _table(tmp_path: Path, n: int = 120) -> Path:
    archs = random_archs(n, seed=12)
    # a device 4x slower than the GPU prior, with 2% noise: the fit must rank it well
    y = 4.0 * estimate_nb201("gtx-1080-ti", archs).latency_ms
    y *= np.exp(np.random.default_rng(0).normal(0, 0.02, n))
    lines = ["nb201_index,arch_str,1080ti_1"]
    lines += [f"{i},{a},{v:.4f}" for i, (a, v) in enumerate(zip(archs, y, strict=True))]
    p = tmp_path / "latency_ms.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_quick_run_writes_tables(tmp_path: Path) -> None:
    tool = _tool()
    csv_path = _table(tmp_path)
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    argv = ["--csv", str(csv_path), "--quick", "--pool", "0:60", "--query", "60:120"]
    rc = tool.main([*argv, "--out", str(md), "--json", str(js)])
    assert rc == 0
    text = md.read_text()
    assert "| 1080ti_1 | gtx-1080-ti |" in text and "Targets at k=10" in text
    data = json.loads(js.read_text())
    col = data["columns"][0]
    # trimming to the 10th-90th percentile keeps 48-49 of 60 rows (np.percentile interpolates)
    assert 46 <= col["n_pool"] <= 50
    assert np.mean(col["rho"]["10"]) > 0.9
    assert np.mean(col["rho"]["10"]) > col["flops_rho"]
    assert np.mean(col["mape"]["10"]) < 0.05
    assert len(col["rho"]["10"]) == 2 and len(col["rho"]["0"]) == 1
    # the generic regression on the same draws: one value per draw, only where k > 6 coefficients
    assert list(col["opcount_rho"]) == ["10"] and len(col["opcount_rho"]["10"]) == 2
    assert -1.0 <= col["edge_position_rho"] <= 1.0 and "per-edge rho" in text


def test_edge_position_onehot_marks_one_op_per_edge() -> None:
    tool = _tool()
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    (row,) = tool.edge_position_onehot([arch])
    ops = list(tool.OPS)
    expected = np.zeros(6 * len(ops) + 1)
    names = ["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"]
    for e, op in enumerate(names):
        expected[e * len(ops) + ops.index(op)] = 1.0
    expected[-1] = 1.0
    assert row.tolist() == expected.tolist()


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _tool()
    csv_path = _table(tmp_path, n=20)
    assert tool.main(["--csv", str(csv_path), "--quick"]) == 2
    assert "protocol needs 1900" in capsys.readouterr().err
    argv = ["--csv", str(csv_path), "--pool", "0:10", "--query", "10:20", "--columns", "nope"]
    assert tool.main(argv) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_lodo_quick_run_scores_each_column_under_the_others_prior(tmp_path: Path) -> None:
    tool = _tool()
    archs = random_archs(120, seed=13)
    base = estimate_nb201("gtx-1080-ti", archs).latency_ms
    rng = np.random.default_rng(1)
    cols = {"1080ti_1": 4.0 * base, "titanx_1": 3.5 * base}
    lines = ["nb201_index,arch_str," + ",".join(cols)]
    for i, a in enumerate(archs):
        vals = ",".join(f"{v[i] * np.exp(rng.normal(0, 0.02)):.4f}" for v in cols.values())
        lines.append(f"{i},{a},{vals}")
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    md, js = tmp_path / "l.md", tmp_path / "l.json"
    argv = ["--csv", str(csv_path), "--lodo", "--quick", "--pool", "0:60", "--query", "60:120"]
    assert tool.main([*argv, "--out", str(md), "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    by = {d["device"]: d for d in data["devices"]}
    assert by["1080ti_1"]["training_devices"] == ["titanx_1"]
    assert by["titanx_1"]["training_devices"] == ["1080ti_1"]
    for d in by.values():
        assert np.mean(d["rho"]["10"]) > max(0.9, d["flops_rho"])
        assert len(d["rho"]["10"]) == 2 and len(d["base_rho"]["10"]) == 2
    assert "Leave-one-device-out" in md.read_text()
