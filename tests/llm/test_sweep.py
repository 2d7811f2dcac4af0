"""Sweep specs, sweep tables and the two PNGs."""

from __future__ import annotations

from pathlib import Path

import pytest

from estimator.errors import InputError
from estimator.llm import Generation, Workload, estimate_generation
from estimator.llm.sweep import parse_sweep, plot_sweep, run_sweep
from estimator.report.generation_report import generation_table, sweep_json, sweep_table


def test_parse_sweep() -> None:
    assert parse_sweep("prompt=128:4096") == ("prompt", [128, 256, 512, 1024, 2048, 4096])
    assert parse_sweep("batch=1:64") == ("batch", [1, 2, 4, 8, 16, 32, 64])
    assert parse_sweep("batch=3:10") == ("batch", [3, 6, 10])
    assert parse_sweep("images=0,1,4") == ("images", [0, 1, 4])
    for bad in ("prompt", "seq=1:4", "prompt=8:4", "prompt=a:b", "batch=1:99999999999"):
        with pytest.raises(InputError, match="--sweep"):
            parse_sweep(bad)


def test_sweep_table_and_plots(tmp_path: Path) -> None:
    def one(w: Workload) -> Generation:
        return estimate_generation("tiny_llama", "h100", prompt=w.prompt, generate=4, batch=w.batch)

    knob, values = parse_sweep("batch=1:4")
    results = run_sweep(knob, values, Workload(prompt=16, generate=4), one)
    assert [r.batch for r in results] == [1, 2, 4]
    text = sweep_table(knob, values, results)
    assert "TTFT" in text and "prefill %" in text and "decode %" in text
    assert '"parameter": "batch"' in sweep_json(knob, values, results)
    paths = plot_sweep(knob, values, results, tmp_path / "plots")
    assert [p.name for p in paths] == [
        "tiny_llama_h100_batch_stages.png",
        "tiny_llama_h100_batch_tpot.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = generation_table(results[-1])
    assert "TTFT" in report and "decode steps" in report and "fits: yes" in report
