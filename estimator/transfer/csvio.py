"""Read measured latencies from CSV, naming the line of every bad value.

Two layouts:

* long (``calibrate_hardware.py --from-latencies``): one measurement per row, columns ``model``
  (ONNX path, zoo name or NAS-Bench-201 arch string; ``arch_str`` or ``ref`` also accepted),
  ``latency_ms`` and optionally ``batch``;
* wide (the NAS-Bench-201 latency table): ``arch_str`` then one latency column per device.

Line numbers count the header as line 1, as editors show them. Files are read as a stream
(:func:`estimator.safe_read.csv_rows`): UTF-8 with or without a byte-order mark, regular files
only, one row in memory at a time.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from estimator.errors import InputError
from estimator.safe_read import csv_rows
from estimator.zoo.nb201_ir import parse_arch

MODEL_COLUMNS: tuple[str, ...] = ("model", "arch_str", "ref")
LATENCY_COLUMN = "latency_ms"
#: Largest ``batch`` a row may give (as ``--batch``: onnxruntime sizes are 32-bit on some paths).
MAX_BATCH = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Measurement:
    ref: str
    latency_ms: float
    batch: int
    line: int


@dataclass(frozen=True, slots=True)
class LatencyTable:
    """The wide layout: arch strings and one latency array per device column."""

    path: str
    archs: list[str]
    columns: dict[str, NDArray[np.float64]]
    lines: list[int]


def _open_rows(path: str | os.PathLike[str]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and a stream of the non-blank rows (:func:`estimator.safe_read.csv_rows`)."""
    rows = csv_rows(path, what="CSV file")
    _, header = next(rows)
    return [h.strip() for h in header], rows


def _latency(p: str, line: int, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(
            f"{p}: line {line}: column '{column}': latency {text.strip()[:40]!r} is not a number"
        ) from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{p}: line {line}: column '{column}': latency must be > 0 ms, got {v}")
    return v


def _arch(p: str, line: int, text: str) -> str:
    arch = text.strip()
    try:
        parse_arch(arch)
    except InputError as exc:
        raise InputError(f"{p}: line {line}: {exc}") from None
    return arch


def _cell(p: str, line: int, header: list[str], row: list[str], col: int) -> str:
    if col >= len(row):
        raise InputError(f"{p}: line {line}: missing value for column '{header[col]}'")
    return row[col]


@dataclass(frozen=True, slots=True)
class MeasurementColumns:
    """The long layout as arrays: ``refs[i]`` was measured at ``latency_ms[i]`` (``batch[i]``,
    file line ``line[i]``). Equal references are one string object, so a million rows of a few
    thousand networks cost a few tens of MB."""

    path: str
    refs: list[str]
    latency_ms: NDArray[np.float64]
    batch: NDArray[np.int64]
    line: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.refs)

    def measurements(self) -> list[Measurement]:
        return [
            Measurement(r, float(y), int(b), int(n))
            for r, y, b, n in zip(self.refs, self.latency_ms, self.batch, self.line, strict=True)
        ]


def _batch(p: str, line: int, text: str) -> int:
    text = text.strip()
    if not text:
        return 1
    try:
        batch = int(text)
    except ValueError:
        raise InputError(
            f"{p}: line {line}: column 'batch': {text[:40]!r} is not an integer"
        ) from None
    if batch < 1 or batch > MAX_BATCH:
        raise InputError(f"{p}: line {line}: column 'batch': must be in 1..{MAX_BATCH}")
    return batch


def read_measurement_columns(path: str | os.PathLike[str]) -> MeasurementColumns:
    """The long layout, streamed: the file is never held whole, and each distinct reference is
    checked once (NAS-Bench-201 strings here; files and zoo names when they are resolved)."""
    p = str(path)
    header, rows = _open_rows(path)
    model_col = next((header.index(c) for c in MODEL_COLUMNS if c in header), None)
    if model_col is None:
        raise InputError(
            f"{p}: line 1: missing column 'model' (or {', '.join(MODEL_COLUMNS[1:])}); "
            f"found: {', '.join(header)[:200]}"
        )
    if LATENCY_COLUMN not in header:
        raise InputError(
            f"{p}: line 1: missing column '{LATENCY_COLUMN}'; found: {', '.join(header)[:200]}"
        )
    lat_col = header.index(LATENCY_COLUMN)
    batch_col = header.index("batch") if "batch" in header else None
    need = max(model_col, lat_col, -1 if batch_col is None else batch_col)
    seen: dict[str, str] = {}  # each distinct reference, checked once, one string object
    refs: list[str] = []
    lat = array("d")
    batches = array("q")
    lines = array("q")
    isfinite = math.isfinite
    for line, row in rows:
        if len(row) <= need:
            for col in (model_col, lat_col, batch_col):
                if col is not None:
                    _cell(p, line, header, row, col)
        text = row[model_col]
        ref = seen.get(text)
        if ref is None:
            ref = text.strip()
            if not ref:
                raise InputError(f"{p}: line {line}: empty model reference")
            if ref.startswith("|"):
                ref = _arch(p, line, ref)
            seen[text] = ref
        try:
            v = float(row[lat_col])
        except ValueError:
            v = math.nan
        if not (isfinite(v) and v > 0):
            v = _latency(p, line, LATENCY_COLUMN, row[lat_col])
        refs.append(ref)
        lat.append(v)
        batches.append(1 if batch_col is None else _batch(p, line, row[batch_col]))
        lines.append(line)
    if not refs:
        raise InputError(f"{p}: no measurements (only a header)")
    return MeasurementColumns(
        p,
        refs,
        np.frombuffer(lat, dtype=np.float64),
        np.frombuffer(batches, dtype=np.int64),
        np.frombuffer(lines, dtype=np.int64),
    )


def read_measurements(path: str | os.PathLike[str]) -> list[Measurement]:
    """The long layout as one :class:`Measurement` per row (:func:`read_measurement_columns`)."""
    return read_measurement_columns(path).measurements()


def load_latency_table(
    path: str | os.PathLike[str], *, rows: int | None = None, arch_column: str = "arch_str"
) -> LatencyTable:
    """The wide layout; ``rows`` keeps only the first data rows (the benchmark uses 1,900)."""
    p = str(path)
    header, data = _open_rows(path)
    if arch_column not in header:
        raise InputError(f"{p}: line 1: missing column '{arch_column}'; found: {', '.join(header)}")
    a = header.index(arch_column)
    skip = {arch_column, "nb201_index", "index"}
    cols = [i for i, h in enumerate(header) if h not in skip]
    if not cols:
        raise InputError(f"{p}: line 1: no latency columns besides '{arch_column}'")
    archs: list[str] = []
    flat = array("d")
    lines: list[int] = []
    for line, row in data:
        if rows is not None and len(archs) >= rows:
            break
        archs.append(_arch(p, line, _cell(p, line, header, row, a)))
        for c in cols:
            flat.append(_latency(p, line, header[c], _cell(p, line, header, row, c)))
        lines.append(line)
    values = np.frombuffer(flat, dtype=np.float64).reshape(len(archs), len(cols))
    return LatencyTable(p, archs, {header[c]: values[:, j] for j, c in enumerate(cols)}, lines)


def quantum_of(latencies: NDArray[np.float64]) -> float | None:
    """1.0 when every latency is a whole number of milliseconds (phone columns), else None."""
    y = np.asarray(latencies, dtype=np.float64)
    if y.size and bool(np.all(y == np.round(y))):
        return 1.0
    return None
