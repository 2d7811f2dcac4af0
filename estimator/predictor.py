"""The one predictor: kernels on a resolved device -> kernel times and model totals.

Every route to a latency calls this module: the public :func:`estimator.estimate.estimate` and
``estimate_many``, calibration's attribution, fits and leave-one-out validation, and few-shot
transfer. So what validation scores is exactly what a user gets. The steps, each done here and
nowhere else:

1. the engine columns of a kernel plan on the device (its own elementary-work table replaces the
   runtime's, floating-point kernels run at the requested dtype, the device must have a peak for
   every dtype used): :func:`kernel_arrays`;
2. the roofline engine (:mod:`estimator.engine.roofline`) per kernel: :func:`predict_kernels`;
3. per-model totals: kernel variances add, and the error shared by every kernel of a model on one
   device enters once as ``(device_sigma * total)^2``: :func:`predict_models`;
4. the reported 95% interval: the lognormal with that mean and variance: :func:`interval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from estimator.device import DeviceContext
from estimator.engine import KernelArrays, lognormal_interval, run_kernels, run_models
from estimator.engine.kernel_set import KernelSet, kernel_set_from_concat
from estimator.engine.layout import DTYPE_INDEX, DTYPE_KEYS
from estimator.errors import InputError
from estimator.identity_cache import IdentityCache
from estimator.partition import KernelPlan

if TYPE_CHECKING:
    from estimator.kernelmodel.model import KernelModel

Array = NDArray[np.float64]
_FLOAT_DTYPES = np.array([DTYPE_INDEX[k] for k in ("fp32", "fp16", "bf16")], dtype=np.int32)


@dataclass(frozen=True, slots=True)
class KernelTimes:
    """Per-kernel prediction: the engine columns used, time [s], variance [s^2], bound code."""

    arrays: KernelArrays
    time: Array
    var: Array
    bound: NDArray[np.int8]

    def totals(self, device_sigma: float) -> ModelTotals:
        """These kernels as one model's total (what :func:`predict_models` gives for it)."""
        mean = np.array([self.time.sum()])
        kvar = np.array([self.var.sum()])
        kernels = np.array([len(self.time)], dtype=np.int64)
        return ModelTotals(mean, kvar, total_var(mean, kvar, device_sigma), kernels, device_sigma)


@dataclass(frozen=True, slots=True)
class ModelTotals:
    """Per-model prediction, in input order (seconds)."""

    mean: Array
    #: Sum of the independent kernel variances [s^2], without the device-level term.
    kernel_var: Array
    #: ``kernel_var + (device_sigma * mean)^2``: the variance the estimate reports.
    var: Array
    #: Kernels per model.
    kernels: NDArray[np.int64]
    device_sigma: float

    def interval(self, device_sigma: float | None = None) -> tuple[Array, Array]:
        """95% interval (s); ``device_sigma`` overrides the device's (held-out validation)."""
        sigma = self.device_sigma if device_sigma is None else device_sigma
        return interval(self.mean, self.kernel_var, sigma)


def interval(mean: Array, kernel_var: Array, device_sigma: float) -> tuple[Array, Array]:
    """The reported 95% interval: lognormal of the kernel variance plus the device term."""
    return lognormal_interval(mean, total_var(mean, kernel_var, device_sigma))


def total_var(mean: Array, kernel_var: Array, device_sigma: float) -> Array:
    """Kernel variances plus the error every kernel of a model shares on one device."""
    return np.asarray(kernel_var + (device_sigma * mean) ** 2, dtype=np.float64)


def _with_dtype(arrays: KernelArrays, key: str) -> KernelArrays:
    """Run floating-point kernels at the requested precision (int8 kernels stay int8)."""
    want = DTYPE_INDEX[key]
    is_float = np.isin(arrays.dtype, _FLOAT_DTYPES)
    if want == DTYPE_INDEX["fp32"] or not bool(is_float.any()):
        return arrays
    dt = np.where(is_float, want, arrays.dtype).astype(np.int32)
    return arrays.with_columns(dtype=dt)


def _check_peaks(arrays: KernelArrays, ctx: DeviceContext) -> None:
    used = np.unique(arrays.dtype)
    missing = [DTYPE_KEYS[int(i)] for i in used if np.isnan(ctx.arrays.peak[int(i)])]
    if missing:
        raise InputError(
            f"hardware '{ctx.hardware.id}' has no peak for {', '.join(missing)}; "
            f"available: {', '.join(sorted(ctx.hardware.peak_gflops))}"
        )


def device_columns(arrays: KernelArrays, ctx: DeviceContext, *, cache: bool = True) -> KernelArrays:
    """Engine columns at the context's dtype, checked against the device's peaks, with the
    device's learned shape correction and its whole-network category scales where it has them.
    ``cache=False``: arrays built for one call (a concatenation) are not kept in the cache."""
    out = _with_dtype(arrays, ctx.dtype)
    _check_peaks(out, ctx)
    scale = ctx.arrays.network_scale
    if len(out) and (ctx.kernel_model is not None or scale is not None):
        out = _corrected(out, ctx.kernel_model, scale, cache=cache)
    return out


