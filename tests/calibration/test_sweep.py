"""sweep_cases: the fixed grid by default, sampled cases on request; case_by_name for both."""

from __future__ import annotations

import hashlib

from estimator.calibration.sweep import case_by_name, sweep_cases


def test_default_grid_is_unchanged() -> None:
    cases = sweep_cases()
    assert len(cases) == 132 and len(sweep_cases(quick=True)) == 52
    assert all(not c.family and not c.params for c in cases)
    case = case_by_name("sweep/conv_dense/c3x16-r56-k3-s2")
    assert case is not None
    digest = hashlib.sha256(case.build().SerializeToString()).hexdigest()
    # The bytes (the results store's model identity) are those of the grid before sampling.
    assert digest == "85fc4ca72f9a7cb93cbfe87c61cb58cb3c3e9d694fed222e3f6b95067d6db160"


def test_sampled_cases_on_request() -> None:
    grid = [c.name for c in sweep_cases()]
    both = [c.name for c in sweep_cases(sampled=60.0, seed=3)]
    assert both[: len(grid)] == grid and len(both) > len(grid)
    only = sweep_cases(sampled=60.0, seed=3, grid=False)
    assert [c.name for c in only] == both[len(grid) :]
    grouped = sweep_cases(["conv_grouped"], sampled=60.0, seed=3, grid=False)
    assert grouped and all(str(c.category) == "conv_grouped" for c in grouped)
    case = only[0]
    again = case_by_name(case.name)
    assert again is not None and again.params == case.params
    small = sweep_cases(sampled=60.0, seed=3, grid=False, max_bytes=1 << 20)
    assert [c.name for c in small] != [c.name for c in only]
