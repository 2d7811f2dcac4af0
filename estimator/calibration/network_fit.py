"""What kernels cost inside whole networks: per-category scales and a per-kernel gap.

Kernel curves are fitted on kernel times: single-kernel sweeps and the profiler's per-node times
of networks. Neither is what a kernel adds to an unprofiled run of a network. The profiler adds
timestamps and events to every node, the thread pool sleeps and wakes between nodes, a kernel
alone runs with its inputs hot in cache and a kernel in a network may not. Those effects differ
by kind of kernel (a depthwise convolution spends most of its time where a GEMM spends little), so
they are modelled per category, from data: the median runs of many networks.

For network ``i`` with ``T_ic`` the predicted time of its category-``c`` kernels and ``N_ic``
their correction-weighted count, the whole run is predicted as::

    t_i = sum_c s_c * (T_ic + g * N_ic)

``s_c = exp(u_c)`` and ``g`` minimise ``sum_i log(meas_i / t_i)^2 + sum_c (u_c / prior)^2``. The
prior keeps a category the networks hardly use at its kernel price (``s_c = 1``), so a family
of networks never seen cannot be mispriced by a scale fitted on nothing. The result is a
:class:`estimator.registry.models.NetworkFit` in the profile: one set of numbers for the device
and thread count, never a per-network factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from estimator.device import DeviceContext
from estimator.engine.layout import CATEGORIES
from estimator.partition import KernelPlan
from estimator.predictor import predict_kernels
from estimator.registry.models import NetworkFit

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NetworkTerms:
    """Per-network, per-category sums the fit works on (rows: networks, columns: CATEGORIES)."""

    #: Predicted kernel time per category (s).
    time: Array
    #: Kernels per category, each weighted by its time factor (a gap g adds g * this).
    count: Array


def network_terms(plans: Sequence[KernelPlan], ctx: DeviceContext) -> NetworkTerms:
    """Category sums of what the one predictor gives each plan on ``ctx`` (which must carry no
    network fit of its own: the fit is made on kernel prices)."""
    nc = len(CATEGORIES)
    time = np.zeros((len(plans), nc))
    count = np.zeros((len(plans), nc))
    for i, plan in enumerate(plans):
        kt = predict_kernels(plan, ctx)
        cat = kt.arrays.category
        time[i] = np.bincount(cat, weights=kt.time, minlength=nc)
        count[i] = np.bincount(cat, weights=kt.arrays.corr, minlength=nc)
    return NetworkTerms(time, count)


def fit_network(
    terms: NetworkTerms,
    measured: Array,
    *,
    prior_log_sd: float,
    gap_floor: float,
    gap_prior_s: float,
    families: Sequence[str] = (),
) -> NetworkFit:
    """Least-squares fit of the category scales and the per-kernel gap (see the module
    docstring). ``gap_floor`` (s, <= 0) keeps every overhead plus gap non-negative;
    ``gap_prior_s`` is the sd of the gap's normal prior around 0."""
    meas = np.asarray(measured, dtype=np.float64)
    used = np.flatnonzero(terms.time.sum(axis=0) > 0)
    tm, cn = terms.time[:, used], terms.count[:, used]
    k = len(used)
    us = 1e-6  # the gap is solved in microseconds, so all parameters are of order 1

    def resid(x: Array) -> Array:
        u, g = x[:k], x[k] * us
        t = (tm + g * cn) @ np.exp(u)
        return np.concatenate(
            [np.log(meas / np.maximum(t, 1e-12)), u / prior_log_sd, [g / gap_prior_s]]
        )

    lo = np.full(k + 1, -np.inf)
    hi = np.full(k + 1, np.inf)
    lo[k] = gap_floor / us
    x0 = np.zeros(k + 1)
    x0[k] = max(0.0, lo[k])
    res = optimize.least_squares(resid, x0, bounds=(lo, hi), method="trf", x_scale=1.0)
    jac = res.jac
    try:
        cov = np.linalg.inv(jac.T @ jac)
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        sd = np.full(k + 1, prior_log_sd)
    cats = [CATEGORIES[j] for j in used]
    return NetworkFit(
        scales={c: float(np.exp(res.x[i])) for i, c in enumerate(cats)},
        log_sd={c: float(sd[i]) for i, c in enumerate(cats)},
        gap_us=float(res.x[k]),
        prior_log_sd=prior_log_sd,
        n_networks=len(meas),
        families=sorted(set(families)),
    )
