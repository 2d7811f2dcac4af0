"""The sweep's plan: level ranges and working sets from the cache sizes read (the Intel fixture:
48 KiB L1d and 1280 KiB L2 per core, 48 MiB L3 shared by both cores)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from estimator.host import read_topology
from estimator.probe.measure import FULL, QUICK, gemm_dtypes, level_ranges, working_sets

HOSTS = Path(__file__).resolve().parents[1] / "fixtures" / "hosts"
INTEL = read_topology(HOSTS / "intel-xeon-icelake-vm", lscpu=None)


def test_level_ranges_one_thread() -> None:
    r = level_ranges(INTEL, 1)
    # L1: 8 KiB .. half of 48; L2: twice 48 .. half of 1280; L3: twice 1280 .. half of 49152;
    # DRAM: from four times the L3
    assert r == {
        "L1": (8.0, 24.0),
        "L2": (96.0, 640.0),
        "L3": (2560.0, 24576.0),
        "DRAM": (196608.0, math.inf),
    }


def test_level_ranges_two_threads_add_private_caches_not_shared() -> None:
    r = level_ranges(INTEL, 2)
    assert r["L1"] == (16.0, 48.0)  # 2 x 48 KiB private, half of it
    assert r["L2"] == (192.0, 1280.0)
    assert r["L3"] == (5120.0, 24576.0)  # shared: still one 48 MiB instance
    assert r["DRAM"][0] == 196608.0


def test_quick_plan_has_two_points_per_level_and_one_dram() -> None:
    ws = working_sets(INTEL, 1, QUICK)
    r = level_ranges(INTEL, 1)
    for level, (lo, hi) in r.items():
        inside = [w for w in ws if lo <= w <= hi]
        assert len(inside) == (1 if level == "DRAM" else 2), (level, ws)
    assert ws[0] == pytest.approx(8 * 3**0.25, abs=0.05)  # geometric spread inside L1's range
    assert ws[-1] == 196608.0
    full = working_sets(INTEL, 1, FULL)
    assert len(full) > 3 * len(ws) and full[-1] == 8 * 49152.0


def test_int8_gemm_only_with_a_dot_product_unit() -> None:
    assert gemm_dtypes(INTEL) == ["fp32", "int8"]  # avx512_vnni
    amd = read_topology(HOSTS / "amd-epyc-milan-8vcpu-smt", lscpu=None)
    assert gemm_dtypes(amd) == ["fp32"]


def test_torch_bf16_gemm_times_every_thread_count_and_restores_torch_threads() -> None:
    import torch

    from estimator.probe.measure import measure_torch_gemms

    before = torch.get_num_threads()
    got = measure_torch_gemms([1, 2], 128, runs=3)
    assert set(got) == {1, 2} and all(len(v) >= 3 and min(v) > 0 for v in got.values())
    assert torch.get_num_threads() == before
