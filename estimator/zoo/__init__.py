"""Model zoo: the seed CNN/ViT models, NAS-Bench-201 cells and decoder LLMs.

Importing this package does not import torch; the ``nb201`` and ``decoders`` submodules load on
first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

from estimator.zoo.registry import (
    Published,
    build,
    default_resolution,
    get,
    graph,
    names,
    published,
)

__all__ = [
    "Published",
    "build",
    "decoders",
    "default_resolution",
    "get",
    "graph",
    "names",
    "nb201",
    "published",
]

_LAZY_SUBMODULES = ("nb201", "decoders")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"estimator.zoo.{name}")
    raise AttributeError(f"module 'estimator.zoo' has no attribute {name!r}")
