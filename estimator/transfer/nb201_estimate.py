"""Estimate many NAS-Bench-201 networks on one device in one engine call.

The engine runs once over the unique kernels of the whole set (~30 for all 15,625 networks in
the reference semantics); per-network totals are a sparse product with the kernel counts. Same
arithmetic as :func:`estimator.estimate.estimate_many`: kernel variances add, the device-level
error is shared (``(device_sigma * mean)^2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from estimator.device import DeviceContext, device_context
from estimator.engine.kernel_set import KernelSet
from estimator.estimate import BatchEstimate
from estimator.predictor import predict_models
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.nb201_fast import nb201_kernel_set
from estimator.zoo.nb201_reference import DEFAULT_SEMANTICS


def estimate_kernel_set(
    models: KernelSet,
    hw: str | Hardware | DeviceContext,
    *,
    runtime: str,
    dtype: str = "fp32",
    threads: int | None = None,
    profile: EfficiencyProfile | None = None,
    registry: Any = None,
) -> BatchEstimate:
    """Totals of every model of ``models`` on ``hw`` (``profile``: use it instead of the
    registry's, e.g. a fresh few-shot fit), through the one predictor."""
    ctx = device_context(
        hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry, profile=profile
    )
    return BatchEstimate.of(models.names, predict_models(models, ctx), ctx)


def estimate_nb201(
    hw: str | Hardware,
    archs: Sequence[str] | None = None,
    *,
    runtime: str = "pytorch-eager",
    batch: int = 1,
    semantics: str = DEFAULT_SEMANTICS,
    dtype: str = "fp32",
    threads: int | None = None,
    profile: EfficiencyProfile | None = None,
    registry: Any = None,
) -> BatchEstimate:
    """Latency of NAS-Bench-201 networks (all 15,625 when ``archs`` is None) on ``hw``."""
    ctx = device_context(
        hw, runtime=runtime, dtype=dtype, threads=threads, registry=registry, profile=profile
    )
    models = nb201_kernel_set(
        archs, batch=batch, runtime=runtime, semantics=semantics, nchwc_block=ctx.nchwc_block
    )
    return estimate_kernel_set(models, ctx, runtime=runtime)
