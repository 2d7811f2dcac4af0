"""Fit a device's learned shape correction on top of its fitted curves.

The curves (:mod:`estimator.calibration.fit`) see a kernel through its category and log size
only. What is left, ``y = log(t_measured / t_curves)`` per measured kernel, depends on the shape
(groups, channels per group, kernel size, M/N/K, working set against the caches); gradient
boosted trees over the kernel's shape features (:mod:`estimator.kernelmodel`) learn it. The base
``t_curves`` comes from the one predictor with the curves alone, so the correction is fitted to
exactly what it corrects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from estimator.calibration.attribute import KernelPoint
from estimator.device import device_context
from estimator.engine import KernelArrays
from estimator.engine.layout import CATEGORY_INDEX
from estimator.kernelmodel.model import KernelModel, fit_kernel_model
from estimator.predictor import predict_kernels
from estimator.registry.models import EfficiencyProfile, Hardware


def point_arrays(points: Sequence[KernelPoint]) -> KernelArrays:
    """Engine columns of measured kernels (their features included)."""
    feats = np.stack([np.asarray(p.features, dtype=np.float64) for p in points])
    return KernelArrays.build(
        [p.flops for p in points],
        [p.bytes for p in points],
        [p.working_set for p in points],
        [CATEGORY_INDEX[p.category] for p in points],
        [p.dtype for p in points],
        features=feats,
    )


def fit_correction(
    points: Sequence[KernelPoint],
    hw: Hardware,
    base: EfficiencyProfile,
    threads: int,
    *,
    runtime: str,
    seed: int = 0,
    min_points: int = 200,
    score: bool = True,
) -> KernelModel | None:
    """The shape correction of ``base``'s curves from measured ``points`` (None when fewer than
    ``min_points`` carry features). ``score=False``: no held-out error table (a refit)."""
    pts = [p for p in points if p.features is not None and p.t > 0]
    if len(pts) < min_points:
        return None
    ctx = device_context(hw, runtime=runtime, threads=threads, profile=base, kernel_model=None)
    arrays = point_arrays(pts)
    t_base = predict_kernels(arrays, ctx).time
    y = np.log(np.array([p.t for p in pts]) / t_base)
    assert arrays.features is not None
    return fit_kernel_model(
        arrays.features,
        y,
        categories=[p.category for p in pts],
        seed=seed,
        score=score,
        groups=[p.model for p in pts],
        device=hw.id,
        runtime=runtime,
        threads=threads,
    )
