"""The one tidy table every efficiency analysis reads: (model, device, latency_ms[, memory_mb,
flops, params, accuracy, energy_j]).

Measured CSVs (wide: one latency column per device; long: one row per model and device), the
results store and the estimator's own predictions all become an :class:`EfficiencyTable`, so the
analyses never care where the numbers came from. Per-(model, device) quantities are matrices
(models x devices, NaN where a pair was not measured); per-model quantities (FLOPs, params,
accuracy) are vectors, because they do not depend on the device.

Bad rows are one :class:`~estimator.errors.InputError` naming the file, line and column: missing
columns, values that are not finite numbers, non-positive latency, duplicate (model, device) rows
and a per-model column that changes between a model's rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from estimator.errors import InputError

#: Quantities measured per (model, device).
PAIR_COLUMNS: tuple[str, ...] = ("latency_ms", "memory_mb", "energy_j")
#: Quantities of the model alone.
MODEL_COLUMNS: tuple[str, ...] = ("flops", "params", "accuracy")
#: Column names accepted for the model (``arch_str``: the NAS-Bench-201 table).
MODEL_NAMES: tuple[str, ...] = ("model", "arch_str", "ref")
#: Wide-layout columns that are neither a model name nor a device.
INDEX_COLUMNS: frozenset[str] = frozenset({"nb201_index", "index"})

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Row:
    """One tidy row, with the line it came from (0 when it was not read from a file)."""

    model: str
    device: str
    latency_ms: float
    memory_mb: float | None = None
    energy_j: float | None = None
    flops: float | None = None
    params: float | None = None
    accuracy: float | None = None
    line: int = 0


@dataclass(frozen=True)
class EfficiencyTable:
    """Models x devices. ``pair`` holds latency_ms and any of memory_mb / energy_j (matrices, NaN
    where missing); ``model`` any of flops / params / accuracy (vectors)."""

    models: tuple[str, ...]
    devices: tuple[str, ...]
    pair: Mapping[str, Matrix]
    model: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    #: Where the numbers came from (a file, "results store <path>", "estimate_many ...").
    source: str = ""

    @property
    def latency_ms(self) -> Matrix:
        return self.pair["latency_ms"]

    def has(self, column: str) -> bool:
        return column in self.pair or column in self.model

    def column(self, column: str) -> NDArray[np.float64]:
        if column in self.pair:
            return self.pair[column]
        if column in self.model:
            return self.model[column]
        raise InputError(f"{self.source or 'table'}: no column {column!r} (have {self.columns()})")

    def columns(self) -> list[str]:
        return ["model", "device", *self.pair, *self.model]

    def select(
        self, models: Sequence[int] | None = None, devices: Sequence[int] | None = None
    ) -> EfficiencyTable:
        """The rows ``models`` and columns ``devices`` (indices), in that order."""
        mi = np.arange(len(self.models)) if models is None else np.asarray(models, dtype=np.int64)
        di = np.arange(len(self.devices)) if devices is None else np.asarray(devices, np.int64)
        return EfficiencyTable(
            tuple(self.models[i] for i in mi),
            tuple(self.devices[j] for j in di),
            {k: v[np.ix_(mi, di)] for k, v in self.pair.items()},
            {k: v[mi] for k, v in self.model.items()},
            self.source,
        )

    def select_devices(self, names: Sequence[str]) -> EfficiencyTable:
        missing = [n for n in names if n not in self.devices]
        if missing:
            raise InputError(
                f"{self.source or 'table'}: no device {missing[0]!r} "
                f"(have {', '.join(self.devices)})"
            )
        return self.select(devices=[self.devices.index(n) for n in names])

    def complete(self) -> tuple[EfficiencyTable, tuple[str, ...]]:
        """The models with a latency on every device, and the names of those dropped."""
        ok = np.all(np.isfinite(self.latency_ms), axis=1)
        dropped = tuple(m for m, keep in zip(self.models, ok, strict=True) if not keep)
        return self.select(models=np.flatnonzero(ok).tolist()), dropped

    def trim(self, low: float, high: float) -> EfficiencyTable:
        """The models whose latency lies within the [low, high] percentiles on every device
        (the NAS-Bench-201 benchmark protocol keeps 10-90, which drops the networks without a
        path from input to output)."""
        lat = self.latency_ms
        lo, hi = np.nanpercentile(lat, [low, high], axis=0)
        keep = np.all((lat >= lo[None, :]) & (lat <= hi[None, :]), axis=1)
        return self.select(models=np.flatnonzero(keep).tolist())

    def with_model_columns(self, **cols: Sequence[float] | NDArray[np.float64]) -> EfficiencyTable:
        """This table with per-model columns added or replaced (e.g. FLOPs from the cost model)."""
        extra = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
        for k, v in extra.items():
            if k not in MODEL_COLUMNS or v.shape != (len(self.models),):
                raise ValueError(f"{k}: one value per model of a known per-model column")
        return replace(self, model={**self.model, **extra})

    def rows(self) -> Iterator[Row]:
        """The tidy rows (model-major), skipping pairs without a latency."""
        for i, m in enumerate(self.models):
            per_model = {k: float(v[i]) for k, v in self.model.items() if math.isfinite(v[i])}
            for j, d in enumerate(self.devices):
                if not math.isfinite(self.latency_ms[i, j]):
                    continue
                pair = {k: float(v[i, j]) for k, v in self.pair.items() if math.isfinite(v[i, j])}
                yield Row(m, d, **pair, **per_model)  # type: ignore[arg-type]


def from_rows(rows: Iterable[Row], *, source: str = "") -> EfficiencyTable:
    """Build the table from tidy rows, refusing duplicates and per-model columns that change."""
    where = f"{source}: " if source else ""
    models: dict[str, int] = {}
    devices: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    kept: list[Row] = []
    model_vals: dict[tuple[str, str], tuple[float, int]] = {}
    for r in rows:
        key = (r.model, r.device)
        if key in seen:
            raise InputError(
                f"{where}line {r.line}: duplicate row for model {r.model!r} on device "
                f"{r.device!r} (first at line {seen[key]})"
            )
        seen[key] = r.line
        models.setdefault(r.model, len(models))
        devices.setdefault(r.device, len(devices))
        for c in MODEL_COLUMNS:
            v = getattr(r, c)
            if v is None:
                continue
            prev = model_vals.setdefault((r.model, c), (v, r.line))
            if prev[0] != v:
                raise InputError(
                    f"{where}line {r.line}: column '{c}' of model {r.model!r} is {v:g}, but "
                    f"{prev[0]:g} at line {prev[1]} (a per-model value must not change by device)"
                )
        kept.append(r)
    if not kept:
        raise InputError(f"{where}no rows")
    shape = (len(models), len(devices))
    pair: dict[str, Matrix] = {}
    for c in PAIR_COLUMNS:
        if c == "latency_ms" or any(getattr(r, c) is not None for r in kept):
            pair[c] = np.full(shape, np.nan)
    for r in kept:
        for c, m in pair.items():
            v = getattr(r, c)
            if v is not None:
                m[models[r.model], devices[r.device]] = v
    per_model: dict[str, NDArray[np.float64]] = {}
    for c in MODEL_COLUMNS:
        if any(getattr(r, c) is not None for r in kept):
            vec = np.full(len(models), np.nan)
            for (name, col), (v, _) in model_vals.items():
                if col == c:
                    vec[models[name]] = v
            per_model[c] = vec
    return EfficiencyTable(tuple(models), tuple(devices), pair, per_model, source)


# ----------------------------------------------------------------------------- CSV


def _number(path: str, line: int, column: str, text: str, *, positive: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(
            f"{path}: line {line}: column '{column}': {text.strip()!r} is not a number"
        ) from None
    if not math.isfinite(v):
        raise InputError(f"{path}: line {line}: column '{column}': {text.strip()} is not finite")
    if positive and v <= 0:
        raise InputError(f"{path}: line {line}: column '{column}': must be > 0, got {v:g}")
    if v < 0:
        raise InputError(f"{path}: line {line}: column '{column}': must be >= 0, got {v:g}")
    return v


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except StopIteration:
        raise InputError(f"{path}: empty file (need a header line)") from None
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: {exc}") from None
    return header, rows


def _cell(path: str, line: int, header: list[str], row: list[str], col: int) -> str:
    if col >= len(row) or not row[col].strip():
        raise InputError(f"{path}: line {line}: missing value for column '{header[col]}'")
    return row[col].strip()


def _optional(
    path: str, line: int, header: list[str], row: list[str], col: int | None, positive: bool
) -> float | None:
    if col is None or col >= len(row) or not row[col].strip():
        return None
    return _number(path, line, header[col], row[col], positive=positive)


def read_csv(path: str | Path) -> EfficiencyTable:
    """A measured table from CSV, long or wide.

    Long: columns ``model`` (or ``arch_str``/``ref``), ``device``, ``latency_ms`` and any of
    memory_mb, energy_j, flops, params, accuracy. Wide (the NAS-Bench-201 table): a model column
    and one latency column per device; ``nb201_index``/``index`` are skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    header, data = _read(p)
    name = str(p)
    mcol = next((header.index(c) for c in MODEL_NAMES if c in header), None)
    if mcol is None:
        raise InputError(
            f"{name}: line 1: missing column 'model' (or {', '.join(MODEL_NAMES[1:])}); "
            f"found: {', '.join(header)}"
        )
    dup = next((h for h in header if header.count(h) > 1), None)
    if dup is not None:
        raise InputError(f"{name}: line 1: column {dup!r} appears twice")
    if "device" in header:
        return _long(name, header, data, mcol)
    return _wide(name, header, data, mcol)


