"""Find, validate, cache and save hardware registry files.

Search order for a device: user folders (``registry`` argument, then ``ESTIMATOR_REGISTRY``,
os.pathsep-separated, then the per-user data folder when it exists: ``$XDG_DATA_HOME`` or
``~/.local/share``, ``/roofline-estimator``), then the shipped ``hardware_registry/``
(``ESTIMATOR_BUILTIN_REGISTRY`` overrides where that is). New entries (``probe-hardware``) go to
the first of the user folders (:func:`user_registry`). Files are checked against the JSON
Schemas first, so a broken file gives one line naming the file and the field, then built into
frozen pydantic models. Parsed files are cached by (path, mtime, size): NAS loops call
``load_hardware`` per candidate.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

import estimator
from estimator import host
from estimator.errors import RegistryError
from estimator.registry.models import (
    AuditEntry,
    EfficiencyFile,
    EfficiencyProfile,
    Fingerprint,
    Hardware,
    KernelCategory,
    PriorsFile,
    canonical_dtype,
)
from estimator.safe_read import read_text

HARDWARE_FILE = "hardware.json"
CURVES_FILE = "efficiency_curves.json"
DEVICE_TYPES = ("cpu", "gpu", "mobile", "accelerator")

RegistryArg = str | os.PathLike[str] | list[str | os.PathLike[str]] | None
M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- locations


def builtin_registry() -> Path:
    """The shipped registry: ``ESTIMATOR_BUILTIN_REGISTRY`` or <repo>/hardware_registry."""
    return _builtin(os.environ.get("ESTIMATOR_BUILTIN_REGISTRY") or "")


@lru_cache(maxsize=8)
def _builtin(env: str) -> Path:
    if env:
        return Path(env).resolve()
    return Path(estimator.__file__).resolve().parents[1] / "hardware_registry"


#: Folder name of the per-user registry under the XDG data folder.
USER_REGISTRY_NAME = "roofline-estimator"


def user_data_registry() -> Path:
    """The per-user registry folder: ``$XDG_DATA_HOME/roofline-estimator``, else
    ``~/.local/share/roofline-estimator`` (it need not exist)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / USER_REGISTRY_NAME


def _explicit_roots(registry: RegistryArg) -> list[Path]:
    roots: list[Path] = []
    if registry is not None:
        items = registry if isinstance(registry, list) else [registry]
        for item in items:
            roots.extend(Path(p) for p in str(os.fspath(item)).split(os.pathsep) if p)
    env = os.environ.get("ESTIMATOR_REGISTRY", "")
    roots.extend(Path(p) for p in env.split(os.pathsep) if p)
    return roots


def user_registry(registry: RegistryArg = None) -> Path:
    """Where a new registry entry is written: the first ``registry`` folder, else the first of
    ``ESTIMATOR_REGISTRY``, else :func:`user_data_registry` (created when written)."""
    roots = _explicit_roots(registry)
    return roots[0] if roots else user_data_registry()


def registry_roots(registry: RegistryArg = None) -> list[Path]:
    """Folders searched, first match wins: argument, ESTIMATOR_REGISTRY, the per-user data
    folder (when it exists), shipped registry."""
    roots = _explicit_roots(registry)
    for r in roots:
        if not r.is_dir():
            what = "is not a folder" if r.exists() else "does not exist"
            raise RegistryError(f"registry folder '{r}' {what}")
    data = user_data_registry()
    if data.is_dir() and data not in roots:
        roots.append(data)
    roots.append(builtin_registry())
    return roots


def _device_dirs(root: Path) -> Iterator[Path]:
    """Device folders under ``root``: <type>/<id>/hardware.json, or <id>/hardware.json."""
    if not root.is_dir():
        return
    for hw in sorted(root.glob(f"*/*/{HARDWARE_FILE}")):
        if hw.parent.parent.name in DEVICE_TYPES:
            yield hw.parent
    for hw in sorted(root.glob(f"*/{HARDWARE_FILE}")):
        if hw.parent.name != "template":
            yield hw.parent


