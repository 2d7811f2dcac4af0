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

# Heavy entry points load on first use so `import estimator` stays cheap for the CLI's cold start.
_LAZY = {
    "load_model": "estimator.loading",
    "analyze_graph": "estimator.analysis",
    "ModelCost": "estimator.analysis",
    "estimate": "estimator.estimate",
    "estimate_many": "estimator.estimate",
    "Estimate": "estimator.estimate",
    "prepare": "estimator.estimate",
    "default_runtime": "estimator.estimate",
    "partition": "estimator.partition",
    "load_hardware": "estimator.registry",
    "list_hardware": "estimator.registry",
    "measure": "estimator.measure",
    "ResultsStore": "estimator.measure",
}
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'estimator' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
