"""Interval calibration of few-shot fits (issue 20): a device-level offset shared by every
network of a device, learned out of sample on other devices, widens the predictive sd."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.transfer import level, nb201_kernel_set, prior_for
from estimator.transfer.fewshot import fit
from estimator.transfer.lodo import DeviceData, learned_interval_scale, training_fit
from estimator.transfer.metaprior import offset_sigma_from
from estimator.zoo.nb201 import random_archs

CMO = level("cmo")


def test_offset_sigma_by_hand() -> None:
    # device a: offsets +-0.1, predicted parameter variance 0.0025: 0.01 - 0.0025 = 0.0075
    # device b: no offset, variance 0.01: -0.01, floored at 0
    # device c: offsets 0.2, variance 0: 0.04;  mean (0.0075 + 0 + 0.04) / 3, square-rooted
    got = offset_sigma_from(
        [[0.1, -0.1], [0.0, 0.0], [0.2, 0.2]], [[0.0025, 0.0025], [0.01, 0.01], [0.0, 0.0]]
    )
    assert got == pytest.approx(np.sqrt(0.0475 / 3))
    assert offset_sigma_from([[0.0]], [[1.0]]) == 0.0


def test_offset_widens_the_predictive_sd() -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(6, seed=3), batch=1)
    y = np.array([2.0, 3.0, 2.5, 4.0, 3.5, 2.2])
    plain = fit(hw, prior, ks, y, params=CMO.params)
    wide = fit(hw, prior, ks, y, params=CMO.params, offset_sigma=0.3, interval_scale=2.0)
    np.testing.assert_array_equal(plain.theta, wide.theta)  # the fit itself is unchanged
    var = plain.sigma**2 + plain.parameter_variance()
    # k = 6 points + 5 pseudo-observations: Student-t with 11 dof, t_11(0.975) = 2.2010
    assert plain.dof == 11
    t_ratio = 2.200985 / 1.959964
    assert plain.predictive_sigma() == pytest.approx(t_ratio * np.sqrt(var), rel=1e-5)
    assert wide.predictive_sigma() == pytest.approx(2.0 * t_ratio * np.sqrt(var + 0.09), rel=1e-5)


def _device(name: str, offset: float, seed: int, n: int = 48) -> DeviceData:
    """A synthetic GPU whose query networks all run exp(offset) slower than its model says,
    while its pool networks follow it (1% noise): what a device re-measured later looks like."""
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(n, seed=31), batch=1)
    base = fit(hw, prior, ks.subset([0]), [1.0], params=CMO.params)  # the prior's kernel times
    y = base.predict(ks)[0] * np.exp(np.random.default_rng(seed).normal(0.0, 0.01, n))
    idx = np.arange(n)
    pool, query = idx[: n // 2], idx[n // 2 :]
    y[query] *= np.exp(offset)
    return DeviceData(name, hw, prior, ks, y, pool, query, np.ones(n), sigma=0.01)


@pytest.mark.parametrize("offset", [0.0, 0.2])
def test_learns_a_known_device_offset(offset: float) -> None:
    # five devices whose query sets sit +-offset away from their pools: the offset learned on
    # the other four (the scored one is never fitted) is that offset
    devs = [_device(f"dev-{i}", offset * (-1) ** i, seed=i) for i in range(5)]
    trained = {d.name: training_fit(d, [CMO]) for d in devs[1:]}
    cal = learned_interval_scale(devs[0], devs[1:], trained, [CMO])
    assert cal.offset_sigma == pytest.approx(offset, abs=0.03)
    assert "group gpu/pytorch-eager" in cal.note