# --------------------------------------------------------------------------- parsing


@lru_cache(maxsize=8)
def _schema(name: str, root: str) -> Any:
    import jsonschema

    path = Path(root) / "schema" / name
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read schema: {exc}") from exc
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _field_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def schema_problem(schema_name: str, data: Any) -> str | None:
    """``field '<path>': <message>`` for the first place ``data`` breaks the shipped schema
    ``schema_name`` (None: it passes), worded the way users read the file."""
    import jsonschema

    validator = _schema(schema_name, str(builtin_registry()))
    err = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if err is None:
        return None
    parts = list(err.absolute_path)
    msg = _one_line(err.message)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [r for r in err.validator_value if r not in err.instance]
        if missing:
            parts.append(missing[0])
            msg = "required field is missing"
    if len(msg) > 160:
        msg = msg[:157] + "..."
    return f"field '{_field_path(parts)}': {msg}"


def _validate(path: Path, data: Any, schema_name: str, model: type[M]) -> M:
    # Validated as JSON in pydantic's strict mode: a string or a boolean where a number belongs
    # is refused, as the schema says, instead of being coerced ("12" -> 12, true -> 1).
    # The schemas are generated from the pydantic models, so a file the model accepts passes the
    # schema too; jsonschema runs only to word the error of a file the model rejects (its
    # messages name the field the way users read the file). This keeps a cold CLI start fast.
    _check_version(path, data, model)
    try:
        text = json.dumps(data, allow_nan=False)
    except ValueError:  # NaN or infinity in what is about to be written
        raise RegistryError(f"{path}: {_non_finite_field(data)}: not a finite number") from None
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError:
        pass
    problem = schema_problem(schema_name, data)
    if problem is not None:
        raise RegistryError(f"{path}: {problem}")
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = _one_line(first["msg"]).removeprefix("Value error, ")
        raise RegistryError(f"{path}: field '{_field_path(first['loc'])}': {msg}") from None


def _check_version(path: Path, data: Any, model: type[BaseModel]) -> None:
    """A file of a format that carries ``schema_version`` must say which one, and it must be
    the one this estimator reads: a missing or future version is refused, not guessed."""
    field = model.model_fields.get("schema_version")
    if field is None or not isinstance(data, dict):
        return
    supported = field.default
    version = data.get("schema_version")
    if "schema_version" not in data:
        raise RegistryError(
            f"{path}: field 'schema_version': required field is missing (this estimator reads "
            f"version {supported})"
        )
    if type(version) is not int or version != supported:
        raise RegistryError(
            f"{path}: field 'schema_version': version {json.dumps(version)} is not supported "
            f"(this estimator reads version {supported})"
        )


def _non_finite_field(data: Any, parts: tuple[Any, ...] = ()) -> str:
    """``field '<path>'`` of the first NaN or infinity in ``data``."""
    items: Any = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        if isinstance(value, float) and not math.isfinite(value):
            return f"field '{_field_path((*parts, key))}'"
        if isinstance(value, dict | list):
            found = _non_finite_field(value, (*parts, key))
            if found:
                return found
    return "" if parts else "a field"


#: Integers beyond int64 are refused at parse time: no registry count is that big, and numpy
#: and numba would overflow on them.
_MAX_JSON_INT = 2**63 - 1


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range (not a finite double)")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > _MAX_JSON_INT:
        shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"
        raise ValueError(f"integer {shown} is out of range (more than 64 bits)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (standard JSON has no NaN or Infinity)")


