"""A few-shot fit (:func:`estimator.transfer.fit_from_latencies`) as a JSON document: what was
fitted, how well, and the profile the estimator loads (``POST /v1/calibrations/from-latencies``).
"""

from __future__ import annotations

import math
from typing import Any

from estimator.registry.models import EfficiencyProfile
from estimator.transfer import FewShotFit

FEW_SHOT_SCHEMA_VERSION = 1


def few_shot_to_dict(
    fit: FewShotFit, profile: EfficiencyProfile, *, written: str | None
) -> dict[str, Any]:
    """``written``: where the profile was stored (None: returned only, not stored)."""
    rms = fit.rms_log_residual
    return {
        "schema_version": FEW_SHOT_SCHEMA_VERSION,
        "kind": "few_shot_calibration",
        "hardware": fit.hw.id,
        "runtime": fit.runtime,
        "dtype": fit.dtype,
        "threads": fit.threads,
        "k": fit.k,
        "scales": fit.scales,
        "rms_log_residual": rms if math.isfinite(rms) else None,
        "device_sigma": profile.device_sigma,
        "written": written,
        "profile": profile.model_dump(mode="json", exclude={"threads_matched", "prior_categories"}),
    }
