"""Trace parsing on a hand-written onnxruntime profile with known durations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.measure.profile import (
    KernelTime,
    node_times,
    parse_ort_trace,
    resolve_sources,
    source_name,
)


def _run(ts: int, dur: int) -> dict[str, object]:
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}


def _kernel(node: str, op: str, ts: int, dur: int) -> dict[str, object]:
    return {
        "cat": "Node",
        "name": f"{node}_kernel_time",
        "ts": ts,
        "dur": dur,
        "args": {"op_name": op},
    }


def test_parse_skips_warmup_and_averages(tmp_path: Path) -> None:
    events = [
        _run(0, 100),  # warmup run: its kernels must not count
        _kernel("conv0", "Conv", 10, 500),
        _run(200, 100),
        _kernel("conv0", "Conv", 210, 40),
        {"cat": "Node", "name": "conv0_fence_before", "ts": 205, "dur": 1, "args": {}},
        _kernel("relu0", "Relu", 260, 6),
        _run(400, 100),
        _kernel("conv0", "Conv", 410, 60),
        _kernel("relu0", "Relu", 460, 10),
        _kernel("relu0", "Relu", 470, 2),  # a node may run twice in one run
    ]
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(events))
    rows = parse_ort_trace(path, skip_runs=1)
    by = {r.node_name: r for r in rows}
    # conv0: (40 + 60) / 2 kept runs = 50 us; relu0: (6 + 10 + 2) / 2 = 9 us, 3 calls
    assert by["conv0"] == KernelTime("conv0", "Conv", 50.0, 2)
    assert by["relu0"] == KernelTime("relu0", "Relu", 9.0, 3)
    assert [r.node_name for r in rows] == ["conv0", "relu0"]  # sorted by time
    assert node_times(rows) == {"conv0": 50.0, "relu0": 9.0}


def test_parse_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match=r"x\.json"):
        parse_ort_trace(p)


def test_source_name() -> None:
    assert source_name("fused mm0/MatMulAddFusion") == "mm0"
    assert source_name("fused /layer1/conv/Conv_token_3") == "/layer1/conv/Conv"
    assert source_name("/layer1/conv/Conv") == "/layer1/conv/Conv"


def test_resolve_sources_by_hand() -> None:
    # ONNX graph: conv0 -> t0, clip0 -> t1 (Conv+Clip fused by ORT into "t1_nchwc"),
    # mm0 + add0 fused into "fused mm0/MatMulAddFusion", relu0 untouched, ReorderOutput inserted
    names = {"conv0", "clip0", "mm0", "add0", "relu0"}
    producers = {"t0": "conv0", "t1": "clip0", "t2": "mm0", "t3": "add0", "t4": "relu0"}
    rows = [
        KernelTime("t1_nchwc", "Conv", 5.0, 1),
        KernelTime("fused mm0/MatMulAddFusion", "FusedGemm", 3.0, 1),
        KernelTime("relu0", "Relu", 1.0, 1),
        KernelTime("relu0_token_7", "Relu", 0.5, 1),
        KernelTime("ReorderOutput", "ReorderOutput", 0.25, 1),
    ]
    got = resolve_sources(rows, names, producers)
    assert [r.source for r in got] == ["clip0", "mm0", "relu0", "relu0", None]
    # node_times keys on ONNX names, summing rows that map to the same node
    assert node_times(got) == {"clip0": 5.0, "mm0": 3.0, "relu0": 1.5, "ReorderOutput": 0.25}
