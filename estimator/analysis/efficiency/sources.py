"""Where an efficiency table comes from besides a CSV: the results store, the estimator's own
predictions, and per-model costs (FLOPs, params) from the project's cost model.

A device name in a table is resolved to a registry device the way the NAS-Bench-201 columns are
(:func:`estimator.transfer.column_setup`: an alias, optionally with ``_<batch>``), so the
analyses can group devices by registry type and ask the estimator about them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.table import EfficiencyTable, Row, from_rows
from estimator.errors import InputError

MIB = 1024.0 * 1024.0


def device_type(device: str) -> str:
    """The registry type (gpu, cpu, mobile, ...) of a table's device column; "unknown" when no
    registry device answers to it."""
    from estimator.transfer import column_setup

    try:
        hw = column_setup(device).hardware
    except InputError:
        return "unknown"
    from estimator.registry import load_hardware

    return str(load_hardware(hw).type)


def from_store(path: str | Path | None = None, *, runtime: str | None = None) -> EfficiencyTable:
    """Complete runs of the results store as a table: one device per (machine, runtime,
    threads, batch, dtype), the latest run of each model there, latency = its median (p50),
    memory = its peak RSS when recorded."""
    from estimator.measure.store import ResultsStore, default_db_path

    db = Path(path) if path is not None else default_db_path()
    if not db.is_file():
        raise InputError(f"{db}: no results store there (measure-latency writes one)")
    with ResultsStore(db) as store:
        runs = [r for r in store.runs(runtime=runtime) if r.status == "complete"]
    latest: dict[tuple[str, str], Row] = {}
    for r in runs:
        stats = r.summary.get("stats") or {}
        p50 = stats.get("p50_ms")
        if not isinstance(p50, int | float) or not p50 > 0:
            continue
        cpu = str((r.summary.get("fingerprint") or {}).get("cpu_model") or r.machine_hash[:8])
        device = f"{cpu} {r.runtime} t{r.threads or 0} b{r.batch} {r.dtype}"
        rss = r.summary.get("peak_rss_bytes")
        mem = float(rss) / MIB if isinstance(rss, int | float) and rss > 0 else None
        latest[(r.model_name, device)] = Row(r.model_name, device, float(p50), memory_mb=mem)
    if not latest:
        raise InputError(f"{db}: no complete runs with a median latency")
    return from_rows(latest.values(), source=f"results store {db}")


def estimated_table(
    models: Sequence[str],
    devices: Sequence[str] | None = None,
    *,
    runtime: str | None = None,
    batch: int | None = None,
    registry: Any = None,
) -> EfficiencyTable:
    """The estimator's own table: :func:`estimator.estimate_many` of ``models`` on every device
    (all registry devices when None), with FLOPs, params and memory (weights + peak activations)
    from the cost model. ``runtime`` None: each device's usual runtime."""
    from estimator.device import default_runtime
    from estimator.estimate import estimate_many, prepare
    from estimator.registry import list_hardware, load_hardware

    names = list(devices) if devices is not None else list_hardware(registry)
    prepared: dict[str, list[Any]] = {}
    rows: list[Row] = []
    for dev in names:
        hw = load_hardware(dev, registry)
        rt = runtime or default_runtime(hw)
        if rt not in prepared:
            prepared[rt] = [prepare(m, runtime=rt, batch=batch) for m in models]
        preps = prepared[rt]
        est = estimate_many(preps, hw, runtime=rt, registry=registry)
        for m, p, ms in zip(models, preps, est.latency_ms, strict=True):
            mem = (p.cost.weight_bytes + p.cost.peak_activation_bytes) / MIB
            rows.append(
                Row(
                    m,
                    hw.id,
                    float(ms),
                    memory_mb=mem,
                    flops=float(p.cost.flops),
                    params=float(p.cost.params),
                )
            )
    where = "registry devices" if devices is None else f"{len(names)} devices"
    return from_rows(rows, source=f"estimate_many of {len(models)} models on {where}")


def nb201_costs(
    archs: Sequence[str], *, batch: int = 1, semantics: str = "reference"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(FLOPs, params) of NAS-Bench-201 arch strings from the cost model, fast.

    ``pruned``: :func:`estimator.zoo.nb201_ir.nb201_cost` (cached blocks, no graph built).
    ``reference`` (what the published tables timed and count): every node depends only on its
    (cell, edge, op) position, so a network's totals are the all-``none`` network's plus one
    exact increment per edge and op; the 25 networks that define the increments are costed with
    :func:`estimator.analysis.analyze_graph` (tested equal to costing each network whole).
    """
    from estimator.zoo.nb201_ir import EDGES, OPS, nb201_cost, parse_arch
    from estimator.zoo.nb201_reference import check_semantics

    parsed = [parse_arch(a) for a in archs]
    out = np.empty((len(archs), 2))
    if check_semantics(semantics) == "pruned":
        for i, a in enumerate(archs):
            c = nb201_cost(a, batch)
            out[i] = c.flops, c.params
        return out[:, 0], out[:, 1]
    base, inc = _reference_increments(batch)
    col = {op: j for j, op in enumerate(OPS)}
    codes = np.array([[col[o] for o in ops] for ops in parsed], dtype=np.int64)
    codes = codes.reshape(-1, len(EDGES))
    total = base + inc[np.arange(len(EDGES)), codes].sum(axis=1)
    return total[..., 0], total[..., 1]


@cache
def _reference_increments(batch: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(totals of the all-none network, [edge, op] -> increment of (FLOPs, params))."""
    from estimator.analysis import analyze_graph
    from estimator.zoo.nb201_ir import EDGES, OPS, arch_string
    from estimator.zoo.nb201_reference import nb201_graph_for

    def cost(ops: list[str]) -> NDArray[np.float64]:
        c = analyze_graph(nb201_graph_for(arch_string(ops), batch, "reference"))
        return np.array([c.flops, c.params], dtype=np.float64)

    none = ["none"] * len(EDGES)
    base = cost(none)
    inc = np.zeros((len(EDGES), len(OPS), 2))
    for e in range(len(EDGES)):
        for j, op in enumerate(OPS):
            if op != "none":
                inc[e, j] = cost([op if i == e else "none" for i in range(len(EDGES))]) - base
    return base, inc


def with_nb201_costs(
    table: EfficiencyTable, *, batch: int = 1, semantics: str = "reference"
) -> EfficiencyTable:
    """FLOPs and params of the NAS-Bench-201 arch strings of ``table`` (:func:`nb201_costs`);
    other models get NaN, which the analyses name as missing."""
    flops = np.full(len(table.models), np.nan)
    params = np.full(len(table.models), np.nan)
    idx = [i for i, m in enumerate(table.models) if m.startswith("|")]
    if idx:
        f, p = nb201_costs([table.models[i] for i in idx], batch=batch, semantics=semantics)
        flops[idx], params[idx] = f, p
    return table.with_model_columns(flops=flops, params=params)
