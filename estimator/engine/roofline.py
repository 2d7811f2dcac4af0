"""The roofline kernels: per-kernel time, variance and bound over flat arrays (numba).

For kernel k of category c on a device with peak P and memory level bandwidth BW::

    t_c = F / (P * eta_c(c, log10 F)),   t_m = B / (BW(ws) * eta_m(c, log10 B))
    t   = max(t_c, t_m) + overhead(c)

Variance by the first-order delta method on the binding branch: dt/deta = -t_bound / eta, so
var = (t_bound * sd_eta / eta)^2 + sd_overhead^2. Formulas: docs/design/efficiency_model.md.
All functions are ``njit(cache=True)`` so a fresh process loads compiled code from disk.

The formula lives once: ``_terms`` (the two roofs and the overhead of a kernel) and ``_combine``
(max plus overhead). Calibration fits and few-shot transfer reach the same code through
:func:`kernel_terms`, :func:`ideal_terms` and :func:`combine_terms`.
"""

from __future__ import annotations

import types
from enum import IntEnum
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from estimator.engine.pack import DeviceArrays, KernelArrays


class Bound(IntEnum):
    """The term that sets a kernel's time (the engine returns these codes per kernel)."""

    COMPUTE = 0
    MEMORY = 1
    OVERHEAD = 2


# Plain ints for the compiled code (numba folds module-level ints into constants).
BOUND_COMPUTE = int(Bound.COMPUTE)
BOUND_MEMORY = int(Bound.MEMORY)
BOUND_OVERHEAD = int(Bound.OVERHEAD)
BOUND_NAMES: tuple[str, ...] = tuple(b.name.lower() for b in Bound)


@njit(cache=True, inline="always", error_model="numpy")
def _curve(x, knots, mean, std, row, n, inv):
    """Linear interpolation of (mean, std) at x on one padded row, clamped at the end knots.

    ``inv`` > 0 marks evenly spaced knots (1 / spacing): the segment is found by arithmetic
    instead of a search, the common case for priors and fits on a fixed log grid.
    """
    if x <= knots[row, 0]:
        return mean[row, 0], std[row, 0]
    last = n - 1
    if x >= knots[row, last]:
        return mean[row, last], std[row, last]
    if inv > 0.0:
        j = int((x - knots[row, 0]) * inv) + 1
        if j > last:
            j = last
    else:
        j = 1
        while knots[row, j] < x:
            j += 1
    x0 = knots[row, j - 1]
    w = (x - x0) / (knots[row, j] - x0)
    m = mean[row, j - 1] + w * (mean[row, j] - mean[row, j - 1])
    s = std[row, j - 1] + w * (std[row, j] - std[row, j - 1])
    return m, s


@njit(cache=True, inline="always", error_model="numpy")
def _level_bw(ws, level_size, level_bw, dram_bw):
    """Bandwidth of the first memory level that holds the working set ``ws``, else DRAM."""
    for lvl in range(level_size.shape[0]):
        if ws <= level_size[lvl]:
            return level_bw[lvl]
    return dram_bw


@njit(cache=True, inline="always", error_model="numpy")
def _combine(tc, tm, o):
    """THE roofline: the larger roof plus the overhead, and which term binds.

    Every route to a latency (estimate, calibration fits, few-shot transfer) combines its terms
    here, so the formula exists once.
    """
    if tc > tm:
        tb = tc
        bound = BOUND_COMPUTE
    else:
        tb = tm
        bound = BOUND_MEMORY
    if o > tb:
        bound = BOUND_OVERHEAD
    return tb + o, bound


