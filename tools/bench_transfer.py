"""Few-shot transfer benchmark on the NAS-Bench-201 latency table (13 device columns).

Protocol (docs/transfer.md): per device column, calibration pool = rows 0-899, query = rows
900-1899, each trimmed to its 10th-90th latency percentile on that column. For k in
{0, 5, 10, 20, 50}: 10 seeded draws of k pool rows; fit; report Spearman rho and MAPE on the
query set (mean and std over draws), next to FLOPs-only and params-only baselines (rank
correlation of FLOPs / params with latency; MAPE of FLOPs times one scale fitted on the same k).

    .venv/bin/python tools/bench_transfer.py --out docs/transfer_results.md --json out.json

``--lodo``: the leave-one-device-out protocol of :mod:`estimator.transfer.lodo` (meta-prior
learned on the other devices, level chosen per fit), k in {0, 1, 2, 5, 10, 20}, next to FLOPs
and to the fixed 10-parameter fit under the datasheet prior; ``--split help`` scores HELP's
meta-validation columns under a prior learned on HELP's meta-training columns only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from estimator.errors import InputError  # noqa: E402
from estimator.transfer import (  # noqa: E402
    DEFAULT_PARAMS,
    DEFAULT_SIGMA,
    ParamSpec,
    column_setup,
    fit,
    load_latency_table,
    nb201_kernel_set,
    prior_for,
)
from estimator.transfer.baselines import nb201_flops_params  # noqa: E402
from estimator.transfer.lodo import DeviceData, DeviceResult, leave_one_device_out  # noqa: E402
from estimator.zoo.nb201_ir import OPS, parse_arch  # noqa: E402
from estimator.zoo.nb201_reference import SEMANTICS  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared" / "data" / "nasbench201" / "latency_ms.csv"
#: HELP's NAS-Bench-201 device split (Lee et al. 2021): meta-training and meta-validation
#: devices (its meta-test devices are not in the published table this project has).
HELP_TRAIN = (
    "1080ti_1", "1080ti_32", "1080ti_256", "silver_4114", "silver_4210r", "samsung_a50",
    "pixel3", "essential_ph_1", "samsung_s7",
)  # fmt: skip
HELP_VALID = ("titanx_1", "titanx_32", "titanx_256", "gold_6240")
LODO_SHOTS = (0, 1, 2, 5, 10, 20)
POOL = (0, 900)
QUERY = (900, 1900)
SHOTS = (0, 5, 10, 20, 50)
DRAWS = 10
TARGET_K = 10


@dataclass(frozen=True, slots=True)
class ColumnResult:
    column: str
    hardware: str
    runtime: str
    batch: int
    semantics: str
    n_pool: int
    n_query: int
    flops_rho: float
    params_rho: float
    #: Least-squares latency per edge op (ms, summed over the 15 cells) fitted on the whole
    #: trimmed pool, and its query Spearman: evidence for the semantics and a ceiling for
    #: models that see only which op sits on which edge.
    edge_ms: dict[str, float]
    edge_rho: float
    #: The same with one latency per (edge position, op): 30 coefficients instead of 5.
    edge_position_rho: float
    #: k -> per-draw Spearman of the op-count least squares fitted on the same k networks as
    #: the few-shot fit (k > 6 only): what a generic regression makes of those measurements.
    opcount_rho: dict[int, list[float]]
    #: k -> per-draw Spearman rho / MAPE of the fit and MAPE of the FLOPs-scale baseline.
    rho: dict[int, list[float]]
    mape: dict[int, list[float]]
    flops_mape: dict[int, list[float]]
    coverage: dict[int, list[float]]
    #: Geometric mean over draws of the fitted scales at the largest k.
    scales: dict[str, float]
    seconds: float


def trimmed(y: NDArray[np.float64], lo: int, hi: int) -> NDArray[np.int64]:
    """Rows lo..hi-1 whose latency lies within their 10th-90th percentile."""
    idx = np.arange(lo, hi)
    p10, p90 = np.percentile(y[idx], [10, 90])
    keep: NDArray[np.int64] = idx[(y[idx] >= p10) & (y[idx] <= p90)]
    return keep


def _rho(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(spearmanr(a, b).statistic)


def _mape(pred: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(pred - y) / y))


def run_column(
    column: str,
    archs: Sequence[str],
    y: NDArray[np.float64],
    flops: NDArray[np.float64],
    params: NDArray[np.float64],
    shots: Sequence[int],
    draws: int,
    seed: int,
    pool_rows: tuple[int, int] = POOL,
    query_rows: tuple[int, int] = QUERY,
    runtime: str | None = None,
    semantics: str | None = None,
    param_specs: Sequence[ParamSpec] = DEFAULT_PARAMS,
    sigma: float = DEFAULT_SIGMA,
) -> ColumnResult:
    start = time.perf_counter()
    setup = column_setup(column, y)
    if runtime is not None:
        setup = replace(setup, runtime=runtime)
    if semantics is not None:
        setup = replace(setup, semantics=semantics)
    hw, prior = prior_for(setup.hardware, setup.runtime)
    models = nb201_kernel_set(
        archs, batch=setup.batch, runtime=setup.runtime, semantics=setup.semantics
    )
    pool = trimmed(y, *pool_rows)
    query = trimmed(y, *query_rows)
    yq = y[query]
    qset = models.subset(query)
    counts = op_counts(archs)
    rho: dict[int, list[float]] = {}
    opcount: dict[int, list[float]] = {}
    mape: dict[int, list[float]] = {}
    fmape: dict[int, list[float]] = {}
    cover: dict[int, list[float]] = {}
    rng = np.random.default_rng(seed)
    thetas: list[NDArray[np.float64]] = []
    names: list[str] = []
    for k in shots:
        rho[k], mape[k], fmape[k], cover[k] = [], [], [], []
        if k > counts.shape[1]:
            opcount[k] = []
        for _ in range(draws if k > 0 else 1):
            pick = rng.choice(pool, size=k, replace=False) if k else np.zeros(0, np.int64)
            f = fit(
                hw,
                prior,
                models.subset(pick),
                y[pick],
                quantum_ms=setup.quantum_ms,
                params=param_specs,
                sigma=sigma,
            )
            mean, lo, hi = f.predict(qset)
            if k == max(shots):
                thetas.append(f.theta)
                names = [p.name for p in f.params]
            rho[k].append(_rho(mean, yq))
            mape[k].append(_mape(mean, yq))
            cover[k].append(float(np.mean((yq >= lo) & (yq <= hi))))
            if k:
                scale = float(np.exp(np.mean(np.log(y[pick]) - np.log(flops[pick]))))
                fmape[k].append(_mape(scale * flops[query], yq))
            if k in opcount:
                c = np.linalg.lstsq(counts[pick], y[pick], rcond=None)[0]
                opcount[k].append(_rho(counts[query] @ c, yq))
    coef = np.linalg.lstsq(counts[pool], y[pool], rcond=None)[0]
    onehot = edge_position_onehot(archs)
    pos_coef = np.linalg.lstsq(onehot[pool], y[pool], rcond=None)[0]
    return ColumnResult(
        column=column,
        hardware=setup.hardware,
        runtime=setup.runtime,
        batch=setup.batch,
        semantics=setup.semantics,
        n_pool=int(pool.size),
        n_query=int(query.size),
        flops_rho=_rho(flops[query], yq),
        params_rho=_rho(params[query], yq),
        edge_ms=dict(zip(OPS, coef[: len(OPS)].tolist(), strict=True)),
        edge_rho=_rho(counts[query] @ coef, yq),
        edge_position_rho=_rho(onehot[query] @ pos_coef, yq),
        opcount_rho=opcount,
        rho=rho,
        mape=mape,
        flops_mape=fmape,
        coverage=cover,
        scales=dict(zip(names, np.exp(np.mean(thetas, axis=0)).tolist(), strict=True))
        if thetas
        else {},
        seconds=time.perf_counter() - start,
    )


def op_counts(archs: Sequence[str]) -> NDArray[np.float64]:
    """Per arch: how many of the 6 edges carry each op, plus a constant column."""
    rows = [[sum(o == op for o in parse_arch(a)) for op in OPS] + [1] for a in archs]
    return np.asarray(rows, dtype=np.float64)


def edge_position_onehot(archs: Sequence[str]) -> NDArray[np.float64]:
    """Per arch: one-hot of the op on each of the 6 edges (30 columns), plus a constant column."""
    rows = []
    for a in archs:
        row = [0.0] * (6 * len(OPS)) + [1.0]
        for e, op in enumerate(parse_arch(a)):
            row[e * len(OPS) + OPS.index(op)] = 1.0
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def _ms(values: list[float], pct: bool = False) -> str:
    if not values:
        return "-"
    a = np.asarray(values) * (100.0 if pct else 1.0)
    fmt = "{:.1f}" if pct else "{:.3f}"
    if len(a) == 1:
        return fmt.format(a[0])
    return f"{fmt.format(a.mean())} ± {fmt.format(a.std())}"


def markdown(results: list[ColumnResult], shots: Sequence[int], command: str) -> str:
    lines = [
        "# Few-shot transfer on NAS-Bench-201: measured results",
        "",
        f"Command: `{command}`",
        "",
        "Spearman rho on the query set (mean ± std over draws); k = calibration measurements.",
        "",
        "| column | device | runtime | FLOPs rho | params rho | "
        + " | ".join(f"k={k}" for k in shots)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(shots),
    ]
    for r in results:
        cells = " | ".join(_ms(r.rho[k]) for k in shots)
        lines.append(
            f"| {r.column} | {r.hardware} | {r.runtime}/{r.semantics} | {r.flops_rho:.3f} | "
            f"{r.params_rho:.3f} | {cells} |"
        )
    mean_rho = {k: float(np.mean([np.mean(r.rho[k]) for r in results])) for k in shots}
    lines.append(
        "| **mean** | | | "
        f"{np.mean([r.flops_rho for r in results]):.3f} | "
        f"{np.mean([r.params_rho for r in results]):.3f} | "
        + " | ".join(f"**{mean_rho[k]:.3f}**" for k in shots)
        + " |"
    )
    lines += [
        "",
        "MAPE on the query set, % (mean ± std over draws); FLOPs baseline = FLOPs x one scale "
        "fitted on the same k measurements.",
        "",
        "| column | " + " | ".join(f"k={k}" for k in shots) + f" | FLOPs k={TARGET_K} |",
        "|---|" + "---|" * (len(shots) + 1),
    ]
    for r in results:
        cells = " | ".join(_ms(r.mape[k], pct=True) for k in shots)
        lines.append(f"| {r.column} | {cells} | {_ms(r.flops_mape.get(TARGET_K, []), True)} |")
    mean_mape = {k: float(np.mean([np.mean(r.mape[k]) for r in results])) for k in shots}
    lines.append(
        "| **mean** | " + " | ".join(f"**{100 * mean_mape[k]:.1f}**" for k in shots) + " | |"
    )
    lines += _head(
        "Coverage of the 95% predictive interval on the query set (fraction inside), mean over "
        "draws:",
        [f"k={k}" for k in shots],
    )
    for r in results:
        cells = " | ".join(f"{np.mean(r.coverage[k]):.2f}" for k in shots)
        lines.append(f"| {r.column} | {cells} |")
    if results and results[0].scales:
        names = list(results[0].scales)
        lines += [
            "",
            f"Fitted scales at k={max(shots)} (geometric mean over draws; 1 = the prior):",
            "",
            "| column | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for r in results:
            lines.append(
                f"| {r.column} | " + " | ".join(f"{r.scales[n]:.2f}" for n in names) + " |"
            )
    lines += [
        "",
        "Least-squares latency per edge op (ms, one edge position summed over the 15 cells), "
        "fitted on the whole trimmed pool; 'op-count rho' = its Spearman on the query set, a "
        "ceiling for models that see only which op sits on each edge; 'per-edge rho' = the same "
        "with one latency per (edge position, op):",
        "",
        "| column | " + " | ".join(OPS) + " | op-count rho | per-edge rho |",
        "|---|" + "---|" * (len(OPS) + 2),
    ]
    for r in results:
        cells = " | ".join(f"{r.edge_ms[op]:.3f}" for op in OPS)
        lines.append(f"| {r.column} | {cells} | {r.edge_rho:.3f} | {r.edge_position_rho:.3f} |")
    lines.append(
        f"| **mean** | {' | ' * (len(OPS) - 1)} | {np.mean([r.edge_rho for r in results]):.3f} "
        f"| {np.mean([r.edge_position_rho for r in results]):.3f} |"
    )
    ks = [k for k in shots if results and k in results[0].opcount_rho]
    if ks:
        lines += _head(
            "The op-count least squares fitted on the same k networks as the few-shot fit "
            "(Spearman on the query set, mean ± std over the same draws): a generic regression "
            "of those measurements, without the roofline model:",
            [f"k={k}" for k in ks],
        )
        for r in results:
            lines.append(f"| {r.column} | " + " | ".join(_ms(r.opcount_rho[k]) for k in ks) + " |")
        lines.append(
            "| **mean** | "
            + " | ".join(
                f"**{np.mean([np.mean(r.opcount_rho[k]) for r in results]):.3f}**" for k in ks
            )
            + " |"
        )
    if TARGET_K in shots:
        lines += ["", _targets(results)]
    return "\n".join(lines) + "\n"


def _head(caption: str, columns: list[str]) -> list[str]:
    """A captioned markdown table's first lines, rows keyed by column name."""
    return [
        "",
        caption,
        "",
        "| column | " + " | ".join(columns) + " |",
        "|---" * (1 + len(columns)) + "|",
    ]