_CORRECTED: IdentityCache[KernelArrays] = IdentityCache(256)


def _corrected(
    arrays: KernelArrays,
    model: KernelModel | None,
    scale: NDArray[np.float64] | None,
    *,
    cache: bool = True,
) -> KernelArrays:
    """``arrays`` with the correction ``model`` predicts from their shape features, times the
    category's whole-network ``scale`` (cached for the same arrays, model and scales:
    re-estimating a parsed model costs one lookup)."""
    hit = _CORRECTED.get((arrays, model, scale)) if cache else None
    if hit is not None:
        return hit
    corr, sd = arrays.corr, arrays.corr_sd
    if model is not None:
        if arrays.features is None:
            raise InputError(
                "these kernels carry no shape features, so the device's learned kernel model "
                "cannot be applied; build them with estimator.partition.partition"
            )
        r, sd = model.predict(arrays.features)
        corr = np.exp(r)
    if scale is not None:
        corr = corr * scale[arrays.category]
    out = arrays.with_columns(
        corr=np.ascontiguousarray(corr, dtype=np.float64),
        corr_sd=np.ascontiguousarray(sd, dtype=np.float64),
    )
    return _CORRECTED.put((arrays, model, scale), (), out) if cache else out


def kernel_arrays(plan: KernelPlan, ctx: DeviceContext) -> KernelArrays:
    """The engine columns of ``plan`` on the device of ``ctx`` (see the module docstring)."""
    return device_columns(_raw_columns(plan, ctx), ctx)


def plans_columns(
    plans: Sequence[KernelPlan], ctx: DeviceContext
) -> tuple[KernelArrays, NDArray[np.int64]]:
    """The engine columns of many plans on ``ctx``, concatenated in order, and each plan's
    kernel count. Row for row what :func:`kernel_arrays` gives per plan (the dtype, peak check,
    learned correction and category scale act on each kernel alone), but the device's kernel
    model runs once over all of them instead of once per plan (issue 20: 1,000 networks)."""
    raw = [_raw_columns(p, ctx) for p in plans]
    lengths = np.array([len(r) for r in raw], dtype=np.int64)
    whole = KernelArrays.concat(raw)
    if whole.features is None and any(r.features is not None for r in raw if len(r)):
        # feature tables of different widths: corrected plan by plan, as kernel_arrays does
        return KernelArrays.concat([device_columns(r, ctx) for r in raw]), lengths
    return device_columns(whole, ctx, cache=False), lengths


def _raw_columns(plan: KernelPlan, ctx: DeviceContext) -> KernelArrays:
    if plan.runtime != ctx.runtime:
        raise InputError(
            f"{plan.graph_name}: kernels were partitioned for {plan.runtime}, the device context "
            f"is for {ctx.runtime}"
        )
    if plan.nchwc_block != ctx.nchwc_block:
        raise InputError(
            f"{plan.graph_name}: kernels were partitioned for blocked layout {plan.nchwc_block}, "
            f"the device uses {ctx.nchwc_block} (partition with nchwc_block=ctx.nchwc_block)"
        )
    return plan.arrays_for(ctx.elementary)


def predict_kernels(plan: KernelPlan | KernelArrays, ctx: DeviceContext) -> KernelTimes:
    """Per-kernel time, variance and bound of ``plan`` on ``ctx``."""
    arrays = kernel_arrays(plan, ctx) if isinstance(plan, KernelPlan) else device_columns(plan, ctx)
    t, v, bound = run_kernels(arrays, ctx.arrays)
    return KernelTimes(arrays, t, v, bound)


def kernel_set(names: Sequence[str], plans: Sequence[KernelPlan], ctx: DeviceContext) -> KernelSet:
    """The unique kernels of ``plans`` on ``ctx`` (elementary table applied) and their counts."""
    arrays, lengths = plans_columns(plans, ctx)
    return kernel_set_from_concat(list(names), arrays, lengths.tolist())


def predict_models(models: Sequence[KernelPlan] | KernelSet, ctx: DeviceContext) -> ModelTotals:
    """Totals of many models: a list of kernel plans, or a :class:`KernelSet` (unique kernels
    and per-model counts, the NAS fast path) whose kernels are already device columns."""
    sigma = ctx.device_sigma
    if isinstance(models, KernelSet):
        arrays = device_columns(models.kernels, ctx)
        t, v, _ = run_kernels(arrays, ctx.arrays)
        mean = np.asarray(models.counts @ t, dtype=np.float64).reshape(-1)
        kvar = np.asarray(models.counts @ v, dtype=np.float64).reshape(-1)
        count = np.asarray(models.counts.sum(axis=1), dtype=np.float64).reshape(-1)
        kernels = np.rint(count).astype(np.int64)
        return ModelTotals(mean, kvar, total_var(mean, kvar, sigma), kernels, sigma)
    plans = list(models)
    arrays, kernels = plans_columns(plans, ctx)
    offsets = np.zeros(len(plans) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(kernels)
    mean, kvar = run_models(offsets, arrays, ctx.arrays)
    return ModelTotals(mean, kvar, total_var(mean, kvar, sigma), kernels, sigma)
