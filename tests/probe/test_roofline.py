"""Raw rates -> figures: medians, the 95% range as uncertainty, pooling per level."""

from __future__ import annotations

from pathlib import Path

import pytest

from estimator.host import read_topology
from estimator.probe.measure import QUICK, RawProbe, level_ranges
from estimator.probe.roofline import bandwidth_ceilings, compute_ceilings, summarize

HOSTS = Path(__file__).resolve().parents[1] / "fixtures" / "hosts"
INTEL = read_topology(HOSTS / "intel-xeon-icelake-vm", lscpu=None)


def _raw(sweep: list[dict[str, object]]) -> RawProbe:
    worker = {"kernel": "fma_192", "fma": [{"threads": 1, "gflops": [170.0, 180.0, 175.0]}],
              "sweep": sweep, "notes": []}  # fmt: skip
    return RawProbe(
        worker,
        QUICK,
        {("fp32", 1): [160.0, 165.0, 170.0]},
        1024,
        {},
        {1: level_ranges(INTEL, 1)},
        [],
    )


def test_summarize_is_median_and_half_the_95_percent_range_with_the_drift() -> None:
    # linear percentiles: 2.5% at 1.1, 97.5% at 4.9; halves [2, 4] and [3, 1, 5]: no drift
    assert summarize([2.0, 4.0, 3.0, 1.0, 5.0]) == (3.0, pytest.approx(1.9))
    # the same runs rising through the probe: halves' medians 1.5 and 4 drift 2.5 apart
    assert summarize([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, pytest.approx((1.9**2 + 2.5**2) ** 0.5))
    assert summarize([7.0]) == (7.0, 0.0)


def test_levels_pool_the_points_inside_their_range() -> None:
    raw = _raw(
        [
            {"threads": 1, "working_set_kib": 10.0, "gbs": [200.0, 210.0]},
            {"threads": 1, "working_set_kib": 18.0, "gbs": [190.0, 200.0]},
            {"threads": 1, "working_set_kib": 50.0, "gbs": [120.0]},  # between L1 and L2
            {"threads": 1, "working_set_kib": 150.0, "gbs": [90.0, 90.0]},
            {"threads": 1, "working_set_kib": 196608.0, "gbs": [12.0, 13.0]},
        ]
    )
    rows, notes = bandwidth_ceilings(raw, [1])
    got = {b.level: (b.gbs, b.points, b.working_set_kib) for b in rows}
    assert got == {
        "L1": (200.0, 2, (10.0, 18.0)),  # median of 200, 210, 190, 200
        "L2": (90.0, 1, (150.0, 150.0)),
        "DRAM": (12.5, 1, (196608.0, 196608.0)),
    }
    assert notes == ["threads=1: no sweep point inside L3's range; not measured"]


def test_compute_ceilings_keep_both_methods() -> None:
    rows = compute_ceilings(_raw([]))
    got = {(c.method, c.dtype, c.threads): (c.gflops, c.runs) for c in rows}
    assert got == {
        ("register_fma", "fp32", 1): (175.0, 3),
        ("onnxruntime_gemm", "fp32", 1): (165.0, 3),
    }
    assert "1024x1024" in rows[1].derivation and "fma_192" in rows[0].derivation


def test_bf16_torch_gemm_runs_become_a_bf16_ceiling() -> None:
    from dataclasses import replace

    raw = replace(_raw([]), bf16_gemm={1: [300.0, 320.0, 310.0]})
    rows = {(c.method, c.dtype, c.threads): c for c in compute_ceilings(raw)}
    bf16 = rows[("torch_gemm", "bf16", 1)]
    assert (bf16.gflops, bf16.runs) == (310.0, 3) and "torch.mm" in bf16.derivation