def _targets(results: list[ColumnResult]) -> str:
    k = TARGET_K
    mean_rho = float(np.mean([np.mean(r.rho[k]) for r in results]))
    above = [r.column for r in results if np.mean(r.rho[k]) > r.flops_rho]
    below = [r.column for r in results if np.mean(r.rho[k]) <= r.flops_rho]
    over = [
        f"{r.column} ({100 * np.mean(r.mape[k]):.1f}%)"
        for r in results
        if np.mean(r.mape[k]) > 0.10
    ]
    mean_mape = float(np.mean([np.mean(r.mape[k]) for r in results]))
    return "\n".join(
        [
            f"Targets at k={k}:",
            "",
            f"- mean Spearman {mean_rho:.3f} (target >= 0.95): "
            + ("met" if mean_rho >= 0.95 else "missed"),
            f"- above the FLOPs ranking on {len(above)}/{len(results)} columns"
            + (f" (not on: {', '.join(below)})" if below else ""),
            f"- mean MAPE {100 * mean_mape:.1f}% (target <= 10%): "
            + ("met" if mean_mape <= 0.10 else "missed")
            + (f"; columns over 10%: {', '.join(over)}" if over else ""),
        ]
    )


def to_json(
    results: list[ColumnResult], pool: tuple[int, int], query: tuple[int, int]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "protocol": {"pool_rows": pool, "query_rows": query, "trim_percentiles": [10, 90]}
    }
    cols: list[dict[str, Any]] = []
    for r in results:
        cols.append(
            {
                "column": r.column,
                "hardware": r.hardware,
                "runtime": r.runtime,
                "batch": r.batch,
                "semantics": r.semantics,
                "n_pool": r.n_pool,
                "n_query": r.n_query,
                "flops_rho": r.flops_rho,
                "params_rho": r.params_rho,
                "edge_ms": r.edge_ms,
                "edge_rho": r.edge_rho,
                "edge_position_rho": r.edge_position_rho,
                "opcount_rho": {str(k): v for k, v in r.opcount_rho.items()},
                "rho": {str(k): v for k, v in r.rho.items()},
                "mape": {str(k): v for k, v in r.mape.items()},
                "flops_mape": {str(k): v for k, v in r.flops_mape.items()},
                "coverage": {str(k): v for k, v in r.coverage.items()},
                "fitted_scales_at_max_k": r.scales,
                "seconds": r.seconds,
            }
        )
    out["columns"] = cols
    return out


