"""The roofline engine: flat-array numba kernels, device packing and uncertainty."""

from estimator.engine.pack import DeviceArrays, KernelArrays, pack_device
from estimator.engine.roofline import (
    BOUND_NAMES,
    Bound,
    combine_terms,
    ideal_terms,
    kernel_terms,
    run_kernels,
    run_models,
)
from estimator.engine.uncertainty import Z95, combine, lognormal_interval

__all__ = [
    "BOUND_NAMES",
    "Z95",
    "Bound",
    "DeviceArrays",
    "KernelArrays",
    "combine",
    "combine_terms",
    "ideal_terms",
    "kernel_terms",
    "lognormal_interval",
    "pack_device",
    "run_kernels",
    "run_models",
]
