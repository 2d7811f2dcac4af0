"""The whole-model per-kernel gap: recovered with either sign, and bounded below."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.calibration.calibrate import fit_gap


@pytest.mark.parametrize("gap", [3e-6, -2e-6])
def test_a_known_gap_is_recovered(gap: float) -> None:
    rng = np.random.default_rng(0)
    pred = rng.uniform(1e-3, 2e-2, 30)
    count = rng.integers(20, 200, 30).astype(np.float64)
    meas = pred + gap * count
    assert fit_gap(pred, count, meas, lowest=-1e-5) == pytest.approx(gap, rel=1e-3)


def test_the_gap_never_goes_below_its_floor() -> None:
    pred = np.array([1e-3, 2e-3, 4e-3])
    count = np.array([50.0, 80.0, 100.0])
    meas = pred - 5e-6 * count  # would want -5 us per kernel
    assert fit_gap(pred, count, meas, lowest=-1e-6) == pytest.approx(-1e-6, rel=1e-3)
    assert fit_gap(pred, count, meas) == 0.0  # default floor: no negative gap
