"""Combine kernel uncertainties into a model total and a 95% interval.

Kernel errors are treated as independent (their variances add); the device-level error is shared
by every kernel of a model on one device (a mis-stated peak shifts them all), so it enters as
``(device_sigma * total)^2``. The interval comes from the lognormal with the same mean and
variance: latency is positive and its error multiplicative. Formulas:
docs/design/efficiency_model.md.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Cumulative probability of the upper bound of a central 95% interval.
P95 = 0.975
#: Two-sided 95% quantile of the standard normal.
Z95 = NormalDist().inv_cdf(P95)
#: Two-sided 90% quantile of the standard normal (the q05..q95 band).
Z90 = NormalDist().inv_cdf(0.95)


def combine(
    kernel_mean: ArrayLike, kernel_var: ArrayLike, device_sigma: float
) -> tuple[float, float]:
    """Total (mean, variance) of a model from its kernels' means and variances."""
    mean = float(np.sum(kernel_mean))
    var = float(np.sum(kernel_var)) + (device_sigma * mean) ** 2
    return mean, var


def lognormal_interval(
    mean: ArrayLike, var: ArrayLike, z: float = Z95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(low, high) of the central interval of the lognormal with this mean and variance.

    sigma^2 = ln(1 + var / mean^2), mu = ln(mean) - sigma^2 / 2, bounds exp(mu -/+ z sigma).
    Positive whenever mean > 0; a zero mean gives (0, 0).
    """
    m = np.asarray(mean, dtype=np.float64)
    v = np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.log1p(np.where(m > 0, v / (m * m), 0.0))
        mu = np.log(np.where(m > 0, m, 1.0)) - s2 / 2
        s = np.sqrt(s2)
        lo = np.where(m > 0, np.exp(mu - z * s), 0.0)
        hi = np.where(m > 0, np.exp(mu + z * s), 0.0)
    return lo, hi
