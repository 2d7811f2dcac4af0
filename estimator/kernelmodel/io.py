"""``kernel_model.json``: a device's learned kernel correction, as JSON data (never a pickle).

The file sits next to the device's hardware.json. Saving is atomic (temp file + ``os.replace``).
Loading checks the structure first (fast path); a file that fails is then checked against
``hardware_registry/schema/kernel_model.schema.json`` only to word the error, so every problem is
one :class:`~estimator.errors.RegistryError` line naming the file and the field. A model fitted
under another feature schema (names or ``FEATURE_VERSION``) is refused: its trees would read the
wrong columns. Parsed files are cached by (path, mtime, size).

Floats are written with Python's shortest round-trip repr, so a loaded model predicts bit for
bit what the saved one did.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from estimator.errors import RegistryError
from estimator.kernelmodel.features import FEATURE_NAMES, FEATURE_VERSION, PREFIX_VERSIONS
from estimator.kernelmodel.model import (
    MAX_DEPTH,
    ErrorRow,
    Head,
    KernelModel,
    Provenance,
    TrainingSet,
    Tree,
)
from estimator.registry.loader import (
    RegistryArg,
    _read_json,
    _stamp,
    _stamp_or_none,
    load_hardware,
    schema_problem,
    write_atomic,
)
from estimator.registry.models import Hardware

KERNEL_MODEL_FILE = "kernel_model.json"
SCHEMA = "kernel_model.schema.json"
FORMAT_VERSION = 1
_QUANTILE_HEADS = ("mean", "q05", "q95")


# --------------------------------------------------------------------------- to JSON


def _finite_or_none(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def model_to_dict(model: KernelModel) -> dict[str, Any]:
    p = model.provenance
    t = model.training
    return {
        "format_version": FORMAT_VERSION,
        "feature_version": model.feature_version,
        "feature_names": list(model.feature_names),
        "clip": model.clip,
        "sd_floor": model.sd_floor,
        "uncertainty": {
            "method": model.uncertainty,
            "noise_sd": dict(sorted(model.noise_sd.items())),
        },
        "provenance": {
            "date": p.date,
            "tool_version": p.tool_version,
            "device": p.device,
            "runtime": p.runtime,
            "threads": p.threads,
            "library": p.library,
            "library_version": p.library_version,
            "seed": p.seed,
        },
        "training_set": {
            "n_kernels": t.n_kernels,
            "n_per_category": dict(t.n_per_category),
            "source_models": list(t.source_models),
            "holdout": t.holdout,
            "n_holdout": t.n_holdout,
            "params": dict(t.params),
        },
        "heldout_errors": {
            name: {
                "n": row.n,
                "median_abs_error": _finite_or_none(row.median_abs_error),
                "median_abs_error_base": _finite_or_none(row.median_abs_error_base),
                "within_10": _finite_or_none(row.within_10),
                "within_20": _finite_or_none(row.within_20),
                "r2_log": _finite_or_none(row.r2_log),
                "coverage_90": _finite_or_none(row.coverage_90),
                "coverage_95": _finite_or_none(row.coverage_95),
            }
            for name, row in model.heldout.items()
        },
        "heads": [
            {
                "name": h.name,
                "base": h.base,
                "trees": [
                    {
                        "feature": tr.feature.tolist(),
                        "threshold": tr.threshold.tolist(),
                        "missing_left": tr.missing_left.tolist(),
                        "left": tr.left.tolist(),
                        "right": tr.right.tolist(),
                        "value": tr.value.tolist(),
                    }
                    for tr in h.trees
                ],
            }
            for h in model.heads
        ],
    }


def dumps(model: KernelModel) -> str:
    """The file's text: metadata indented, one tree per line (readable, diffable, compact)."""
    data = model_to_dict(model)
    heads = data.pop("heads")
    lines = ["{"]
    for key, value in data.items():
        body = json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n  ")
        lines.append(f"  {json.dumps(key)}: {body},")
    lines.append('  "heads": [')
    for hi, h in enumerate(heads):
        head = {k: v for k, v in h.items() if k != "trees"}
        lines.append("    " + json.dumps(head, allow_nan=False)[:-1] + ', "trees": [')
        trees = [json.dumps(tr, allow_nan=False, separators=(",", ":")) for tr in h["trees"]]
        lines.append(",\n".join("      " + tr for tr in trees))
        lines.append("    ]}" + ("," if hi < len(heads) - 1 else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_kernel_model(model: KernelModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` (a file, or a folder: ``<folder>/kernel_model.json``)
    atomically; returns the file written."""
    target = Path(path)
    if target.is_dir():
        target = target / KERNEL_MODEL_FILE
    if not target.parent.is_dir():
        raise RegistryError(f"{target.parent}: folder does not exist")
    text = dumps(model)
    _from_dict(target, json.loads(text), check_features=False)  # never write what we can't read
    write_atomic(target, text)
    return target


# --------------------------------------------------------------------------- from JSON


class _Bad(Exception):
    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"field '{field}': {msg}")


def _req(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise _Bad(where or "<root>", "must be an object")
    if key not in d:
        raise _Bad(f"{where}.{key}" if where else key, "required field is missing")
    return d[key]


def _num(v: Any, field: str, *, allow_none: bool = False) -> float:
    if v is None and allow_none:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _Bad(field, f"{v!r} is not a finite number")
    return float(v)


def _int(v: Any, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(field, f"{v!r} is not an integer")
    return v


def _tree(d: Any, where: str, n_features: int) -> Tree:
    cols: dict[str, Any] = {}
    for key, kind in (
        ("feature", np.int32),
        ("threshold", np.float64),
        ("missing_left", np.bool_),
        ("left", np.int32),
        ("right", np.int32),
        ("value", np.float64),
    ):
        v = _req(d, key, where)
        if not isinstance(v, list) or not v:
            raise _Bad(f"{where}.{key}", "must be a non-empty array")
        if kind is np.bool_:
            if not all(isinstance(b, bool) for b in v):
                raise _Bad(f"{where}.{key}", "must hold booleans")
        elif kind is np.int32:
            if not all(isinstance(b, int) and not isinstance(b, bool) for b in v):
                raise _Bad(f"{where}.{key}", "must hold integers")
        elif not all(
            isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in v
        ):
            raise _Bad(f"{where}.{key}", "must hold finite numbers")
        cols[key] = np.array(v, dtype=kind)
    n = cols["feature"].shape[0]
    for key, arr in cols.items():
        if arr.shape[0] != n:
            raise _Bad(f"{where}.{key}", f"has {arr.shape[0]} entries, 'feature' has {n}")
    f, lc, rc = cols["feature"], cols["left"], cols["right"]
    idx = np.arange(n)
    inner = f >= 0
    if np.any(f >= n_features) or np.any(f < -1):
        raise _Bad(f"{where}.feature", f"index outside 0..{n_features - 1} (-1 marks a leaf)")
    if np.any(inner & ((lc <= idx) | (rc <= idx) | (lc >= n) | (rc >= n))):
        raise _Bad(f"{where}.left", "an internal node's children must come after it in the tree")
    if np.any(~inner & ((lc != -1) | (rc != -1))):
        raise _Bad(f"{where}.left", "a leaf (feature -1) must have left = right = -1")
    parents = np.zeros(n, dtype=np.int64)
    np.add.at(parents, lc[inner], 1)
    np.add.at(parents, rc[inner], 1)
    if parents[0] != 0 or np.any(parents[1:] != 1):
        raise _Bad(f"{where}.left", "every node but the root must have exactly one parent")
    for arr in cols.values():
        arr.setflags(write=False)
    tree = Tree(**cols)
    if tree.depth > MAX_DEPTH:
        raise _Bad(f"{where}.feature", f"tree depth {tree.depth} exceeds {MAX_DEPTH}")
    return tree


def _error_row(d: Any, where: str) -> ErrorRow:
    keys = (
        "median_abs_error",
        "median_abs_error_base",
        "within_10",
        "within_20",
        "r2_log",
        "coverage_90",
        "coverage_95",
    )
    vals = {k: _num(_req(d, k, where), f"{where}.{k}", allow_none=True) for k in keys}
    return ErrorRow(n=_int(_req(d, "n", where), f"{where}.n"), **vals)


def _from_dict(path: Path, data: Any, *, check_features: bool = True) -> KernelModel:
    try:
        return _build(path, data, check_features)
    except _Bad as bad:
        schema_msg = _schema_message(data)
        raise RegistryError(f"{path}: {schema_msg or bad}") from None


def _schema_message(data: Any) -> str | None:
    return schema_problem(SCHEMA, data)


def _build(path: Path, data: Any, check_features: bool) -> KernelModel:
    if not isinstance(data, dict):
        raise _Bad("<root>", "must be an object")
    fv = _int(_req(data, "format_version", ""), "format_version")
    if fv != FORMAT_VERSION:
        raise _Bad("format_version", f"{fv} is not supported (this code reads {FORMAT_VERSION})")
    names = _req(data, "feature_names", "")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _Bad("feature_names", "must be an array of strings")
    version = _int(_req(data, "feature_version", ""), "feature_version")
    current = tuple(names) == FEATURE_NAMES and version == FEATURE_VERSION
    prefix = (
        PREFIX_VERSIONS.get(version) == len(names) and tuple(names) == FEATURE_NAMES[: len(names)]
    )
    if check_features and not (current or prefix):
        raise RegistryError(
            f"{path}: fitted for kernel features v{version} ({len(names)} features), this code "
            f"computes v{FEATURE_VERSION} ({len(FEATURE_NAMES)}); refit the kernel model"
        )
    clip = _num(_req(data, "clip", ""), "clip")
    sd_floor = _num(_req(data, "sd_floor", ""), "sd_floor")
    if clip <= 0 or sd_floor < 0:
        raise _Bad("clip", "clip must be > 0 and sd_floor >= 0")
    unc = _req(data, "uncertainty", "")
    method = _req(unc, "method", "uncertainty")
    if method not in ("quantile", "bagging"):
        raise _Bad("uncertainty.method", f"{method!r} is not 'quantile' or 'bagging'")
    noise_raw = _req(unc, "noise_sd", "uncertainty")
    if not isinstance(noise_raw, dict):
        raise _Bad("uncertainty.noise_sd", "must be an object")
    noise = {str(k): _num(v, f"uncertainty.noise_sd.{k}") for k, v in noise_raw.items()}

    pv = _req(data, "provenance", "")
    threads = _req(pv, "threads", "provenance")
    prov = Provenance(
        date=str(_req(pv, "date", "provenance")),
        tool_version=str(_req(pv, "tool_version", "provenance")),
        library=str(_req(pv, "library", "provenance")),
        library_version=str(_req(pv, "library_version", "provenance")),
        seed=_int(_req(pv, "seed", "provenance"), "provenance.seed"),
        device=str(_req(pv, "device", "provenance")),
        runtime=str(_req(pv, "runtime", "provenance")),
        threads=None if threads is None else _int(threads, "provenance.threads"),
    )
    ts = _req(data, "training_set", "")
    per_cat = _req(ts, "n_per_category", "training_set")
    models = _req(ts, "source_models", "training_set")
    params = _req(ts, "params", "training_set")
    if not isinstance(per_cat, dict) or not isinstance(models, list):
        raise _Bad("training_set", "n_per_category must be an object, source_models an array")
    training = TrainingSet(
        n_kernels=_int(_req(ts, "n_kernels", "training_set"), "training_set.n_kernels"),
        n_per_category={
            str(k): _int(v, f"training_set.n_per_category.{k}") for k, v in per_cat.items()
        },
        source_models=tuple(str(m) for m in models),
        holdout=str(_req(ts, "holdout", "training_set")),
        n_holdout=_int(_req(ts, "n_holdout", "training_set"), "training_set.n_holdout"),
        params=dict(params) if isinstance(params, dict) else {},
    )
    he = _req(data, "heldout_errors", "")
    if not isinstance(he, dict):
        raise _Bad("heldout_errors", "must be an object")
    heldout = {str(k): _error_row(v, f"heldout_errors.{k}") for k, v in he.items()}

    heads_raw = _req(data, "heads", "")
    if not isinstance(heads_raw, list) or not heads_raw:
        raise _Bad("heads", "must be a non-empty array")
    heads: list[Head] = []
    for hi, h in enumerate(heads_raw):
        where = f"heads[{hi}]"
        trees_raw = _req(h, "trees", where)
        if not isinstance(trees_raw, list) or not trees_raw:
            raise _Bad(f"{where}.trees", "must be a non-empty array")
        trees = tuple(
            _tree(tr, f"{where}.trees[{ti}]", len(names)) for ti, tr in enumerate(trees_raw)
        )
        heads.append(
            Head(str(_req(h, "name", where)), _num(_req(h, "base", where), f"{where}.base"), trees)
        )
    if method == "quantile" and tuple(h.name for h in heads) != _QUANTILE_HEADS:
        raise _Bad("heads", f"the quantile method needs heads {list(_QUANTILE_HEADS)}")
    return KernelModel(
        heads=tuple(heads),
        uncertainty=method,
        clip=clip,
        provenance=prov,
        training=training,
        heldout=heldout,
        noise_sd=noise,
        sd_floor=sd_floor,
        feature_names=tuple(names),
        feature_version=version,
    )


@lru_cache(maxsize=32)
def _parse(path: str, _stamp: tuple[int, int]) -> KernelModel:
    p = Path(path)
    return _from_dict(p, _read_json(p))


def load_kernel_model(path: str | os.PathLike[str]) -> KernelModel:
    """The model in ``path`` (cached by path and stamp); one-line RegistryError if it is
    unreadable, not JSON, truncated, fails the schema, or was fitted for other features."""
    p = Path(path).resolve()
    return _parse(str(p), _stamp(p))


def kernel_model_path(hw: Hardware | str, registry: RegistryArg = None) -> Path | None:
    """``kernel_model.json`` next to the device's hardware.json (None for a device built in
    code, which has no folder)."""
    device = load_hardware(hw, registry)
    if device.source_dir is None:
        return None
    return Path(device.source_dir) / KERNEL_MODEL_FILE


def load_device_kernel_model(
    hw: Hardware | str, registry: RegistryArg = None
) -> KernelModel | None:
    """The device's kernel model, or None when it has none (one stat when absent)."""
    path = kernel_model_path(hw, registry)
    if path is None:
        return None
    stamp = _stamp_or_none(path)
    if stamp is None:
        return None
    return _parse(str(path.resolve()), stamp)


def kernel_model_file(runtime: str, threads: int | None) -> str:
    """File name of the kernel model fitted for ``runtime`` at ``threads`` (one per profile)."""
    return f"kernel_model.{runtime}.t{threads if threads is not None else 'any'}.json"


@lru_cache(maxsize=64)
def _sha256(path: str, _stamp: tuple[int, int]) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a kernel-model file (cached by path and stamp): what a profile records."""
    p = Path(path).resolve()
    return _sha256(str(p), _stamp(p))


def load_profile_kernel_model(
    folder: str | os.PathLike[str] | None, name: str | None, sha256: str | None
) -> KernelModel | None:
    """The kernel model a profile was fitted with (``provenance.kernel_model`` in ``folder``),
    checked against the sha256 it recorded; None when the profile names none. A missing or
    changed file is a RegistryError: its curves were fitted to be corrected by that model."""
    if name is None:
        return None
    if folder is None:
        raise RegistryError(f"profile names kernel model {name!r} but its device has no folder")
    path = Path(folder) / name
    if _stamp_or_none(path) is None:
        raise RegistryError(f"{path}: kernel model named by the efficiency profile is missing")
    if sha256 is not None and file_sha256(path) != sha256:
        raise RegistryError(
            f"{path}: changed since the efficiency profile was fitted with it (sha256 differs); "
            "recalibrate the device"
        )
    return load_kernel_model(path)