@njit(cache=True, inline="always", error_model="numpy")
def _terms(
    f, b, lf, lb, ws, c, d,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    """Compute time, its sd, memory time, its sd, overhead and its sd of one kernel [s]."""
    bw = _level_bw(ws, level_size, level_bw, dram_bw)
    tc = 0.0
    sc = 0.0
    if f > 0.0:
        ec, se = _curve(lf, c_knots, c_mean, c_std, c, c_len[c], c_inv[c])
        tc = f / (peak[d] * ec)
        sc = tc * se / ec
    tm = 0.0
    sm = 0.0
    if b > 0.0:
        em, se = _curve(lb, m_knots, m_mean, m_std, c, m_len[c], m_inv[c])
        tm = b / (bw * em)
        sm = tm * se / em
    return tc, sc, tm, sm, ovh_mean[c], ovh_std[c]


@njit(cache=True, inline="always", error_model="numpy")
def _one(
    f, b, lf, lb, ws, c, d, corr, csd,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    tc, sc, tm, sm, o, so = _terms(
        f, b, lf, lb, ws, c, d,
        peak, level_size, level_bw, dram_bw,
        c_knots, c_mean, c_std, c_len, c_inv,
        m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
    )  # fmt: skip
    t, bound = _combine(tc, tm, o)
    s = sc if tc > tm else sm
    var = s * s + so * so
    # A learned shape correction scales the kernel; where it carries its own predictive sd, that
    # sd (of the log time) replaces the curves' spread, which it was fitted to explain.
    t = t * corr
    var = (t * csd) ** 2 if csd > 0.0 else var * corr * corr
    return t, var, bound


def _kernel_times(
    flops, bytes_, log_flops, log_bytes, ws, cat, dt, corr, csd,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    """Per-kernel (time mean [s], time variance [s^2], bound code) arrays.

    Compiled twice below: ``prange`` is a plain ``range`` in the serial build.
    """
    n = flops.shape[0]
    t = np.empty(n)
    v = np.empty(n)
    bound = np.empty(n, dtype=np.int8)
    for k in prange(n):
        t[k], v[k], bound[k] = _one(
            flops[k], bytes_[k], log_flops[k], log_bytes[k], ws[k], cat[k], dt[k], corr[k], csd[k],
            peak, level_size, level_bw, dram_bw,
            c_knots, c_mean, c_std, c_len, c_inv,
            m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
        )  # fmt: skip
    return t, v, bound


def _model_totals(
    offsets, flops, bytes_, log_flops, log_bytes, ws, cat, dt, corr, csd,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    """Per-model total (mean [s], kernel variance [s^2]) for models stored back to back.

    Model i owns kernels ``offsets[i]:offsets[i+1]``; kernel variances add (independent). The
    device-level term is added by :mod:`estimator.predictor`, once for every route.
    """
    m = offsets.shape[0] - 1
    mean = np.zeros(m)
    var = np.zeros(m)
    for i in prange(m):
        s = 0.0
        sv = 0.0
        for k in range(offsets[i], offsets[i + 1]):
            t, v, _ = _one(
                flops[k], bytes_[k], log_flops[k], log_bytes[k], ws[k], cat[k], dt[k],
                corr[k], csd[k],
                peak, level_size, level_bw, dram_bw,
                c_knots, c_mean, c_std, c_len, c_inv,
                m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
            )  # fmt: skip
            s += t
            sv += v
        mean[i] = s
        var[i] = sv
    return mean, var


# One body, two builds: the serial one for single models (no thread-pool start-up), the parallel
# one for large batches. Each build gets its own function object (and qualname) so numba's
# on-disk cache keeps their machine code apart.
def _twin(fn: Any, suffix: str) -> Any:
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix)
    twin.__qualname__ = fn.__qualname__ + suffix
    return twin


kernel_times = njit(cache=True, error_model="numpy")(_twin(_kernel_times, "_serial"))
kernel_times_parallel = njit(cache=True, error_model="numpy", parallel=True)(
    _twin(_kernel_times, "_parallel")
)
model_totals = njit(cache=True, error_model="numpy")(_twin(_model_totals, "_serial"))
model_totals_parallel = njit(cache=True, error_model="numpy", parallel=True)(
    _twin(_model_totals, "_parallel")
)


#: Batches at least this large go to the thread pool; below it, waking the pool costs more
#: than it saves (a dispatch threshold, not a model parameter).
PARALLEL_MIN_KERNELS = 200_000


def run_kernels(
    k: KernelArrays, device: DeviceArrays, *, parallel: bool | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """Per-kernel (time mean [s], variance [s^2], bound code) of ``k`` on ``device``.

    ``parallel=None`` uses the thread pool for batches of ``PARALLEL_MIN_KERNELS`` or more.
    """
    par = len(k) >= PARALLEL_MIN_KERNELS if parallel is None else parallel
    fn: Any = kernel_times_parallel if par else kernel_times
    out: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]] = fn(
        *k.columns(), *device.args()
    )
    return out


def run_models(
    offsets: NDArray[np.int64],
    k: KernelArrays,
    device: DeviceArrays,
    *,
    parallel: bool | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-model total (mean [s], kernel variance [s^2]); model i owns
    ``offsets[i]:offsets[i+1]``. No device-level term (see :mod:`estimator.predictor`)."""
    par = len(k) >= PARALLEL_MIN_KERNELS if parallel is None else parallel
    fn: Any = model_totals_parallel if par else model_totals
    out: tuple[NDArray[np.float64], NDArray[np.float64]] = fn(offsets, *k.columns(), *device.args())
    return out


@njit(cache=True, error_model="numpy")
def _kernel_terms(
    flops, bytes_, log_flops, log_bytes, ws, cat, dt, corr, csd,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    n = flops.shape[0]
    tc = np.empty(n)
    tm = np.empty(n)
    o = np.empty(n)
    for k in range(n):
        tc[k], _, tm[k], _, o[k], _ = _terms(
            flops[k], bytes_[k], log_flops[k], log_bytes[k], ws[k], cat[k], dt[k],
            peak, level_size, level_bw, dram_bw,
            c_knots, c_mean, c_std, c_len, c_inv,
            m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
        )  # fmt: skip
    return tc, tm, o


@njit(cache=True, error_model="numpy")
def _ideal_terms(flops, bytes_, ws, dt, peak, level_size, level_bw, dram_bw):
    n = flops.shape[0]
    tc = np.empty(n)
    tm = np.empty(n)
    for k in range(n):
        tc[k] = flops[k] / peak[dt[k]] if flops[k] > 0.0 else 0.0
        bw = _level_bw(ws[k], level_size, level_bw, dram_bw)
        tm[k] = bytes_[k] / bw if bytes_[k] > 0.0 else 0.0
    return tc, tm


@njit(cache=True, error_model="numpy")
def _combine_terms(tc, tm, o):
    n = tc.shape[0]
    t = np.empty(n)
    bound = np.empty(n, dtype=np.int8)
    for k in range(n):
        t[k], bound[k] = _combine(tc[k], tm[k], o[k])
    return t, bound


Array = NDArray[np.float64]


def kernel_terms(k: KernelArrays, device: DeviceArrays) -> tuple[Array, Array, Array]:
    """Per kernel: compute time, memory time (efficiency curves applied) and overhead [s], the
    three terms :func:`combine_terms` turns into the engine's time."""
    out: tuple[Array, Array, Array] = _kernel_terms(*k.columns(), *device.args())
    return out


def ideal_terms(k: KernelArrays, device: DeviceArrays) -> tuple[Array, Array]:
    """Per kernel: F / peak and B / bandwidth of the level holding its working set [s], the roofs
    at efficiency 1 (what calibration divides measured times by)."""
    out: tuple[Array, Array] = _ideal_terms(
        k.flops, k.bytes, k.working_set, k.dtype, device.peak, device.level_size,
        device.level_bw, device.dram_bw,
    )  # fmt: skip
    return out


def combine_terms(tc: Array, tm: Array, o: Array) -> tuple[Array, NDArray[np.int8]]:
    """The engine's roofline over arrays of terms: (time [s], bound code) per kernel."""
    out: tuple[Array, NDArray[np.int8]] = _combine_terms(
        np.ascontiguousarray(tc, dtype=np.float64),
        np.ascontiguousarray(tm, dtype=np.float64),
        np.ascontiguousarray(o, dtype=np.float64),
    )
    return out
