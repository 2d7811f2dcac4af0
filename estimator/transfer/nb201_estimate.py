"""Estimate many NAS-Bench-201 networks on one device in one engine call.

The engine runs once over the unique kernels of the whole set (~30 for all 15,625 networks in
the reference semantics); per-network totals are a sparse product with the kernel counts. Same
arithmetic as :func:`estimator.estimate.estimate_many`: kernel variances add, the device-level
error is shared (``(device_sigma * mean)^2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from estimator.engine import lognormal_interval, pack_device, run_kernels
from estimator.estimate import BatchEstimate
from estimator.registry.loader import load_hardware, load_profile
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.kernel_set import KernelSet
from estimator.transfer.nb201_fast import nb201_kernel_set

_S_TO_MS = 1e3


def estimate_kernel_set(
    models: KernelSet,
    hw: str | Hardware,
    *,
    runtime: str,
    dtype: str = "fp32",
    threads: int | None = None,
    profile: EfficiencyProfile | None = None,
    registry: Any = None,
) -> BatchEstimate:
    """Totals of every model of ``models`` on ``hw`` (``profile``: use it instead of the
    registry's, e.g. a fresh few-shot fit)."""
    device = load_hardware(hw, registry)
    n = device.cores if threads is None else threads
    prof = profile or load_profile(device, runtime, dtype, n, registry)
    dev = pack_device(device, prof, n)
    t, v, _ = run_kernels(models.kernels, dev)
    mean = np.asarray(models.counts @ t).reshape(-1)
    var = np.asarray(models.counts @ v).reshape(-1) + (dev.device_sigma * mean) ** 2
    lo, hi = lognormal_interval(mean, var)
    return BatchEstimate(
        names=models.names,
        latency_ms=mean * _S_TO_MS,
        std_ms=np.sqrt(var) * _S_TO_MS,
        ci95_low_ms=lo * _S_TO_MS,
        ci95_high_ms=hi * _S_TO_MS,
        calibrated=prof.calibrated,
    )


def estimate_nb201(
    hw: str | Hardware,
    archs: Sequence[str] | None = None,
    *,
    runtime: str = "pytorch-eager",
    batch: int = 1,
    semantics: str = "reference",
    dtype: str = "fp32",
    threads: int | None = None,
    profile: EfficiencyProfile | None = None,
    registry: Any = None,
) -> BatchEstimate:
    """Latency of NAS-Bench-201 networks (all 15,625 when ``archs`` is None) on ``hw``."""
    models = nb201_kernel_set(archs, batch=batch, runtime=runtime, semantics=semantics)
    return estimate_kernel_set(
        models,
        hw,
        runtime=runtime,
        dtype=dtype,
        threads=threads,
        profile=profile,
        registry=registry,
    )