def nb201_devices(
    table: Any, columns: Sequence[str], flops: NDArray[np.float64],
    pool_rows: tuple[int, int] = POOL, query_rows: tuple[int, int] = QUERY,
) -> list[DeviceData]:  # fmt: skip
    """One :class:`DeviceData` per NB201 column (pool/query trimmed as in the fixed protocol)."""
    out = []
    for c in columns:
        y = table.columns[c]
        setup = column_setup(c, y)
        hw, prior = prior_for(setup.hardware, setup.runtime)
        models = nb201_kernel_set(
            table.archs, batch=setup.batch, runtime=setup.runtime, semantics=setup.semantics
        )
        out.append(
            DeviceData(
                c, hw, prior, models, y, trimmed(y, *pool_rows), trimmed(y, *query_rows), flops,
                setup.quantum_ms, setup.batch, source=f"NAS-Bench-201 latency table, column {c}",
            )
        )  # fmt: skip
    return out


def _m(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def lodo_markdown(results: list[DeviceResult], shots: Sequence[int], command: str) -> str:
    """Tables of the leave-one-device-out run: Spearman, MAPE, coverage per device and k."""
    head = "| device | FLOPs rho | " + " | ".join(f"k={k}" for k in shots) + " |"
    sep = "|---|---|" + "---|" * len(shots)
    lines = [
        "### Leave-one-device-out few-shot transfer: measured results",
        "",
        f"Command: `{command}`",
        "",
        "Each cell: **new** (meta-prior learned without the device, level chosen per fit) / "
        "today's fit (10 parameters, datasheet prior); mean over draws.",
        "",
        "Spearman rho on the query set:",
        "",
        head,
        sep,
    ]
    for r in results:
        cells = [f"**{_m(r.rho[k]):.3f}** / {_m(r.base_rho[k]):.3f}" for k in shots]
        lines.append(f"| {r.name} | {r.flops_rho:.3f} | " + " | ".join(cells) + " |")
    mean = [
        f"**{np.mean([_m(r.rho[k]) for r in results]):.3f}** / "
        f"{np.mean([_m(r.base_rho[k]) for r in results]):.3f}"
        for k in shots
    ]
    lines.append(
        f"| **mean** | {np.mean([r.flops_rho for r in results]):.3f} | " + " | ".join(mean) + " |"
    )
    lines += ["", "MAPE on the query set, % (FLOPs: FLOPs x one scale fitted on the k points):", ""]
    lines += [
        "| device | " + " | ".join(f"k={k}" for k in shots) + " |",
        "|---|" + "---|" * len(shots),
    ]
    for r in results:
        cells = [
            f"**{100 * _m(r.mape[k]):.1f}** / {100 * _m(r.base_mape[k]):.1f}"
            + (f" / F {100 * _m(r.flops_mape[k]):.1f}" if r.flops_mape.get(k) else "")
            for k in shots
        ]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    lines += ["", "Coverage of the 95% predictive interval on the query set (new / today's):", ""]
    lines += [
        "Device offset sd and interval scale: learned on other devices only "
        "(`estimator.transfer.lodo.learned_interval_scale`); in range: coverage 0.90-0.98 "
        "(issue 20's target at k >= 5).",
        "",
    ]
    lines += ["| device | offset sd | interval scale | " + " | ".join(f"k={k}" for k in shots)]
    lines[-1] += " |"
    lines += ["|---|---|---|" + "---|" * len(shots)]
    for r in results:
        cells = [f"**{_m(r.coverage[k]):.2f}** / {_m(r.base_coverage[k]):.2f}" for k in shots]
        lines.append(
            f"| {r.name} | {r.offset_sigma:.3f} | {r.interval_scale:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    big = [k for k in shots if k >= 5]
    if big:
        cov = [_m(r.coverage[k]) for r in results for k in big]
        inside = sum(0.90 <= c <= 0.98 for c in cov)
        under = sum(c < 0.90 for c in cov)
        base = [_m(r.base_coverage[k]) for r in results for k in big]
        b_in = sum(0.90 <= c <= 0.98 for c in base)
        lines += [
            "",
            f"At k >= 5: {inside} of {len(cov)} (device, k) cells in 0.90-0.98, {under} below, "
            f"{len(cov) - inside - under} above (today's fit: {b_in} in range).",
        ]
    lines += ["", "Level chosen (count over draws) and the prior's training devices:", ""]
    lines += ["| device | " + " | ".join(f"k={k}" for k in shots) + " | training devices |"]
    lines += ["|---|" + "---|" * (len(shots) + 1)]
    for r in results:
        cells = []
        for k in shots:
            names, counts = np.unique(r.level[k], return_counts=True)
            cells.append(" ".join(f"{n}:{c}" for n, c in zip(names, counts, strict=True)))
        lines.append(
            f"| {r.name} | " + " | ".join(cells) + f" | {', '.join(r.training_devices) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def lodo_json(results: list[DeviceResult]) -> dict[str, Any]:
    keys = ("rho", "mape", "coverage", "level", "base_rho", "base_mape", "base_coverage",
            "flops_mape")  # fmt: skip
    return {
        "protocol": "leave-one-device-out (estimator.transfer.lodo)",
        "devices": [
            {
                "device": r.name,
                "hardware": r.hardware,
                "group": list(r.group),
                "flops_rho": r.flops_rho,
                "training_devices": r.training_devices,
                "interval_scale": r.interval_scale,
                "offset_sigma": r.offset_sigma,
                **{key: {str(k): v for k, v in getattr(r, key).items()} for key in keys},
            }
            for r in results
        ],
    }


def run_lodo(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    shots: tuple[int, ...] = (0, 5, TARGET_K) if args.quick else LODO_SHOTS
    draws = 2 if args.quick else args.draws
    try:
        table = load_latency_table(args.csv, rows=max(args.pool[1], args.query[1]))
        columns = args.columns or list(table.columns)
        for c in columns:
            if c not in table.columns:
                raise InputError(
                    f"{args.csv}: no column {c!r}; columns: {', '.join(table.columns)}"
                )
        flops, _ = nb201_flops_params(table.archs, semantics=args.baseline_semantics)
        if args.split == "help":
            training = [c for c in HELP_TRAIN if c in table.columns]
            scored = [c for c in HELP_VALID if c in columns]
            columns = sorted(set(columns) | set(training), key=list(table.columns).index)
        else:
            training, scored = list(columns), list(columns)
        devices = nb201_devices(table, columns, flops, args.pool, args.query)
        results = leave_one_device_out(
            devices, shots, draws, args.seed, scored=scored, training=training,
            select=args.select,
        )  # fmt: skip
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python tools/bench_transfer.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = lodo_markdown(results, shots, command.strip())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.json:
        args.json.write_text(json.dumps(lodo_json(results), indent=1), encoding="utf-8")
    return 0


def _rows(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition(":")
    try:
        a, b = int(lo), int(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected lo:hi row numbers, got {text!r}") from None
    if not sep or a < 0 or b <= a:
        raise argparse.ArgumentTypeError(f"expected 0 <= lo < hi, got {text!r}")
    return a, b


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="latency table (wide CSV)")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    ap.add_argument("--columns", nargs="*", help="device columns (default: all)")
    ap.add_argument("--quick", action="store_true", help="k in {0,10}, 2 draws (smoke test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=_rows, default=POOL, help="calibration rows lo:hi")
    ap.add_argument("--query", type=_rows, default=QUERY, help="query rows lo:hi")
    ap.add_argument("--runtime", help="override every column's runtime (e.g. onnxruntime-cpu)")
    ap.add_argument("--semantics", choices=SEMANTICS, help="override the NB201 semantics")
    ap.add_argument(
        "--no-conv-compute",
        action="store_true",
        help="drop the per-conv compute scales (the earlier 8-parameter set, for comparison)",
    )
    ap.add_argument(
        "--sigma",
        type=float,
        default=DEFAULT_SIGMA,
        help=f"assumed relative error per measurement in the fit (default {DEFAULT_SIGMA})",
    )
    ap.add_argument(
        "--baseline-semantics",
        choices=SEMANTICS,
        default="reference",
        help="network semantics of the FLOPs/params baselines (default: reference)",
    )
    ap.add_argument("--lodo", action="store_true", help="leave-one-device-out protocol")
    ap.add_argument(
        "--split", choices=("lodo", "help"), default="lodo",
        help="with --lodo: score every column (lodo) or HELP's validation columns (help)",
    )  # fmt: skip
    ap.add_argument("--select", choices=("loo", "evidence"), default="loo")
    ap.add_argument("--draws", type=int, default=DRAWS, help="draws per k (--lodo)")
    args = ap.parse_args(argv)
    if args.lodo:
        return run_lodo(args, argv)
    shots: tuple[int, ...] = (0, TARGET_K) if args.quick else SHOTS
    specs = tuple(
        p
        for p in DEFAULT_PARAMS
        if not (args.no_conv_compute and p.kind == "compute" and p.categories is not None)
    )
    draws = 2 if args.quick else DRAWS
    try:
        table = load_latency_table(args.csv, rows=max(args.pool[1], args.query[1]))
        if len(table.archs) < max(args.pool[1], args.query[1]):
            raise InputError(
                f"{args.csv}: {len(table.archs)} rows, the protocol needs "
                f"{max(args.pool[1], args.query[1])}"
            )
        columns = args.columns or list(table.columns)
        for c in columns:
            if c not in table.columns:
                raise InputError(
                    f"{args.csv}: no column {c!r}; columns: {', '.join(table.columns)}"
                )
        flops, params = nb201_flops_params(table.archs, semantics=args.baseline_semantics)
        results = []
        for i, c in enumerate(columns):
            res = run_column(
                c,
                table.archs,
                table.columns[c],
                flops,
                params,
                shots,
                draws,
                args.seed + i,
                args.pool,
                args.query,
                args.runtime,
                args.semantics,
                specs,
                args.sigma,
            )
            print(
                f"{c:15s} rho(k={shots[-1]})={np.mean(res.rho[shots[-1]]):.3f} "
                f"mape={100 * np.mean(res.mape[shots[-1]]):.1f}% "
                f"flops_rho={res.flops_rho:.3f} ({res.seconds:.1f} s)",
                file=sys.stderr,
            )
            results.append(res)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python tools/bench_transfer.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = markdown(results, shots, command.strip())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.json:
        args.json.write_text(
            json.dumps(to_json(results, args.pool, args.query), indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
