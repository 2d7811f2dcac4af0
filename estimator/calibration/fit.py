"""Fit a category's efficiency curves and overhead to measured kernel times.

The engine predicts ``t = max(F / (P e_c(log F)), B / (BW e_m(log B))) + o`` with ``e_c``, ``e_m``
linear between knots. Fitting each curve to efficiencies attributed point by point ignores the
``max``: a kernel placed on the memory curve may still be bound by a low compute curve. So the
fit minimizes the error of exactly that formula: weighted least squares on log time over the knot
values of both curves and the overhead, with a robust loss (kernels slowed by another process are
outliers, not signal) and a second-difference penalty that keeps knots with few points on a
smooth curve. It starts from bin means of the attributed efficiencies (:mod:`aggregate`).

Uncertainty is predictive: the std at a knot is the spread of the log-time residuals of the
kernels that curve binds near that knot (hat-weighted, shrunk toward the curve's overall spread
when few), times the efficiency. ``n`` and ``ci95`` describe the mean at the knot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from scipy import stats as sps

from estimator.calibration.attribute import KernelPoint
from estimator.engine import Bound, combine_terms
from estimator.registry.models import CategoryProfile, EfficiencyCurve, KernelCategory, MeanStd

_US = 1e6  # seconds -> microseconds (unit conversion)
Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FitOptions:
    """Fit settings (statistical choices, not hardware numbers)."""

    #: Knot spacing in log10 units.
    step: float = 0.5
    #: Weight of each second-difference penalty row (log-efficiency units).
    smooth: float = 1.0
    #: Residual scale (log time) beyond which the robust loss turns linear.
    f_scale: float = 0.15
    #: Pseudo-count that shrinks a knot's spread toward its curve's overall spread.
    shrink: float = 3.0
    #: Smallest efficiency a knot may take.
    e_min: float = 1e-5
    #: Categories with fewer points are left out (the loader fills them from the prior).
    min_points: int = 3
    #: Fewest measured kernels with shape features for which the learned shape correction is
    #: fitted on top of the curves; below it the trees would mostly learn noise.
    kernel_model_min_points: int = 200
    #: sd of the normal prior on each category's log whole-network scale
    #: (:mod:`estimator.calibration.network_fit`): kernel prices are trusted to within ~30%.
    network_prior_log_sd: float = 0.3
    #: sd of the normal prior on the per-kernel whole-network gap (microseconds).
    network_gap_prior_us: float = 20.0
    #: Smallest share of its profiled time a kernel keeps once the profiler's per-node cost is
    #: taken out (:func:`estimator.calibration.calibrate.profiler_offset`): a numerical guard
    #: for nodes not much longer than that cost, not an efficiency.
    profiler_min_share: float = 0.25


@dataclass(slots=True)
class CategoryFit:
    category: KernelCategory
    profile: CategoryProfile
    n_points: int
    r2: float
    resid_std: float
    #: log(t_measured / t_predicted) per point, same order as the input points.
    residuals: Array = field(default_factory=lambda: np.zeros(0))
    bound: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


@dataclass(frozen=True, slots=True)
class _Data:
    lf: Array
    lb: Array
    tc0: Array
    tm0: Array
    t: Array


def knots_for(x: Array, step: float) -> Array:
    """Knots on multiples of ``step`` spanning the data (at least two)."""
    lo = math.floor(float(x.min()) / step) * step
    hi = math.ceil(float(x.max()) / step) * step
    if hi - lo < step:
        hi = lo + step
    return np.round(np.arange(lo, hi + step / 2, step), 6)


def hat(x: Array, knots: Array) -> Array:
    """Linear-interpolation basis: row i holds the weights of each knot at x_i (clamped)."""
    k = knots.size
    h = np.zeros((x.size, k))
    xc = np.clip(x, knots[0], knots[-1])
    j = np.clip(np.searchsorted(knots, xc, side="right") - 1, 0, k - 2)
    w = (xc - knots[j]) / (knots[j + 1] - knots[j])
    h[np.arange(x.size), j] = 1.0 - w
    h[np.arange(x.size), j + 1] += w
    return h


def predict(
    d: _Data, kc: Array, ec: Array, km: Array, em: Array, overhead: float
) -> tuple[Array, NDArray[np.int8]]:
    """The engine's formula on arrays (:func:`estimator.engine.combine_terms`): times (s) and
    :class:`~estimator.engine.Bound` codes, with candidate knot values ``ec``, ``em``."""
    tc = np.where(d.tc0 > 0, d.tc0 / np.interp(d.lf, kc, ec), 0.0)
    tm = np.where(d.tm0 > 0, d.tm0 / np.interp(d.lb, km, em), 0.0)
    return combine_terms(tc, tm, np.full(tc.shape, overhead))


def _binned_init(x: Array, e: Array, knots: Array, fallback: float) -> Array:
    """Hat-weighted mean of log efficiency at each knot; empty knots take the nearest filled."""
    out = np.full(knots.size, np.nan)
    if x.size:
        h = hat(x, knots)
        wsum = h.sum(axis=0)
        le = np.log(np.clip(e, 1e-9, 1.0))
        filled = wsum > 1e-9
        out[filled] = (h[:, filled] * le[:, None]).sum(axis=0) / wsum[filled]
    if np.all(np.isnan(out)):
        return np.full(knots.size, math.log(fallback))
    idx = np.flatnonzero(~np.isnan(out))
    for k in np.flatnonzero(np.isnan(out)):
        out[k] = out[idx[np.argmin(np.abs(idx - k))]]
    return out


def _second_diff_matrix(nc: int, nm: int) -> Array:
    """The penalty rows' matrix over x = (compute knots, memory knots, overhead): second
    differences within each curve (none for a curve of two knots)."""
    blocks = []
    for start, n in ((0, nc), (nc, nm)):
        for i in range(n - 2):
            row = np.zeros(nc + nm + 1)
            row[start + i : start + i + 3] = (1.0, -2.0, 1.0)
            blocks.append(row)
    return np.array(blocks).reshape(len(blocks), nc + nm + 1)


def fit_category(
    category: KernelCategory, points: Sequence[KernelPoint], opts: FitOptions | None = None
) -> CategoryFit:
    """Curves and overhead of one category from its measured kernels."""
    o = opts or FitOptions()
    pts = [p for p in points if p.t > 0 and (p.flops > 0 or p.bytes > 0)]
    if len(pts) < o.min_points:
        raise ValueError(f"{category}: {len(pts)} points, need {o.min_points}")
    d = _Data(
        lf=np.log10(np.maximum([p.flops for p in pts], 1.0)),
        lb=np.log10(np.maximum([p.bytes for p in pts], 1.0)),
        tc0=np.array([p.t_compute for p in pts]),
        tm0=np.array([p.t_memory for p in pts]),
        t=np.array([p.t for p in pts]),
    )
    kc = knots_for(d.lf[d.tc0 > 0] if (d.tc0 > 0).any() else d.lf, o.step)
    km = knots_for(d.lb, o.step)
    o_max = float(d.t.min())
    o0 = 0.5 * o_max
    busy = np.maximum(d.t - o0, 0.5 * d.t)
    cb = d.tc0 > d.tm0
    e_c = d.tc0 / busy
    e_m = d.tm0 / busy
    # A curve with no points of its own starts at the envelope of what the data allows, so it
    # does not bind where it was never observed to.
    env_c = float(np.clip(e_c.max(), o.e_min, 1.0)) if (d.tc0 > 0).any() else 1.0
    env_m = float(np.clip(e_m.max(), o.e_min, 1.0))
    uc0 = _binned_init(d.lf[cb], np.clip(e_c[cb], o.e_min, 1.0), kc, env_c)
    um0 = _binned_init(d.lb[~cb], np.clip(e_m[~cb], o.e_min, 1.0), km, env_m)
    nc, nm = kc.size, km.size
    log_t = np.log(d.t)
    lo_u = math.log(o.e_min)
    x0 = np.concatenate([np.clip(uc0, lo_u, 0.0), np.clip(um0, lo_u, 0.0), [o0 * _US]])

    def unpack(x: Array) -> tuple[Array, Array, float]:
        return np.exp(x[:nc]), np.exp(x[nc : nc + nm]), float(x[-1]) / _US

    def second_diff(u: Array) -> Array:
        return u[2:] - 2 * u[1:-1] + u[:-2] if u.size > 2 else np.zeros(0)

    def resid(x: Array) -> Array:
        ec, em, ov = unpack(x)
        t, _ = predict(d, kc, ec, km, em, ov)
        pen = o.smooth * np.concatenate([second_diff(x[:nc]), second_diff(x[nc : nc + nm])])
        return np.concatenate([np.log(t) - log_t, pen])

    hc, hm = hat(d.lf, kc), hat(d.lb, km)
    pen_rows = o.smooth * _second_diff_matrix(nc, nm)

    def jac(x: Array) -> Array:
        """d resid / d x, exactly: the curves are hat-weighted sums of exp(knot values), so
        d log t / d u_j = -(binding term / t) * (weight of knot j) / (interpolated efficiency)."""
        ec, em, ov = unpack(x)
        ec_pt, em_pt = hc @ ec, hm @ em
        tc = np.where(d.tc0 > 0, d.tc0 / ec_pt, 0.0)
        tm = np.where(d.tm0 > 0, d.tm0 / em_pt, 0.0)
        compute = tc > tm
        t = np.where(compute, tc, tm) + ov
        gc = np.where(compute, -tc / (t * ec_pt), 0.0)
        gm = np.where(compute, 0.0, -tm / (t * em_pt))
        rows = np.hstack([hc * ec * gc[:, None], hm * em * gm[:, None], (1.0 / (t * _US))[:, None]])
        return np.vstack([rows, pen_rows])

    lb = np.concatenate([np.full(nc + nm, lo_u), [0.0]])
    ub = np.concatenate([np.zeros(nc + nm), [o_max * _US]])
    x0 = np.clip(x0, lb, ub)
    sol = optimize.least_squares(
        resid, x0, jac=jac, bounds=(lb, ub), loss="soft_l1", f_scale=o.f_scale, x_scale="jac"
    )
    ec, em, ov = unpack(sol.x)
    t_pred, bound = predict(d, kc, ec, km, em, ov)
    r = log_t - np.log(t_pred)
    ss_tot = float(np.sum((log_t - log_t.mean()) ** 2))
    r2 = 1.0 - float(np.sum(r * r)) / ss_tot if ss_tot > 0 else float("nan")
    overall = float(np.sqrt(np.mean(r * r)))
    compute = _curve(kc, ec, d.lf, r, bound == Bound.COMPUTE, overall, o)
    memory = _curve(km, em, d.lb, r, bound == Bound.MEMORY, overall, o)
    profile = CategoryProfile(
        compute=compute, memory=memory, overhead_us=_overhead(d, t_pred, bound, ov)
    )
    return CategoryFit(category, profile, len(pts), r2, overall, r, bound)


def _curve(
    knots: Array,
    e: Array,
    x: Array,
    r: Array,
    mine: NDArray[np.bool_],
    overall: float,
    o: FitOptions,
) -> EfficiencyCurve:
    """Knot means with predictive std (residual spread near each knot), n and 95% CI."""
    h = hat(x[mine], knots) if mine.any() else np.zeros((0, knots.size))
    rr = r[mine]
    curve_sd = float(np.sqrt(np.mean(rr * rr))) if rr.size else overall
    wsum = h.sum(axis=0)
    local = (h * (rr * rr)[:, None]).sum(axis=0)
    sd = np.sqrt((local + o.shrink * curve_sd**2) / (wsum + o.shrink))
    n = np.rint(wsum).astype(int)
    mean = np.clip(e, o.e_min, 1.0)
    ci = []
    for m, s, k in zip(mean, sd, n, strict=True):
        if k >= 2:
            half = float(sps.t.ppf(0.975, k - 1)) * s / math.sqrt(k)
            ci.append((float(m * math.exp(-half)), float(m * math.exp(half))))
        else:
            ci.append((float(m * math.exp(-2 * s)), float(m * math.exp(2 * s))))
    return EfficiencyCurve(
        knots_log10=[float(k) for k in knots],
        mean=[float(v) for v in mean],
        std=[float(v) for v in mean * sd],
        n=[int(v) for v in n],
        ci95=ci,
    )


def _overhead(d: _Data, t_pred: Array, bound: NDArray[np.int8], ov: float) -> MeanStd:
    """Overhead with the spread of the absolute error of the kernels it dominates. When it
    dominates none, the relative error of the smallest quarter of kernels scaled to the overhead
    (their absolute error belongs to the curves, whose std already carries it)."""
    sel = bound == Bound.OVERHEAD
    if sel.any():
        err = (d.t[sel] - t_pred[sel]) * _US
        std = float(np.sqrt(np.mean(err * err)))
    else:
        sel = d.t <= np.quantile(d.t, 0.25)
        rel = np.log(d.t[sel] / t_pred[sel])
        std = ov * _US * float(np.sqrt(np.mean(rel * rel)))
    return MeanStd(mean=ov * _US, std=std, n=int(sel.sum()))


def fit_all(
    points: Sequence[KernelPoint], opts: FitOptions | None = None
) -> dict[KernelCategory, CategoryFit]:
    """One fit per category that has enough points."""
    o = opts or FitOptions()
    out: dict[KernelCategory, CategoryFit] = {}
    for cat in KernelCategory:
        pts = [p for p in points if p.category == cat and p.t > 0]
        if len(pts) >= o.min_points:
            out[cat] = fit_category(cat, pts, o)
    return out
