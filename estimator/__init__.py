"""Calibrated roofline latency estimator for neural networks.

The public API lives here; the CLI, the calibration tools and any service use only these names.
"""

import sys
from importlib import import_module
from types import ModuleType

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
    value = getattr(import_module(module), name)
    globals()[name] = value  # resolved once; later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(ModuleType):
    """The ``estimator`` package: public callables win over same-named submodules.

    Importing ``estimator.estimate``, ``estimator.measure`` or ``estimator.partition`` makes the
    import system set the submodule as an attribute of the package, which would shadow the
    function of the same name (``from estimator import estimate`` would give the module). Such a
    setattr is dropped here: the submodule stays in ``sys.modules`` (``from estimator.estimate
    import X`` keeps working) and the name resolves lazily to the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if (
            name in _LAZY
            and isinstance(value, ModuleType)
            and value.__name__ == f"{__name__}.{name}"
        ):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
