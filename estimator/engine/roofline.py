"""The roofline kernels: per-kernel time, variance and bound over flat arrays (numba).

For kernel k of category c on a device with peak P and memory level bandwidth BW::

    t_c = F / (P * eta_c(c, log10 F)),   t_m = B / (BW(ws) * eta_m(c, log10 B))
    t   = max(t_c, t_m) + overhead(c)

Variance by the first-order delta method on the binding branch: dt/deta = -t_bound / eta, so
var = (t_bound * sd_eta / eta)^2 + sd_overhead^2. Formulas: docs/design/efficiency_model.md.
All functions are ``njit(cache=True)`` so a fresh process loads compiled code from disk.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from estimator.engine.pack import DeviceArrays, KernelArrays

#: Bound codes returned per kernel.
BOUND_COMPUTE = 0
BOUND_MEMORY = 1
BOUND_OVERHEAD = 2
BOUND_NAMES: tuple[str, ...] = ("compute", "memory", "overhead")


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
def _one(
    f, b, lf, lb, ws, c, d,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
):  # fmt: skip
    bw = dram_bw
    for lvl in range(level_size.shape[0]):
        if ws <= level_size[lvl]:
            bw = level_bw[lvl]
            break
    tc = 0.0
    vc = 0.0
    if f > 0.0:
        ec, sc = _curve(lf, c_knots, c_mean, c_std, c, c_len[c], c_inv[c])
        tc = f / (peak[d] * ec)
        vc = tc * sc / ec
    tm = 0.0
    vm = 0.0
    if b > 0.0:
        em, sm = _curve(lb, m_knots, m_mean, m_std, c, m_len[c], m_inv[c])
        tm = b / (bw * em)
        vm = tm * sm / em
    o = ovh_mean[c]
    so = ovh_std[c]
    if tc > tm:
        tb = tc
        var = vc * vc + so * so
        bound = 0
    else:
        tb = tm
        var = vm * vm + so * so
        bound = 1
    if o > tb:
        bound = 2
    return tb + o, var, bound


def _kernel_times(
    flops, bytes_, log_flops, log_bytes, ws, cat, dt,
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
            flops[k], bytes_[k], log_flops[k], log_bytes[k], ws[k], cat[k], dt[k],
            peak, level_size, level_bw, dram_bw,
            c_knots, c_mean, c_std, c_len, c_inv,
            m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
        )  # fmt: skip
    return t, v, bound


def _model_totals(
    offsets, flops, bytes_, log_flops, log_bytes, ws, cat, dt,
    peak, level_size, level_bw, dram_bw,
    c_knots, c_mean, c_std, c_len, c_inv,
    m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
    device_sigma,
):  # fmt: skip
    """Per-model total (mean [s], variance [s^2]) for models stored back to back.

    Model i owns kernels ``offsets[i]:offsets[i+1]``. Variance = sum of independent kernel
    variances + (device_sigma * mean)^2, the error shared by every kernel on one device.
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
                peak, level_size, level_bw, dram_bw,
                c_knots, c_mean, c_std, c_len, c_inv,
                m_knots, m_mean, m_std, m_len, m_inv, ovh_mean, ovh_std,
            )  # fmt: skip
            s += t
            sv += v
        mean[i] = s
        var[i] = sv + (device_sigma * s) ** 2
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
    """Per-model total (mean [s], variance [s^2]); model i owns ``offsets[i]:offsets[i+1]``."""
    par = len(k) >= PARALLEL_MIN_KERNELS if parallel is None else parallel
    fn: Any = model_totals_parallel if par else model_totals
    out: tuple[NDArray[np.float64], NDArray[np.float64]] = fn(
        offsets, *k.columns(), *device.args(), device.device_sigma
    )
    return out
