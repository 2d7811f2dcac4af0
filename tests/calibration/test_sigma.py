"""device_sigma: predictive widening, scatter arithmetic, intervals blind to their own model."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from estimator.calibration.calibrate import held_out_residuals, predictive_factor, scatter_sigma
from estimator.calibration.dataset import load_dataset
from estimator.calibration.validate import leave_one_out
from estimator.registry import load_hardware
from tests.calibration.test_end_to_end import HW, measured  # noqa: F401  (fixture)

#: Student's t 97.5% quantiles (tables) over the normal one, 1.959964.
T975 = {2: 4.302653, 13: 2.160369}


@pytest.mark.parametrize("dof", sorted(T975))
def test_predictive_factor_is_the_t_over_normal_quantile(dof: int) -> None:
    assert predictive_factor(dof) == pytest.approx(T975[dof] / 1.959964, rel=1e-5)
    assert predictive_factor(10_000) == pytest.approx(1.0, abs=1e-3)


def test_scatter_sigma_by_hand() -> None:
    f2 = T975[2] / 1.959964
    # Two log errors of +-0.1 over 2 dof: RMS 0.1, widened by the t factor.
    assert scatter_sigma([0.1, -0.1], [0.0, 0.0], 2) == pytest.approx(0.1 * f2, rel=1e-5)
    # Kernel variance already explains part of the scatter.
    want = math.sqrt(0.01 * f2**2 - 0.004)
    assert scatter_sigma([0.1, -0.1], [0.004, 0.004], 2) == pytest.approx(want, rel=1e-5)
    assert scatter_sigma([0.01], [0.5], 1) == 0.0  # never negative
    assert scatter_sigma([], [], 0) == 0.0


def test_interval_of_a_held_out_model_ignores_its_measurement(measured: Path) -> None:  # noqa: F811
    hw = load_hardware(HW)
    ds = load_dataset(measured, hw, 1)
    assert len(ds.models) >= 3
    base = leave_one_out(ds.sweep_points, ds.models, hw, 1, use_network_fit=False)
    # Push model 0's measurement three times further from its prediction.
    k = 3.0 if base[0].measured_ms > base[0].predicted_ms else 1 / 3
    moved = list(ds.models)
    moved[0] = dataclasses.replace(moved[0], measured=moved[0].measured * k)
    again = leave_one_out(ds.sweep_points, moved, hw, 1, use_network_fit=False)
    # Model 0's prediction and interval are the same; only its measured figure changed.
    assert again[0].predicted_ms == pytest.approx(base[0].predicted_ms, rel=1e-9)
    assert (again[0].low_ms, again[0].high_ms) == pytest.approx((base[0].low_ms, base[0].high_ms))
    assert again[0].measured_ms == pytest.approx(k * base[0].measured_ms)
    # The others' intervals widen: model 0's now larger held-out error enters their sigma.
    assert again[1].high_ms - again[1].low_ms > base[1].high_ms - base[1].low_ms

    r, rk = held_out_residuals(ds.all_points, ds.models, hw, 1, use_network_fit=False)
    assert [math.exp(-x) * b.measured_ms for x, b in zip(r, base, strict=True)] == pytest.approx(
        [b.predicted_ms for b in base], rel=1e-6
    )
    assert all(v >= 0 for v in rk)