def _read_json(path: Path) -> Any:
    """Parse a registry file: a regular UTF-8 file (a byte-order mark is allowed) of standard
    JSON, numbers finite and integers within 64 bits, nesting within Python's recursion limit;
    else one ``RegistryError`` line naming the file."""
    text = read_text(path, what="registry file", error=RegistryError)
    try:
        return json.loads(
            text, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:  # from the number hooks above
        raise RegistryError(f"{path}: invalid JSON: {exc}") from None
    except RecursionError:
        raise RegistryError(f"{path}: invalid JSON: nested too deeply") from None


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=256)
def _parse_hardware(path: str, _stamp: tuple[int, int]) -> Hardware:
    p = Path(path)
    hw = _validate(p, _read_json(p), "hardware.schema.json", Hardware)
    if hw.fingerprint and hw.fingerprint.cpu_model_regex:
        try:
            re.compile(hw.fingerprint.cpu_model_regex)
        except re.error as exc:
            raise RegistryError(f"{p}: field 'fingerprint.cpu_model_regex': {exc}") from None
    hw._source_dir = str(p.parent)
    return hw


@lru_cache(maxsize=256)
def _parse_curves(path: str, _stamp: tuple[int, int]) -> EfficiencyFile:
    p = Path(path)
    return _validate(p, _read_json(p), "efficiency_curves.schema.json", EfficiencyFile)


@lru_cache(maxsize=16)
def _parse_priors(path: str, _stamp: tuple[int, int]) -> PriorsFile:
    p = Path(path)
    return _validate(p, _read_json(p), "priors.schema.json", PriorsFile)


def read_hardware_file(path: str | os.PathLike[str]) -> Hardware:
    """Validate and load one hardware.json (cached by path and mtime)."""
    p = Path(path).resolve()
    return _parse_hardware(str(p), _stamp(p))


def read_efficiency_file(path: str | os.PathLike[str]) -> EfficiencyFile:
    p = Path(path).resolve()
    return _parse_curves(str(p), _stamp(p))


def read_priors_file(path: str | os.PathLike[str]) -> PriorsFile:
    p = Path(path).resolve()
    return _parse_priors(str(p), _stamp(p))


# --------------------------------------------------------------------------- hardware


def _names(hw: Hardware, folder: Path) -> list[str]:
    return [folder.name, hw.id, *hw.aliases]


def _index(roots: list[Path]) -> list[tuple[Path, Hardware]]:
    out: list[tuple[Path, Hardware]] = []
    for root in roots:
        for d in _device_dirs(root):
            out.append((d, read_hardware_file(d / HARDWARE_FILE)))
    return out


def list_hardware(registry: RegistryArg = None) -> list[str]:
    """Ids of every device visible (user folders shadow shipped ones with the same id)."""
    seen: dict[str, None] = {}
    for _d, hw in _index(registry_roots(registry)):
        seen.setdefault(hw.id, None)
    return sorted(seen, key=str.lower)


_Stamps = tuple[Path, tuple[int, int] | None]
#: name key -> (hardware.json found, its stamp, stamps of the folders that could shadow it).
_FAST: dict[tuple[str, ...], tuple[Path, tuple[int, int], tuple[_Stamps, ...]]] = {}


def _shadow_stamps(roots: list[Path]) -> tuple[_Stamps, ...]:
    """Stamps of the registry folders searched before the one a device was found in, and of
    their type folders: a device added there later (a server writing a calibration) changes one
    of them, so a cached lookup is not reused past it."""
    dirs = [d for r in roots for d in (r, *(r / t for t in DEVICE_TYPES))]
    return tuple((d, _stamp_or_none(d)) for d in dirs)


def _cache_key(name: str, registry: RegistryArg) -> tuple[str, ...]:
    reg = "" if registry is None else repr(registry)
    env = os.environ
    return (
        name,
        reg,
        env.get("ESTIMATOR_REGISTRY", ""),
        env.get("ESTIMATOR_BUILTIN_REGISTRY", ""),
        env.get("XDG_DATA_HOME", ""),
    )