def _long(
    name: str, header: list[str], data: list[tuple[int, list[str]]], mcol: int
) -> EfficiencyTable:
    if "latency_ms" not in header:
        raise InputError(f"{name}: line 1: missing column 'latency_ms'; found: {', '.join(header)}")
    dcol = header.index("device")
    idx = {c: header.index(c) if c in header else None for c in (*PAIR_COLUMNS, *MODEL_COLUMNS)}

    def rows() -> Iterator[Row]:
        for line, row in data:
            vals = {
                c: _optional(name, line, header, row, idx[c], positive=c == "latency_ms")
                for c in idx
                if c != "latency_ms"
            }
            lat = _cell(name, line, header, row, idx["latency_ms"] or 0)
            yield Row(
                model=_cell(name, line, header, row, mcol),
                device=_cell(name, line, header, row, dcol),
                latency_ms=_number(name, line, "latency_ms", lat, positive=True),
                line=line,
                **vals,
            )

    return from_rows(rows(), source=name)


def _wide(
    name: str, header: list[str], data: list[tuple[int, list[str]]], mcol: int
) -> EfficiencyTable:
    named = {header[mcol], *INDEX_COLUMNS, *MODEL_COLUMNS}
    dcols = [i for i, h in enumerate(header) if h not in named]
    if not dcols:
        raise InputError(f"{name}: line 1: no device columns besides '{header[mcol]}'")
    mcols = {c: header.index(c) for c in MODEL_COLUMNS if c in header}
    # One row per model: the matrix is filled directly (the 15,625 x 13 NAS-Bench-201 table
    # would be 200k tidy rows), with the same checks as the long layout.
    first: dict[str, int] = {}
    lat = np.empty((len(data), len(dcols)))
    per_model = {c: np.full(len(data), np.nan) for c in mcols}
    for r, (line, row) in enumerate(data):
        model = _cell(name, line, header, row, mcol)
        if model in first:
            raise InputError(
                f"{name}: line {line}: duplicate row for model {model!r} on device "
                f"{header[dcols[0]]!r} (first at line {first[model]})"
            )
        first[model] = line
        for k, j in enumerate(dcols):
            lat[r, k] = _number(
                name, line, header[j], _cell(name, line, header, row, j), positive=True
            )
        for c, i in mcols.items():
            v = _optional(name, line, header, row, i, positive=False)
            if v is not None:
                per_model[c][r] = v
    if not first:
        raise InputError(f"{name}: no rows")
    return EfficiencyTable(
        tuple(first), tuple(header[j] for j in dcols), {"latency_ms": lat}, per_model, name
    )


