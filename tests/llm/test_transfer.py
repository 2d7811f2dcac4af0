"""Fitting a device from k measured generations (estimator.llm.transfer, tools/llm_transfer.py):
a synthetic device made from known scales is recovered, the MAP shrinkage is the hand-computed
one, one end-to-end row moves both scales, and bad CSV input names its row."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from estimator.errors import InputError
from estimator.llm.transfer import (
    Base,
    Measurement,
    base_estimate,
    fit,
    prior_taus,
    read_measurements,
)

HW = "h100"
COMPUTE, BANDWIDTH = 1.3, 0.8  # the synthetic device: prefill 30% slower, decode 20% faster
SHAPES = [(16, 1), (32, 2), (64, 1), (16, 4), (48, 2), (24, 3)]


@pytest.fixture(scope="module")
def bases() -> list[tuple[Measurement, Base]]:
    out = []
    for i, (prompt, batch) in enumerate(SHAPES, start=2):
        m = Measurement("tiny_llama", prompt=prompt, batch=batch, generate=6, row=i)
        out.append((m, base_estimate(m, HW, None)))
    return out


def _synthetic(pairs: list[tuple[Measurement, Base]]) -> list[tuple[Measurement, Base]]:
    return [
        (
            Measurement(
                m.model,
                m.prompt,
                m.batch,
                m.generate,
                row=m.row,
                ttft_ms=COMPUTE * b.ttft_ms,
                tpot_ms=BANDWIDTH * b.tpot_ms,
            ),
            b,
        )
        for m, b in pairs
    ]


def test_known_scales_are_recovered(bases: list[tuple[Measurement, Base]]) -> None:
    data = _synthetic(bases)
    tau_c, tau_b, sigma = prior_taus(HW, None, "fp16")
    assert tau_c > 0 and tau_b > 0 and sigma > 0  # read off the registry's GPU prior
    # nearly noise-free measurements: the data decide
    f = fit(data, (tau_c, tau_b), 1e-4)
    assert f.compute_scale == pytest.approx(COMPUTE, rel=1e-6)
    assert f.bandwidth_scale == pytest.approx(BANDWIDTH, rel=1e-6)
    # with the device's sigma the prior pulls toward 1 by the hand-computed MAP factor: for
    # k rows, each measuring log(scale) exactly, a = k log(scale) / (k + sigma^2 / tau^2)
    for k in (1, 2, 6):
        f = fit(data[:k], (tau_c, tau_b), sigma)
        assert f.a_compute == pytest.approx(k * math.log(COMPUTE) / (k + (sigma / tau_c) ** 2))
        assert f.a_bandwidth == pytest.approx(k * math.log(BANDWIDTH) / (k + (sigma / tau_b) ** 2))
    assert fit([], (tau_c, tau_b), sigma).compute_scale == 1.0  # k = 0: the prior


def test_one_end_to_end_row_moves_both(bases: list[tuple[Measurement, Base]]) -> None:
    m, b = bases[1]
    slower = 1.2 * (b.ttft_ms + (b.generate - 1) * b.tpot_ms)
    row = Measurement(m.model, m.prompt, m.batch, m.generate, e2e_ms=slower, row=m.row)
    tau_c, tau_b, sigma = prior_taus(HW, None, "fp16")
    f = fit([(row, b)], (tau_c, tau_b), sigma)
    assert f.a_compute > 0 and f.a_bandwidth > 0
    pred = f.predict(b)["e2e_ms"]
    assert b.ttft_ms + (b.generate - 1) * b.tpot_ms < pred < slower  # toward it, not past it


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rows.csv"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model,prompt,batch,ttft_ms\ntiny_llama,16,1,2.0\ntiny_llama,x,1,2.0\n",
         r"row 3: prompt must be a positive integer, got 'x'"),
        ("model,prompt,batch,ttft_ms\ntiny_llama,16,1,-2\n",
         r"row 2: ttft_ms must be a positive number, got '-2'"),
        ("model,prompt,batch,ttft_ms\ntiny_llama,16,1,\n", r"row 2: no measured latency"),
        ("model,prompt,batch,e2e_ms\ntiny_llama,16,1,9\n", r"row 2: e2e_ms needs generate"),
        ("model,prompt,batch,speed\ntiny_llama,16,1,9\n", r"unknown column 'speed'"),
        ("model,batch,ttft_ms\ntiny_llama,1,9\n", r"missing column 'prompt'"),
        ("model,prompt,batch,ttft_ms\n,16,1,9\n", r"row 2: model is empty"),
        ("model,prompt,batch,ttft_ms\n", r"no rows"),
    ],
)  # fmt: skip
def test_csv_errors_name_the_row(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as err:
        read_measurements(_write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_a_row_the_estimator_refuses_is_named(tmp_path: Path) -> None:
    rows = read_measurements(
        _write(tmp_path, "model,prompt,batch,ttft_ms\ntiny_llama,16,1,2\nnope.json,16,1,2\n")
    )
    with pytest.raises(InputError, match=r"^row 3: .*nope.json"):
        base_estimate(rows[1], HW, None)


@pytest.fixture(scope="module")
def tool(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "llm_transfer", repo_root / "tools/llm_transfer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["llm_transfer"] = module
    spec.loader.exec_module(module)
    return module


def test_tool_scores_error_against_k(
    tool: ModuleType, bases: list[tuple[Measurement, Base]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    lines = ["model,hardware,prompt,generate,batch,ttft_ms,tpot_ms"]
    for m, _ in _synthetic(bases[:4]):
        lines.append(f"tiny_llama,{HW},{m.prompt},6,{m.batch},{m.ttft_ms},{m.tpot_ms}")
    csv_path = _write(tmp_path, "\n".join(lines) + "\n")
    assert tool.main(["--csv", str(csv_path), "--k", "0,1,3", "--out", str(tmp_path / "t")]) == 0
    doc = (tmp_path / "t.json").read_text()
    summary = {s["k"]: s["median_abs"] for s in json.loads(doc)["summary"]}
    assert set(summary) == {0, 1, 3}
    # the prior misses by the synthetic scales; fitted on the other rows it misses less
    assert summary[0]["ttft_ms"] == pytest.approx(1 - 1 / COMPUTE, rel=1e-6)
    assert summary[0]["tpot_ms"] == pytest.approx(1 / BANDWIDTH - 1, rel=1e-6)
    assert summary[3]["ttft_ms"] < summary[1]["ttft_ms"] < summary[0]["ttft_ms"]
    assert summary[3]["tpot_ms"] < summary[1]["tpot_ms"] < summary[0]["tpot_ms"]
    assert summary[0]["e2e_ms"] is None
    assert "| 3 |" in capsys.readouterr().out
    bad = _write(tmp_path, "model,prompt,batch,ttft_ms\ntiny_llama,0,1,2\n")
    assert tool.main(["--csv", str(bad), "--hw", HW]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 2: prompt must be a positive integer" in err[0]
