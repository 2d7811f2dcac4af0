"""Signal-to-noise (seed 000, chapter 11): rankings transfer when the differences between models
(architecture) are larger than the differences one model shows across devices (hardware).

Each latency is first divided by its device's geometric mean over the models, so a device that
is simply faster does not count as noise, and no baseline model has to be picked. Then:

* inter-model range = largest / smallest per-model geometric mean of those ratios;
* intra-model range = median over models of (largest / smallest ratio across devices);
* SNR = inter / intra (seed 000 reports 4.7 / 2.7 = 1.74 on its 13 models).

The log-scale standard deviations (between models; within a model across devices) are given
too: they use every value, not only the extremes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.ranks import geomean
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError


@dataclass(frozen=True)
class SnrResult:
    models: tuple[str, ...]
    inter_range: float
    intra_range: float
    #: Per model: largest / smallest normalised latency across devices.
    intra_per_model: NDArray[np.float64]
    sd_between: float
    sd_within: float

    @property
    def snr(self) -> float:
        return self.inter_range / self.intra_range

    @property
    def snr_sd(self) -> float:
        return self.sd_between / self.sd_within if self.sd_within > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        return {
            "inter_model_range": self.inter_range,
            "intra_model_range": self.intra_range,
            "snr": self.snr,
            "sd_between_log": self.sd_between,
            "sd_within_log": self.sd_within,
            "snr_sd": self.snr_sd,
        }


def signal_to_noise(table: EfficiencyTable) -> SnrResult:
    if len(table.devices) < 2 or len(table.models) < 2:
        raise InputError("signal-to-noise needs at least two models and two devices")
    lat = table.latency_ms
    norm = lat / geomean(lat, axis=0)[None, :]
    per_model = geomean(norm, axis=1)
    intra = np.max(norm, axis=1) / np.min(norm, axis=1)
    logs = np.log(norm)
    within = logs - np.mean(logs, axis=1, keepdims=True)
    return SnrResult(
        table.models,
        float(np.max(per_model) / np.min(per_model)),
        float(np.median(intra)),
        intra,
        float(np.std(np.mean(logs, axis=1))),
        float(np.sqrt(np.mean(within**2))),
    )