def load_hardware(name: str | Hardware, registry: RegistryArg = None) -> Hardware:
    """The device called ``name`` (folder name, id or alias; case-insensitive).

    ``host`` means the registry entry whose fingerprint matches the machine this runs on.
    """
    if isinstance(name, Hardware):
        return name
    if name.lower() == "host":
        found = match_host(registry)
        if found is None:
            raise RegistryError(
                f"no registry entry matches this machine ({host.cpu_model_name() or 'unknown CPU'})"
                "; `calibrate-hardware --hw host` creates one (probe + calibration, minutes), "
                "`probe-hardware` only probes; `estimate-latency --probe` estimates uncalibrated"
            )
        name = found
    key = _cache_key(name.lower(), registry)
    hit = _FAST.get(key)
    if hit is not None:
        path, stamp, shadows = hit
        try:
            if _stamp(path) == stamp and all(_stamp_or_none(d) == st for d, st in shadows):
                return _parse_hardware(str(path), stamp)
        except RegistryError:
            pass
    roots = registry_roots(registry)
    wanted = name.lower()
    candidates: dict[str, str] = {}
    for i, root in enumerate(roots):
        matches: list[tuple[Path, Hardware]] = []
        for d in _device_dirs(root):
            path = (d / HARDWARE_FILE).resolve()
            hw = read_hardware_file(path)
            names = _names(hw, d)
            if wanted in (n.lower() for n in names):
                matches.append((path, hw))
            for n in names:
                candidates.setdefault(n.lower(), hw.id)
        if len(matches) > 1:
            # A folder shadows the folders after it; two answers in one folder are ambiguous.
            where = " and ".join(str(p.parent) for p, _ in matches[:2])
            raise RegistryError(
                f"'{name}' names {len(matches)} devices in registry folder {root}: {where}; "
                "give each device its own id and aliases"
            )
        if matches:
            path, hw = matches[0]
            if len(_FAST) > 4096:
                _FAST.clear()
            _FAST[key] = (path, _stamp(path), _shadow_stamps(roots[:i]))
            return hw
    close = difflib.get_close_matches(wanted, list(candidates), n=8, cutoff=0.6)
    ids = list(dict.fromkeys(candidates[c] for c in close))[:5]
    hint = f"; close matches: {', '.join(ids)}" if ids else ""
    listed = "" if ids else f"; known: {', '.join(list_hardware(registry))}"
    raise RegistryError(f"unknown hardware '{name}'{hint}{listed}")


# --------------------------------------------------------------------------- profiles


def priors_path(device_type: str, registry: RegistryArg = None) -> Path:
    for root in registry_roots(registry):
        p = root / "priors" / f"{device_type}.json"
        if p.is_file():
            return p
    raise RegistryError(
        f"no priors file for device type '{device_type}' (priors/{device_type}.json)"
    )


def load_priors(device_type: str, registry: RegistryArg = None) -> EfficiencyProfile:
    """The documented, uncalibrated prior for a device type."""
    return read_priors_file(priors_path(device_type, registry)).profile


def _curves_path(hw: Hardware, registry: RegistryArg) -> Path | None:
    """efficiency_curves.json next to the hardware.json, else in a same-named user folder."""
    if hw.source_dir is not None:
        p = Path(hw.source_dir) / CURVES_FILE
        if p.is_file():
            return p
    return None


def load_profile(
    hw: Hardware | str,
    runtime: str,
    dtype: str = "fp32",
    threads: int | None = None,
    registry: RegistryArg = None,
) -> EfficiencyProfile:
    """Efficiency profile for (runtime, dtype, threads) on ``hw``.

    Exact key first; else the same runtime and dtype at the nearest thread count
    (``threads_matched=False``); else the device type's prior (``calibrated=False``). Categories a
    calibrated profile lacks are filled from the prior and listed in ``prior_categories``.
    """
    device = load_hardware(hw, registry)
    dt = canonical_dtype(dtype)
    key = (*_cache_key(device.id, registry), device.source_dir or "", runtime, dt, str(threads))
    hit = _PROFILE_CACHE.get(key)
    if hit is not None:
        old_stamps, cached = hit
        if all(_stamp_or_none(p) == st for p, st in old_stamps):
            return cached
    path = _curves_path(device, registry)
    ppath = priors_path(device.type, registry)
    # Stamp the curves file even when absent, so one created later is picked up.
    stamps: tuple[tuple[Path, tuple[int, int] | None], ...] = ((ppath, _stamp_or_none(ppath)),)
    if device.source_dir is not None:
        cpath = Path(device.source_dir) / CURVES_FILE
        stamps = (*stamps, (cpath, _stamp_or_none(cpath)))
    result = _load_profile(device, runtime, dt, threads, path, read_priors_file(ppath).profile)
    if len(_PROFILE_CACHE) > 4096:
        _PROFILE_CACHE.clear()
    _PROFILE_CACHE[key] = (stamps, result)
    return result


