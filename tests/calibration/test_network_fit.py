"""The whole-network fit: known category scales and gap are recovered, the prior holds unused
categories at their kernel price, and the gap never goes below its floor."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.calibration.network_fit import NetworkTerms, fit_network
from estimator.engine.layout import CATEGORIES, CATEGORY_INDEX
from estimator.registry.models import KernelCategory

GEMM = CATEGORY_INDEX[KernelCategory.GEMM]
DW = CATEGORY_INDEX[KernelCategory.CONV_DEPTHWISE]
EW = CATEGORY_INDEX[KernelCategory.ELEMENTWISE]


def _terms(n: int, seed: int = 0) -> NetworkTerms:
    rng = np.random.default_rng(seed)
    time = np.zeros((n, len(CATEGORIES)))
    count = np.zeros((n, len(CATEGORIES)))
    for j in (GEMM, DW, EW):
        time[:, j] = rng.uniform(1e-4, 5e-3, n)
        count[:, j] = rng.integers(5, 100, n)
    return NetworkTerms(time, count)


def _measured(terms: NetworkTerms, scales: dict[int, float], gap: float) -> np.ndarray:
    s = np.ones(len(CATEGORIES))
    for j, v in scales.items():
        s[j] = v
    return np.asarray((terms.time + gap * terms.count) @ s)


def test_known_scales_and_gap_are_recovered() -> None:
    terms = _terms(200)
    truth = {GEMM: 0.9, DW: 1.25, EW: 1.1}
    meas = _measured(terms, truth, 4e-6)
    # a wide prior: the data, not the prior, decide
    fit = fit_network(terms, meas, prior_log_sd=10.0, gap_floor=-1e-5, gap_prior_s=1.0)
    for j, v in truth.items():
        assert fit.scales[CATEGORIES[j]] == pytest.approx(v, rel=1e-3)
    assert fit.gap_us == pytest.approx(4.0, rel=1e-2)
    assert fit.n_networks == 200
    assert set(fit.scales) == {CATEGORIES[j] for j in truth}  # unused categories: no scale


def test_the_prior_pulls_a_barely_used_category_to_its_kernel_price() -> None:
    terms = _terms(100, seed=1)
    terms.time[:, EW] *= 1e-3  # elementwise kernels are 0.1% of every network
    meas = _measured(terms, {EW: 3.0}, 0.0)
    fit = fit_network(terms, meas, prior_log_sd=0.3, gap_floor=0.0, gap_prior_s=1e-5)
    assert fit.scales[CATEGORIES[EW]] == pytest.approx(1.0, abs=0.05)
    assert fit.scales[CATEGORIES[GEMM]] == pytest.approx(1.0, abs=0.01)


def test_the_gap_never_goes_below_its_floor() -> None:
    terms = _terms(50, seed=2)
    meas = _measured(terms, {}, -3e-6)  # would want -3 us per kernel
    fit = fit_network(terms, meas, prior_log_sd=1e-3, gap_floor=-1e-6, gap_prior_s=1.0)
    assert fit.gap_us == pytest.approx(-1.0, abs=1e-6)
