"""Model-level uncertainty: variance combination and the lognormal interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from estimator.engine import Z95, combine, lognormal_interval


def test_combine_adds_independent_variances_and_a_shared_device_term() -> None:
    # kernels 2 ms +- 1 ms and 3 ms +- 2 ms, device sigma 10%: var = 1 + 4 + (0.1 * 5)^2 = 5.25
    mean, var = combine([2.0, 3.0], [1.0, 4.0], 0.1)
    assert mean == 5.0
    assert var == pytest.approx(5.25)


def test_z95_is_the_normal_quantile() -> None:
    assert pytest.approx(stats.norm.ppf(0.975), rel=1e-12) == Z95


@pytest.mark.parametrize(("mean", "sd"), [(10.0, 2.0), (1.0, 0.5), (3.0, 3.0), (5.0, 0.01)])
def test_lognormal_interval_matches_scipy_and_contains_the_mean(mean: float, sd: float) -> None:
    lo, hi = lognormal_interval(mean, sd * sd)
    # scipy's lognormal with sigma^2 = ln(1 + sd^2/mean^2), scale = mean / sqrt(1 + sd^2/mean^2)
    s2 = np.log1p((sd / mean) ** 2)
    ref = stats.lognorm(s=np.sqrt(s2), scale=mean / np.sqrt(1 + (sd / mean) ** 2))
    assert ref.mean() == pytest.approx(mean, rel=1e-9) and ref.std() == pytest.approx(sd, rel=1e-9)
    assert float(lo) == pytest.approx(ref.ppf(0.025), rel=1e-9)
    assert float(hi) == pytest.approx(ref.ppf(0.975), rel=1e-9)
    assert 0.0 < float(lo) < mean < float(hi)


def test_interval_never_negative_even_when_sd_exceeds_mean() -> None:
    lo, hi = lognormal_interval(np.array([1.0, 0.0]), np.array([25.0, 0.0]))
    assert lo[0] > 0.0 and hi[0] > 1.0
    assert lo[1] == 0.0 and hi[1] == 0.0