_PROFILE_CACHE: dict[
    tuple[str, ...], tuple[tuple[tuple[Path, tuple[int, int] | None], ...], EfficiencyProfile]
] = {}


def _stamp_or_none(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _load_profile(
    device: Hardware,
    runtime: str,
    dt: str,
    threads: int | None,
    path: Path | None,
    prior: EfficiencyProfile,
) -> EfficiencyProfile:
    if path is not None:
        doc = read_efficiency_file(path)
        names = {n.lower() for n in (device.id, *device.aliases, path.parent.name)}
        if doc.device.lower() not in names:
            raise RegistryError(
                f"{path}: field 'device': the curves are for '{doc.device}', but the file sits "
                f"next to the hardware.json of '{device.id}'"
            )
        profiles = [
            p
            for p in doc.profiles
            if p.runtime.lower() == runtime.lower() and canonical_dtype(p.dtype) == dt
        ]
        if profiles:
            best = _nearest(profiles, threads)
            # A profile fitted for any thread count (None) matches; so does any profile of a
            # GPU-like device, whose speed does not depend on host threads.
            matched = (
                threads is None or best.threads in (None, threads) or not device.scales_with_threads
            )
            return _cached_fill(best, prior, matched)
    return _cached_prior(prior, runtime, dt, threads)


def _nearest(profiles: list[EfficiencyProfile], threads: int | None) -> EfficiencyProfile:
    if threads is None:
        return max(profiles, key=lambda p: p.threads or 0)

    def dist(p: EfficiencyProfile) -> tuple[float, int]:
        t = p.threads or threads
        return abs(t - threads), -t  # ties: the larger thread count

    return min(profiles, key=dist)


# Keyed by object ids; the value keeps the key objects so a recycled id is detected.
_FILL_CACHE: dict[tuple[int, int, bool], tuple[object, object, EfficiencyProfile]] = {}


def _cached_fill(
    prof: EfficiencyProfile, prior: EfficiencyProfile, matched: bool
) -> EfficiencyProfile:
    key = (id(prof), id(prior), matched)
    hit = _FILL_CACHE.get(key)
    if hit is not None and hit[0] is prof and hit[1] is prior:
        return hit[2]
    missing = [c for c in KernelCategory if c not in prof.categories and c in prior.categories]
    cats = {**prof.categories, **{c: prior.categories[c] for c in missing}}
    out = prof.model_copy(
        update={"categories": cats, "threads_matched": matched, "prior_categories": missing}
    )
    if len(_FILL_CACHE) > 1024:
        _FILL_CACHE.clear()
    _FILL_CACHE[key] = (prof, prior, out)
    return out


def fill_from_prior(
    profile: EfficiencyProfile, hw: Hardware, registry: RegistryArg = None
) -> EfficiencyProfile:
    """``profile`` (e.g. a fresh fit) with the categories it lacks taken from the device type's
    prior, exactly as :func:`load_profile` fills a stored profile; cached."""
    prior = read_priors_file(priors_path(hw.type, registry)).profile
    if all(c in profile.categories for c in prior.categories):
        return profile
    return _cached_fill(profile, prior, profile.threads_matched)


_PRIOR_CACHE: dict[tuple[int, str, str, int | None], tuple[object, EfficiencyProfile]] = {}


def _cached_prior(
    prior: EfficiencyProfile, runtime: str, dtype: str, threads: int | None
) -> EfficiencyProfile:
    key = (id(prior), runtime, dtype, threads)
    hit = _PRIOR_CACHE.get(key)
    if hit is not None and hit[0] is prior:
        return hit[1]
    out = prior.model_copy(
        update={
            "runtime": runtime,
            "dtype": dtype,
            "threads": threads,
            "calibrated": False,
            "threads_matched": False,
            "prior_categories": list(prior.categories),
        }
    )
    if len(_PRIOR_CACHE) > 1024:
        _PRIOR_CACHE.clear()
    _PRIOR_CACHE[key] = (prior, out)
    return out


# --------------------------------------------------------------------------- saving


#: Backups (``*.bak-<stamp>``) kept per registry file after a write; ``ESTIMATOR_KEEP_BACKUPS``
#: overrides (0 keeps none). Every calibration wrote one and none was ever removed.
DEFAULT_KEEP_BACKUPS = 10


def keep_backups() -> int:
    """How many backups of a registry file survive a write (``ESTIMATOR_KEEP_BACKUPS``)."""
    text = os.environ.get("ESTIMATOR_KEEP_BACKUPS", "").strip()
    if not text:
        return DEFAULT_KEEP_BACKUPS
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise RegistryError(f"ESTIMATOR_KEEP_BACKUPS={text!r}: expected an integer >= 0")
    return n


def prune_backups(target: Path, keep: int | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` backups of ``target``; returns what was removed.
    The stamp in the name sorts by time (``%Y%m%dT%H%M%S%fZ``)."""
    n = keep_backups() if keep is None else keep
    backups = sorted(target.parent.glob(f"{glob_escape(target.name)}.bak-*"))
    old = backups[: max(0, len(backups) - n)]
    for b in old:
        with contextlib.suppress(FileNotFoundError):
            b.unlink()
    return old


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def curves_path(path: str | os.PathLike[str]) -> Path:
    """The efficiency_curves.json that ``path`` (the file or its device folder) names; its folder
    must exist. Callers that measure first check this up front, so a bad path costs nothing."""
    target = Path(path)
    if target.is_dir() or target.suffix != ".json":
        target = target / CURVES_FILE
    if not target.parent.is_dir():
        raise RegistryError(f"{target.parent}: folder does not exist")
    return target


def save_profiles(
    path: str | os.PathLike[str],
    profiles: list[EfficiencyProfile],
    *,
    device: str | None = None,
    note: str = "",
    replace: bool = False,
) -> Path:
    """Write ``profiles`` into an efficiency_curves.json atomically; returns the file's path.

    ``path`` is the file or its device folder. Profiles with the same (runtime, dtype, threads)
    key replace the old ones; others are kept unless ``replace``. The previous file is copied to
    ``efficiency_curves.json.bak-<UTC timestamp>`` and an audit entry is appended. The new text
    goes to a temp file in the same folder, is fsynced, then ``os.replace``d: a crash leaves the
    old file intact and no partial file behind.
    """
    target = curves_path(path)
    folder = target.parent
    old: EfficiencyFile | None = None
    if target.is_file():
        try:
            old = read_efficiency_file(target)
        except RegistryError:
            if not replace:
                raise
            # replace=True may overwrite a broken file; it is still backed up below.
    had_file = target.is_file()
    dev = device or (old.device if old else folder.name)
    new_keys = {_key(p) for p in profiles}
    kept = [] if (old is None or replace) else [p for p in old.profiles if _key(p) not in new_keys]
    stamp = _utc_stamp()
    backup: Path | None = None
    if had_file:
        backup = folder / f"{CURVES_FILE}.bak-{stamp}"
        shutil.copy2(target, backup)
    entry = AuditEntry(
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        action="replace" if replace or old is None else "update",
        n_profiles=len(profiles),
        tool_version=estimator.__version__,
        note=note,
        backup=backup.name if backup else None,
    )
    clean = [
        p.model_copy(update={"threads_matched": True, "prior_categories": []}) for p in profiles
    ]
    doc = EfficiencyFile(
        device=dev,
        profiles=[*kept, *clean],
        audit=[*(old.audit if old else []), entry],
    )
    data = doc.model_dump(
        mode="json", exclude={"profiles": {"__all__": {"threads_matched", "prior_categories"}}}
    )
    # Validate what we are about to write with the same schema readers use.
    _validate(target, data, "efficiency_curves.schema.json", EfficiencyFile)
    try:
        write_atomic(target, json.dumps(data, indent=2) + "\n")
    except BaseException:
        if backup is not None and backup.exists() and target.is_file():
            backup.unlink()
        raise
    prune_backups(target)
    return target


def save_hardware(hw: Hardware, root: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``hw`` as ``<root>/<type>/<id>/hardware.json``; returns the file's path.

    An existing file is replaced only with ``force`` (and then copied to
    ``hardware.json.bak-<UTC timestamp>`` first). A new device folder is assembled under a
    temporary name and renamed into place, so an interrupted run leaves no folder and no
    partial file; an existing file is replaced with :func:`write_atomic`. The text is checked
    against the shipped schema before anything is written.
    """
    folder = Path(root) / hw.type / hw.id
    target = folder / HARDWARE_FILE
    data = hw.model_dump(mode="json", exclude_none=False)
    _validate(target, data, "hardware.schema.json", Hardware)
    text = json.dumps(data, indent=2) + "\n"
    if target.exists():
        if not force:
            raise RegistryError(f"{target}: already exists; pass --force to replace it")
        shutil.copy2(target, folder / f"{HARDWARE_FILE}.bak-{_utc_stamp()}")
        write_atomic(target, text)
        prune_backups(target)
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{hw.id}.", dir=folder.parent))
    try:
        write_atomic(tmp / HARDWARE_FILE, text)
        os.chmod(tmp, 0o755)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_atomic(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` all at once: a temp file in the same folder, fsynced,
    then ``os.replace``d, so a crash leaves the old file intact and no partial file behind.

    Writers of one folder take turns (an exclusive ``flock`` on the folder), so a temp file of
    ``target`` found while holding it was left by a writer killed mid-write (kill -9 during the
    fsync); it is removed, where before such files piled up."""
    with _folder_lock(target.parent):
        for stale in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        _write_atomic(target, text)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomic(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; a registry file is shared data, readable like the rest
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _key(p: EfficiencyProfile) -> tuple[str, str, int | None]:
    return p.runtime.lower(), canonical_dtype(p.dtype), p.threads


# --------------------------------------------------------------------------- host


def fingerprint_matches(fp: Fingerprint, model_name: str, host_info: dict[str, Any]) -> bool:
    """True when a CPU fingerprint fits a model name and a ``host.machine_fingerprint()`` dict
    (old key names, as in stored provenance, accepted)."""
    host_info = host.normalize_fingerprint(host_info)
    if not fp.cpu_model_regex or not re.search(fp.cpu_model_regex, model_name):
        return False
    if fp.cpu_family is not None and str(fp.cpu_family) != str(host_info.get("cpu_family")):
        return False
    number = host_info.get("cpu_model_number")
    if fp.cpu_model_number is not None and str(fp.cpu_model_number) != str(number):
        return False
    return fp.logical_cpus is None or fp.logical_cpus == host_info.get("cores_logical")


def match_host(registry: RegistryArg = None) -> str | None:
    """Id of the first registry CPU whose fingerprint matches this machine, or None."""
    model = host.cpu_model_name()
    info = host.machine_fingerprint()
    for _d, hw in _index(registry_roots(registry)):
        if hw.fingerprint is not None and fingerprint_matches(hw.fingerprint, model, info):
            return hw.id
    return None
