"""Calibrated roofline latency estimator for neural networks.

The public API lives here; the CLI, the calibration tools and any service use only these names.
"""

from estimator.errors import (
    EstimatorError,
    InputError,
    ModelLoadError,
    RegistryError,
    UnboundDimError,
    UnsupportedOpError,
)
from estimator.ir import DType, Graph, Node, OpType, TensorInfo

__all__ = [
    "DType",
    "EstimatorError",
    "Graph",
    "InputError",
    "ModelLoadError",
    "Node",
    "OpType",
    "RegistryError",
    "TensorInfo",
    "UnboundDimError",
    "UnsupportedOpError",
]
__version__ = "0.1.0"
