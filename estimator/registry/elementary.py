"""A device's own elementary-function work: ``elementary_work.json`` next to its hardware.json.

The runtime's fusion rules carry a default table (FLOP-equivalents per output element of erf,
sigmoid, GELU, ...), measured on one CPU. The figure is the implementation's instruction count
per element relative to the peak, and that depends on the ISA path the runtime takes (MLAS runs
AVX-512 kernels on Zen 4 and AVX2 kernels on Zen 3: QuickGelu 40.7 vs 65.5). A device that has
measured its own table (``tools/measure_elementary_work.py --write``) uses it instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from estimator.errors import RegistryError
from estimator.registry.loader import (
    RegistryArg,
    _read_json,
    _stamp_or_none,
    _validate,
    load_hardware,
    write_atomic,
)
from estimator.registry.models import ElementaryWorkFile, ElementaryWorkTable, Hardware

ELEMENTARY_FILE = "elementary_work.json"
SCHEMA = "elementary_work.schema.json"


@lru_cache(maxsize=64)
def _parse(path: str, _stamp: tuple[int, int]) -> ElementaryWorkFile:
    p = Path(path)
    return _validate(p, _read_json(p), SCHEMA, ElementaryWorkFile)


def load_elementary_work(
    hw: Hardware | str, runtime: str, registry: RegistryArg = None
) -> Mapping[str, float] | None:
    """The device's FLOP-equivalents per element for ``runtime`` (canonical name), or None when
    it has measured none (the runtime's default table then applies).

    Called on every estimate, so it costs one stat: ``source_dir`` is already resolved, and the
    parsed file is cached by path and stamp."""
    device = load_hardware(hw, registry)
    if device.source_dir is None:  # a device built in code has no folder
        return None
    path = os.path.join(device.source_dir, ELEMENTARY_FILE)
    stamp = _stamp_or_none(path)
    if stamp is None:
        return None
    table = _parse(path, stamp).runtimes.get(runtime)
    return None if table is None else table.flop_equivalents


def save_elementary_work(
    folder: str | Path, device: str, runtime: str, table: ElementaryWorkTable
) -> Path:
    """Write ``table`` for ``runtime`` into ``folder``/elementary_work.json atomically, keeping
    the tables of other runtimes."""
    target = Path(folder) / ELEMENTARY_FILE
    if not target.parent.is_dir():
        raise RegistryError(f"{target.parent}: folder does not exist")
    runtimes: dict[str, ElementaryWorkTable] = {}
    stamp = _stamp_or_none(target)
    if stamp is not None:
        runtimes = dict(_parse(str(target.resolve()), stamp).runtimes)
    runtimes[runtime] = table
    data = ElementaryWorkFile(device=device, runtimes=runtimes).model_dump(mode="json")
    _validate(target, data, SCHEMA, ElementaryWorkFile)
    write_atomic(target, json.dumps(data, indent=2) + "\n")
    return target