def with_model_csv(table: EfficiencyTable, path: str | Path, column: str) -> EfficiencyTable:
    """``table`` with the per-model ``column`` (flops, params or accuracy) read from a CSV of
    ``model,<column>`` (other columns ignored); models the file does not name get NaN, which the
    analyses name as missing. A model named twice or a bad value is an error naming the line."""
    if column not in MODEL_COLUMNS:
        raise InputError(f"{column!r} is not a per-model column ({', '.join(MODEL_COLUMNS)})")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    header, data = _read(p)
    mcol = next((header.index(c) for c in MODEL_NAMES if c in header), None)
    if mcol is None or column not in header:
        raise InputError(
            f"{p}: line 1: need columns 'model' and '{column}'; found: {', '.join(header)}"
        )
    vcol = header.index(column)
    found: dict[str, tuple[float, int]] = {}
    for line, row in data:
        model = _cell(str(p), line, header, row, mcol)
        if model in found:
            raise InputError(
                f"{p}: line {line}: model {model!r} again (first at line {found[model][1]})"
            )
        v = _number(str(p), line, column, _cell(str(p), line, header, row, vcol), positive=False)
        found[model] = (v, line)
    vec = np.array([found[m][0] if m in found else np.nan for m in table.models])
    return table.with_model_columns(**{column: vec})


def to_csv_text(table: EfficiencyTable) -> str:
    """The long (tidy) layout, which :func:`read_csv` reads back."""
    cols = [c for c in (*PAIR_COLUMNS, *MODEL_COLUMNS) if table.has(c)]
    lines = [",".join(["model", "device", *cols])]
    for r in table.rows():
        vals = [getattr(r, c) for c in cols]
        cells = ["" if v is None else f"{v:.10g}" for v in vals]
        lines.append(",".join([_quote(r.model), _quote(r.device), *cells]))
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
