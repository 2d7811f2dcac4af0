"""Distribution checks flag skew, growing spread and outliers, and pass well-behaved data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from estimator.calibration.distribution import analyze, breusch_pagan, format_report


def test_normal_sample_passes_and_skewed_sample_fails() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(3, 9, 300)
    normal = analyze(rng.normal(0, 0.1, 300), x, "normal")
    skewed = analyze(rng.lognormal(0, 0.8, 300), x, "skewed")
    assert normal.normal() and normal.shapiro_p > 0.05
    assert not skewed.normal() and skewed.shapiro_p < 1e-6
    assert skewed.skewness > 1.0
    # Shapiro-Wilk statistic is scipy's own.
    assert normal.n == 300


def test_breusch_pagan_is_n_times_r2_of_squared_residuals_on_size() -> None:
    rng = np.random.default_rng(8)
    x = rng.uniform(3, 9, 400)
    r = rng.normal(0, 1, 400) * 0.02 * x  # spread grows with size
    lm, p = breusch_pagan(r, x)
    reg = stats.linregress(x, r * r)  # independent: scipy's regression
    assert lm == pytest.approx(400 * reg.rvalue**2, rel=1e-9)
    assert p == pytest.approx(stats.chi2.sf(lm, 1), rel=1e-9)
    hetero = analyze(r, x, "hetero")
    assert not hetero.homoscedastic() and hetero.spearman_rho > 0.2
    homo = analyze(rng.normal(0, 0.1, 400), x, "homo")
    assert homo.homoscedastic()


def test_outliers_beyond_three_sd_are_listed() -> None:
    rng = np.random.default_rng(9)
    r = rng.normal(0, 0.05, 200)
    r[17] = 2.0
    res = analyze(r, np.linspace(3, 9, 200), "o")
    assert res.outliers == [17]
    text = format_report([res, analyze([0.1], [1.0], "tiny")])
    assert "outliers beyond 3 sd: 1" in text and "too few points" in text
