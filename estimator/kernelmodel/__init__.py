"""Learned, shape-aware, bounded log-correction of each kernel's roofline time.

``t_kernel = t_roofline_curves * exp(r(features))`` with ``|r| <= clip``: :mod:`features` (the
versioned feature schema), :mod:`model` (flat tree ensembles, fitting with LightGBM, prediction
with numba only), :mod:`io` (``kernel_model.json`` next to a device's hardware.json).
"""

from __future__ import annotations

from estimator.kernelmodel.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    N_FEATURES,
    OP_CODES,
    kernel_features,
)
from estimator.kernelmodel.io import (
    KERNEL_MODEL_FILE,
    kernel_model_path,
    load_device_kernel_model,
    load_kernel_model,
    save_kernel_model,
)
from estimator.kernelmodel.model import (
    DEFAULT_CLIP,
    ErrorRow,
    KernelModel,
    fit_kernel_model,
)

__all__ = [
    "DEFAULT_CLIP",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "KERNEL_MODEL_FILE",
    "N_FEATURES",
    "OP_CODES",
    "ErrorRow",
    "KernelModel",
    "fit_kernel_model",
    "kernel_features",
    "kernel_model_path",
    "load_device_kernel_model",
    "load_kernel_model",
    "save_kernel_model",
]
