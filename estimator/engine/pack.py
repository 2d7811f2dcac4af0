"""Flat arrays for the engine: kernels (struct of arrays) and one packed device.

Done once per (device, runtime, dtype, threads): the numba kernels then read only numpy arrays,
never pydantic objects, so one packed device serves any number of kernels and models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from estimator.engine.layout import CATEGORIES, DTYPE_KEYS
from estimator.errors import RegistryError
from estimator.registry.models import (
    CategoryProfile,
    EfficiencyCurve,
    EfficiencyProfile,
    Hardware,
    KernelCategory,
)

_US = 1e-6  # microseconds -> seconds (unit conversion)


@dataclass(frozen=True, slots=True)
class KernelArrays:
    """Struct-of-arrays description of kernels (one model, or many back to back).

    log10 of FLOPs and bytes are stored, not recomputed per device: they are properties of the
    kernel, and log10 dominates the engine's per-kernel cost otherwise. ``corr`` and ``corr_sd``
    carry a device's learned shape correction (``t = t_roofline * corr``, with ``corr_sd`` the sd
    of its log error; 1 and 0 where none applies); ``features`` the kernels' shape features the
    correction is predicted from (``estimator.kernelmodel.features``), None when unknown.
    """

    flops: NDArray[np.float64]
    bytes: NDArray[np.float64]
    log_flops: NDArray[np.float64]
    log_bytes: NDArray[np.float64]
    working_set: NDArray[np.float64]
    category: NDArray[np.int32]
    dtype: NDArray[np.int32]
    corr: NDArray[np.float64]
    corr_sd: NDArray[np.float64]
    features: NDArray[np.float64] | None = None

    @classmethod
    def build(
        cls,
        flops: ArrayLike,
        bytes_: ArrayLike,
        working_set: ArrayLike,
        category: ArrayLike,
        dtype: ArrayLike,
        *,
        features: ArrayLike | None = None,
    ) -> KernelArrays:
        f = np.ascontiguousarray(flops, dtype=np.float64)
        b = np.ascontiguousarray(bytes_, dtype=np.float64)
        with np.errstate(divide="ignore"):
            lf = np.where(f > 0, np.log10(np.where(f > 0, f, 1.0)), 0.0)
            lb = np.where(b > 0, np.log10(np.where(b > 0, b, 1.0)), 0.0)
        feats = None
        if features is not None:
            feats = np.ascontiguousarray(features, dtype=np.float64)
            # a plan without kernels (a graph of views only) has zero rows: -1 cannot be inferred
            cols = feats.shape[-1] if feats.ndim == 2 else (0 if f.shape[0] == 0 else -1)
            feats = feats.reshape(f.shape[0], cols)
            feats.setflags(write=False)
        out = cls(
            f,
            b,
            lf,
            lb,
            np.ascontiguousarray(working_set, dtype=np.float64),
            np.ascontiguousarray(category, dtype=np.int32),
            np.ascontiguousarray(dtype, dtype=np.int32),
            np.ones(f.shape[0]),
            np.zeros(f.shape[0]),
            feats,
        )
        for a in out.columns():
            a.setflags(write=False)
        return out

    @classmethod
    def concat(cls, parts: Sequence[KernelArrays]) -> KernelArrays:
        if not parts:
            return cls.build([], [], [], [], [])
        cols = [np.concatenate(c) for c in zip(*(p.columns() for p in parts), strict=True)]
        full = [p for p in parts if len(p)]
        feats = None
        if full and all(p.features is not None for p in full) and len(set(map(_width, full))) == 1:
            feats = np.concatenate([p.features for p in full if p.features is not None])
        return _from_columns(cols, feats)

    def take(self, idx: NDArray[np.int64]) -> KernelArrays:
        """The kernels at ``idx``, in that order."""
        cols = [np.ascontiguousarray(c[idx]) for c in self.columns()]
        feats = None if self.features is None else np.ascontiguousarray(self.features[idx])
        return _from_columns(cols, feats)

    def with_columns(self, **cols: NDArray[Any]) -> KernelArrays:
        """A copy with some columns replaced (e.g. ``dtype``, ``corr``, ``corr_sd``)."""
        from dataclasses import replace

        return replace(self, **cols)

    def __len__(self) -> int:
        return int(self.flops.shape[0])

    def columns(self) -> tuple[NDArray[Any], ...]:
        """Positional kernel arguments of the roofline kernels, in their order."""
        return (
            self.flops,
            self.bytes,
            self.log_flops,
            self.log_bytes,
            self.working_set,
            self.category,
            self.dtype,
            self.corr,
            self.corr_sd,
        )


def _from_columns(
    cols: Sequence[NDArray[Any]], features: NDArray[np.float64] | None
) -> KernelArrays:
    f, b, lf, lb, ws, cat, dt, corr, csd = cols
    return KernelArrays(f, b, lf, lb, ws, cat, dt, corr, csd, features)


def _width(k: KernelArrays) -> int:
    return -1 if k.features is None else int(k.features.shape[1])


@dataclass(frozen=True, slots=True)
class DeviceArrays:
    """Everything the roofline kernels need about one device configuration."""

    #: FLOP/s per dtype index (``DTYPE_KEYS``) on the threads used; NaN where the device has none.
    peak: NDArray[np.float64]
    #: Capacities (bytes, ascending) and bandwidths (B/s) of the cache levels with a known
    #: bandwidth, as seen by the threads used.
    level_size: NDArray[np.float64]
    level_bw: NDArray[np.float64]
    dram_bw: float
    #: Per category (rows in ``CATEGORIES`` order), padded knot tables of the compute curve
    #: (x = log10 FLOPs) and memory curve (x = log10 bytes); ``*_len`` = knots in use.
    c_knots: NDArray[np.float64]
    c_mean: NDArray[np.float64]
    c_std: NDArray[np.float64]
    c_len: NDArray[np.int64]
    #: 1 / knot spacing where a row's knots are evenly spaced, else 0 (search).
    c_inv: NDArray[np.float64]
    m_knots: NDArray[np.float64]
    m_mean: NDArray[np.float64]
    m_std: NDArray[np.float64]
    m_len: NDArray[np.int64]
    m_inv: NDArray[np.float64]
    #: Launch/dispatch overhead per category, seconds.
    ovh_mean: NDArray[np.float64]
    ovh_std: NDArray[np.float64]
    #: Relative sd of the error shared by all kernels on this device.
    device_sigma: float
    threads: int
    #: Categories the profile lacks, served by its ``other`` curves.
    fallback_categories: tuple[str, ...] = ()
    #: Per category, the factor on kernel time inside whole networks (the profile's
    #: ``network_fit``); None: no such fit, kernels keep their own price.
    network_scale: NDArray[np.float64] | None = None

    def args(self) -> tuple[Any, ...]:
        """Positional device arguments of the roofline kernels, in their order."""
        return (
            self.peak,
            self.level_size,
            self.level_bw,
            self.dram_bw,
            self.c_knots,
            self.c_mean,
            self.c_std,
            self.c_len,
            self.c_inv,
            self.m_knots,
            self.m_mean,
            self.m_std,
            self.m_len,
            self.m_inv,
            self.ovh_mean,
            self.ovh_std,
        )


_Table = tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.float64],
]


def _table(curves: list[EfficiencyCurve]) -> _Table:
    width = max(len(c.knots_log10) for c in curves)
    knots = np.zeros((len(curves), width))
    mean = np.zeros((len(curves), width))
    std = np.zeros((len(curves), width))
    lens = np.zeros(len(curves), dtype=np.int64)
    inv = np.zeros(len(curves))
    for i, c in enumerate(curves):
        x, m, s = (np.asarray(a, dtype=np.float64) for a in (c.knots_log10, c.mean, c.std))
        n = len(x)
        lens[i] = n
        # Pad with the last knot so a row is valid whatever length a caller assumes.
        knots[i, :n], knots[i, n:] = x, x[-1]
        mean[i, :n], mean[i, n:] = m, m[-1]
        std[i, :n], std[i, n:] = s, s[-1]
        if n > 1:
            gaps = np.diff(x)
            if np.allclose(gaps, gaps[0], rtol=1e-12, atol=0.0):
                inv[i] = 1.0 / gaps[0]
    return knots, mean, std, lens, inv


def pack_device(hw: Hardware, profile: EfficiencyProfile, threads: int) -> DeviceArrays:
    """Flat arrays for ``hw`` running ``profile`` on ``threads`` threads."""
    peak = np.full(len(DTYPE_KEYS), np.nan)
    for i, key in enumerate(DTYPE_KEYS):
        if key in hw.peak_gflops:
            peak[i] = hw.peak_flops(key, threads)
    levels: list[tuple[float, float]] = []
    for c in sorted(hw.caches, key=lambda c: c.level):
        size = hw.cache_capacity_bytes(c.level, threads)
        bw = hw.cache_bandwidth(c.level, threads)
        if size is not None and bw is not None:
            levels.append((size, bw))
    levels.sort()
    fallback: list[str] = []
    profs: list[CategoryProfile] = []
    other = profile.categories.get(KernelCategory.OTHER)
    for cat in CATEGORIES:
        prof = profile.categories.get(cat)
        if prof is None:
            if other is None:
                raise RegistryError(
                    f"profile {profile.runtime}/{profile.dtype}: no curves for category "
                    f"'{cat}' and no 'other' category to fall back on"
                )
            fallback.append(str(cat))
            prof = other
        profs.append(prof)
    ck, cm, cs, cl, ci = _table([p.compute for p in profs])
    mk, mm, ms, ml, mi = _table([p.memory for p in profs])
    return DeviceArrays(
        peak=peak,
        level_size=np.array([s for s, _ in levels], dtype=np.float64),
        level_bw=np.array([b for _, b in levels], dtype=np.float64),
        dram_bw=hw.dram_bandwidth(threads),
        c_knots=ck,
        c_mean=cm,
        c_std=cs,
        c_len=cl,
        c_inv=ci,
        m_knots=mk,
        m_mean=mm,
        m_std=ms,
        m_len=ml,
        m_inv=mi,
        ovh_mean=np.array([p.overhead_us.mean * _US for p in profs]),
        ovh_std=np.array([p.overhead_us.std * _US for p in profs]),
        device_sigma=profile.device_sigma,
        threads=threads,
        fallback_categories=tuple(fallback),
        network_scale=_network_scale(profile),
    )


def _network_scale(profile: EfficiencyProfile) -> NDArray[np.float64] | None:
    fit = profile.network_fit
    if fit is None:
        return None
    return np.array([fit.scales.get(cat, 1.0) for cat in CATEGORIES], dtype=np.float64)
