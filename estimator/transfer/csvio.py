"""Read measured latencies from CSV, naming the line of every bad value.

Two layouts:

* long (``calibrate_hardware.py --from-latencies``): one measurement per row, columns ``model``
  (ONNX path, zoo name or NAS-Bench-201 arch string; ``arch_str`` or ``ref`` also accepted),
  ``latency_ms`` and optionally ``batch``;
* wide (the NAS-Bench-201 latency table): ``arch_str`` then one latency column per device.

Line numbers count the header as line 1, as editors show them.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from estimator.errors import InputError
from estimator.zoo.nb201_ir import parse_arch

MODEL_COLUMNS: tuple[str, ...] = ("model", "arch_str", "ref")
LATENCY_COLUMN = "latency_ms"


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


def _open_rows(path: str | os.PathLike[str]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{p}: empty file (need a header line)") from None
        except csv.Error as exc:
            raise InputError(f"{p}: line 1: {exc}") from None
        rows: list[tuple[int, list[str]]] = []
        try:
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise InputError(f"{p}: line {reader.line_num}: {exc}") from None
    return [h.strip() for h in header], rows


def _latency(p: str, line: int, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(
            f"{p}: line {line}: column '{column}': latency {text.strip()!r} is not a number"
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


def read_measurements(path: str | os.PathLike[str]) -> list[Measurement]:
    """The long layout; every reference is checked later, NAS-Bench-201 strings here."""
    p = str(path)
    header, rows = _open_rows(path)
    model_col = next((header.index(c) for c in MODEL_COLUMNS if c in header), None)
    if model_col is None:
        raise InputError(
            f"{p}: line 1: missing column 'model' (or {', '.join(MODEL_COLUMNS[1:])}); "
            f"found: {', '.join(header)}"
        )
    if LATENCY_COLUMN not in header:
        raise InputError(
            f"{p}: line 1: missing column '{LATENCY_COLUMN}'; found: {', '.join(header)}"
        )
    lat_col = header.index(LATENCY_COLUMN)
    batch_col = header.index("batch") if "batch" in header else None
    out: list[Measurement] = []
    for line, row in rows:
        ref = _cell(p, line, header, row, model_col).strip()
        if not ref:
            raise InputError(f"{p}: line {line}: empty model reference")
        if ref.startswith("|"):
            ref = _arch(p, line, ref)
        lat = _latency(p, line, LATENCY_COLUMN, _cell(p, line, header, row, lat_col))
        batch = 1
        if batch_col is not None:
            text = _cell(p, line, header, row, batch_col).strip()
            if text:
                try:
                    batch = int(text)
                except ValueError:
                    raise InputError(
                        f"{p}: line {line}: column 'batch': {text!r} is not an integer"
                    ) from None
                if batch < 1:
                    raise InputError(f"{p}: line {line}: column 'batch': must be >= 1")
        out.append(Measurement(ref, lat, batch, line))
    if not out:
        raise InputError(f"{p}: no measurements (only a header)")
    return out


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
    if rows is not None:
        data = data[:rows]
    archs: list[str] = []
    values = np.empty((len(data), len(cols)))
    lines: list[int] = []
    for r, (line, row) in enumerate(data):
        archs.append(_arch(p, line, _cell(p, line, header, row, a)))
        for j, c in enumerate(cols):
            values[r, j] = _latency(p, line, header[c], _cell(p, line, header, row, c))
        lines.append(line)
    return LatencyTable(p, archs, {header[c]: values[:, j] for j, c in enumerate(cols)}, lines)


def quantum_of(latencies: NDArray[np.float64]) -> float | None:
    """1.0 when every latency is a whole number of milliseconds (phone columns), else None."""
    y = np.asarray(latencies, dtype=np.float64)
    if y.size and bool(np.all(y == np.round(y))):
        return 1.0
    return None
