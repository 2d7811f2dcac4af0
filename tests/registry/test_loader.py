"""Loader: search order, error messages, profile fallbacks, atomic saves, caching."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from estimator import host as host_mod
from estimator.errors import RegistryError
from estimator.registry import (
    EfficiencyProfile,
    KernelCategory,
    list_hardware,
    load_hardware,
    load_profile,
    match_host,
    read_efficiency_file,
    read_hardware_file,
    save_profiles,
)

REPO = Path(__file__).resolve().parents[2]
BUILTIN = REPO / "hardware_registry"


def shipped_hardware(rel: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((BUILTIN / rel / "hardware.json").read_text())
    return doc


def curve(eff: float) -> dict[str, Any]:
    return {"knots_log10": [3.0, 9.0], "mean": [eff, eff], "std": [0.01, 0.01]}


def profile(runtime: str, dtype: str, threads: int | None, eff: float) -> dict[str, Any]:
    return {
        "runtime": runtime,
        "dtype": dtype,
        "threads": threads,
        "calibrated": True,
        "device_sigma": 0.1,
        "categories": {
            "gemm": {
                "compute": curve(eff),
                "memory": curve(eff),
                "overhead_us": {"mean": 1.0, "std": 0.5, "n": 10},
            }
        },
        "provenance": {
            "date": "2026-11-23",
            "tool_version": "test",
            "n_measurements": 10,
            "fit_r2": {"gemm": 0.9},
            "source": "synthetic test profile",
        },
    }


def write_device(root: Path, typ: str, ident: str, doc: dict[str, Any]) -> Path:
    folder = root / typ / ident
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hardware.json").write_text(json.dumps({**doc, "id": ident}))
    return folder


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESTIMATOR_REGISTRY", raising=False)
    monkeypatch.delenv("ESTIMATOR_BUILTIN_REGISTRY", raising=False)


# --------------------------------------------------------------------------- broken files


def _broken(tmp_path: Path, mutate: Any) -> Path:
    doc = shipped_hardware("cpu/i7-12700K")
    mutate(doc)
    folder = write_device(tmp_path, "cpu", "broken", doc)
    return folder / "hardware.json"


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [
        (lambda d: d.pop("memory"), "memory", "required field is missing"),
        (
            lambda d: d["memory"].update(dram_bandwidth_gbs=-3),
            "memory.dram_bandwidth_gbs",
            "-3 is less than or equal to the minimum of 0",
        ),
        (lambda d: d.update(cores="eight"), "cores", "'eight' is not of type 'integer'"),
        (lambda d: d["peak_gflops"]["fp32"].pop("derivation"), "peak_gflops.fp32.derivation", ""),
        (lambda d: d["caches"][1].update(size_kib=-1), "caches[1].size_kib", "minimum"),
        (lambda d: d.update(type="fpga"), "type", "'fpga' is not one of"),
    ],
)
def test_broken_hardware_file_names_file_and_field(
    tmp_path: Path, mutate: Any, field: str, fragment: str
) -> None:
    path = _broken(tmp_path, mutate)
    with pytest.raises(RegistryError) as info:
        read_hardware_file(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path.resolve()))
    assert f"field '{field}'" in msg
    assert fragment in msg


def test_bad_json_syntax_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "cpu" / "bad"
    folder.mkdir(parents=True)
    (folder / "hardware.json").write_text('{\n  "id": "bad",\n  "cores": 4,,\n}')
    with pytest.raises(RegistryError, match=r"hardware\.json: invalid JSON at line 3 column"):
        read_hardware_file(folder / "hardware.json")
    # A broken user device also breaks name lookups with the same one-line error.
    with pytest.raises(RegistryError, match="invalid JSON"):
        load_hardware("i7-12700K", registry=tmp_path)


def test_non_increasing_knots_in_curves_file(tmp_path: Path) -> None:
    prof = profile("onnxruntime-cpu", "fp32", 1, 0.5)
    prof["categories"]["gemm"]["compute"]["knots_log10"] = [5.0, 4.0]
    path = tmp_path / "efficiency_curves.json"
    path.write_text(json.dumps({"schema_version": 1, "device": "x", "profiles": [prof]}))
    with pytest.raises(RegistryError) as info:
        read_efficiency_file(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path.resolve()) in msg
    assert "field 'profiles[0].categories.gemm.compute'" in msg
    assert "strictly increasing" in msg


def test_efficiency_above_one_rejected_by_schema(tmp_path: Path) -> None:
    prof = profile("onnxruntime-cpu", "fp32", 1, 0.5)
    prof["categories"]["gemm"]["memory"]["mean"] = [0.5, 1.5]
    path = tmp_path / "efficiency_curves.json"
    path.write_text(json.dumps({"schema_version": 1, "device": "x", "profiles": [prof]}))
    with pytest.raises(
        RegistryError, match=r"field 'profiles\[0\]\.categories\.gemm\.memory\.mean\[1\]'"
    ):
        read_efficiency_file(path)


# --------------------------------------------------------------------------- lookup


def test_unknown_hardware_lists_close_matches() -> None:
    with pytest.raises(RegistryError) as info:
        load_hardware("i7-1270K")
    assert str(info.value) == "unknown hardware 'i7-1270K'; close matches: i7-12700K, i7-12700H"


def test_hopeless_name_lists_known_devices() -> None:
    with pytest.raises(RegistryError, match=r"unknown hardware 'zzzz'; known: .*i7-12700K"):
        load_hardware("zzzz")


def test_names_are_case_insensitive_and_aliases_work() -> None:
    assert load_hardware("I7-12700k").id == "i7-12700K"
    assert load_hardware("GTX1080TI").id == "gtx-1080-ti"
    assert load_hardware("titanx").id == "titan-x-pascal"


def test_user_registry_env_var_overrides_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = shipped_hardware("cpu/i7-12700K")
    doc["peak_gflops"]["fp32"]["gflops"] = 1000.0
    write_device(tmp_path, "cpu", "i7-12700K", doc)
    other = tmp_path / "second"
    write_device(other, "cpu", "my-own-cpu", shipped_hardware("cpu/i7-12700H"))
    assert load_hardware("i7-12700K").peak_flops("fp32") == pytest.approx(1433.6e9)
    monkeypatch.setenv("ESTIMATOR_REGISTRY", f"{tmp_path}{os.pathsep}{other}")
    assert load_hardware("i7-12700K").peak_flops("fp32") == pytest.approx(1000e9)
    assert load_hardware("my-own-cpu").model.startswith("Core i7-12700H")
    names = list_hardware()
    assert names.count("i7-12700K") == 1 and "my-own-cpu" in names and "a100" in names


def test_registry_argument_and_missing_folder(tmp_path: Path) -> None:
    doc = shipped_hardware("cpu/i7-12700K")
    write_device(tmp_path, "cpu", "arg-cpu", doc)
    assert load_hardware("arg-cpu", registry=tmp_path).id == "arg-cpu"
    with pytest.raises(RegistryError, match=r"registry folder .* does not exist"):
        load_hardware("i7-12700K", registry=tmp_path / "nope")


def test_builtin_registry_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the shipped schemas plus a single device: only that device is visible.
    (tmp_path / "schema").mkdir()
    for f in (BUILTIN / "schema").glob("*.json"):
        (tmp_path / "schema" / f.name).write_text(f.read_text())
    write_device(tmp_path, "gpu", "only-gpu", shipped_hardware("gpu/a100"))
    monkeypatch.setenv("ESTIMATOR_BUILTIN_REGISTRY", str(tmp_path))
    assert list_hardware() == ["only-gpu"]


def test_cached_load_is_fast_and_sees_edits(tmp_path: Path) -> None:
    folder = write_device(tmp_path, "cpu", "cached", shipped_hardware("cpu/i7-12700K"))
    first = load_hardware("cached", registry=tmp_path)
    assert load_hardware("cached", registry=tmp_path) is first
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        load_hardware("cached", registry=tmp_path)
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 500e-6  # measured ~25 us on the 2-vCPU dev VM; loose bound for CI noise
    doc = shipped_hardware("cpu/i7-12700K")
    doc["cores"] = 6
    time.sleep(0.01)
    (folder / "hardware.json").write_text(json.dumps({**doc, "id": "cached"}))
    assert load_hardware("cached", registry=tmp_path).cores == 6


def test_device_added_to_an_earlier_folder_shadows_a_cached_lookup(tmp_path: Path) -> None:
    """A long-running process (the server) sees a device written into its registry after it
    first resolved the shipped one of the same id."""
    assert load_hardware("a100", registry=tmp_path).source_dir == str(BUILTIN / "gpu" / "a100")
    doc = shipped_hardware("gpu/a100")
    doc["cores"] = 7
    write_device(tmp_path, "gpu", "a100", doc)
    assert load_hardware("a100", registry=tmp_path).cores == 7


# --------------------------------------------------------------------------- profiles


@pytest.fixture
def calibrated_device(tmp_path: Path) -> Path:
    folder = write_device(tmp_path, "cpu", "calib", shipped_hardware("cpu/i7-12700K"))
    doc = {
        "schema_version": 1,
        "device": "calib",
        "profiles": [
            profile("onnxruntime-cpu", "fp32", 1, 0.1),
            profile("onnxruntime-cpu", "fp32", 4, 0.4),
        ],
    }
    (folder / "efficiency_curves.json").write_text(json.dumps(doc))
    return tmp_path


def _gemm_eff(p: EfficiencyProfile) -> float:
    return float(p.category("gemm").compute.evaluate(6.0)[0])


def test_profile_exact_match(calibrated_device: Path) -> None:
    p = load_profile("calib", "onnxruntime-cpu", "fp32", 4, registry=calibrated_device)
    assert p.calibrated and p.threads == 4 and p.threads_matched
    assert _gemm_eff(p) == pytest.approx(0.4)
    # Categories the calibration lacks come from the cpu prior and are listed.
    assert KernelCategory.CONV_DEPTHWISE in p.prior_categories
    assert KernelCategory.GEMM not in p.prior_categories
    assert set(p.categories) == set(KernelCategory)


@pytest.mark.parametrize(("threads", "fitted", "eff"), [(3, 4, 0.4), (2, 1, 0.1), (16, 4, 0.4)])
def test_profile_nearest_threads(
    calibrated_device: Path, threads: int, fitted: int, eff: float
) -> None:
    # 3 is 1 from 4 and 2 from 1; 2 is 1 from 1 and 2 from 4; 16 is nearest to 4.
    p = load_profile("calib", "onnxruntime-cpu", "float32", threads, registry=calibrated_device)
    assert p.calibrated and not p.threads_matched
    assert p.threads == fitted
    assert _gemm_eff(p) == pytest.approx(eff)


@pytest.mark.parametrize(("runtime", "dtype"), [("onnxruntime-cpu", "int8"), ("tflite", "fp32")])
def test_profile_falls_back_to_prior(calibrated_device: Path, runtime: str, dtype: str) -> None:
    p = load_profile("calib", runtime, dtype, 4, registry=calibrated_device)
    assert not p.calibrated and not p.threads_matched
    assert (p.runtime, p.dtype, p.threads) == (runtime, dtype, 4)
    prior = json.loads((BUILTIN / "priors" / "cpu.json").read_text())["profile"]
    expected = prior["categories"]["gemm"]["compute"]["mean"][3]  # knot log10 = 6
    assert _gemm_eff(p) == pytest.approx(expected)


def test_gpu_profile_ignores_host_threads(tmp_path: Path) -> None:
    folder = write_device(tmp_path, "gpu", "calib-gpu", shipped_hardware("gpu/a100"))
    doc = {
        "schema_version": 1,
        "device": "calib-gpu",
        "profiles": [profile("cuda", "fp16", 1, 0.3)],
    }
    (folder / "efficiency_curves.json").write_text(json.dumps(doc))
    p = load_profile("calib-gpu", "cuda", "fp16", 108, registry=tmp_path)
    assert p.calibrated and p.threads_matched and p.threads == 1


def test_profile_for_gpu_uses_gpu_prior() -> None:
    p = load_profile("a100", "pytorch-eager", "fp16", None)
    assert not p.calibrated
    prior = json.loads((BUILTIN / "priors" / "gpu.json").read_text())["profile"]
    assert p.device_sigma == prior["device_sigma"]


# --------------------------------------------------------------------------- saving


def _profiles(*items: tuple[int, float]) -> list[EfficiencyProfile]:
    return [
        EfficiencyProfile.model_validate(profile("onnxruntime-cpu", "fp32", t, e)) for t, e in items
    ]


def test_save_profiles_round_trip_backup_and_audit(tmp_path: Path) -> None:
    folder = write_device(tmp_path, "cpu", "saver", shipped_hardware("cpu/i7-12700K"))
    target = save_profiles(folder, _profiles((1, 0.2)), note="first")
    assert target == folder / "efficiency_curves.json"
    assert not list(folder.glob("*.bak-*"))
    save_profiles(target, _profiles((1, 0.3), (2, 0.5)), note="second")
    backups = list(folder.glob("efficiency_curves.json.bak-*"))
    assert len(backups) == 1
    assert re.fullmatch(r"efficiency_curves\.json\.bak-\d{8}T\d{12}Z", backups[0].name)
    old = json.loads(backups[0].read_text())
    assert [p["threads"] for p in old["profiles"]] == [1]
    doc = read_efficiency_file(target)
    assert doc.device == "saver"
    assert sorted(p.threads or 0 for p in doc.profiles) == [1, 2]  # threads=1 replaced, 2 added
    assert [a.note for a in doc.audit] == ["first", "second"]
    assert doc.audit[1].backup == backups[0].name
    p = load_profile("saver", "onnxruntime-cpu", "fp32", 1, registry=tmp_path)
    assert _gemm_eff(p) == pytest.approx(0.3)


def test_save_profiles_crash_leaves_original_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_device(tmp_path, "cpu", "crash", shipped_hardware("cpu/i7-12700K"))
    target = save_profiles(folder, _profiles((1, 0.2)))
    before = target.read_bytes()
    listing = sorted(p.name for p in folder.iterdir())

    def boom(src: Any, dst: Any) -> None:
        raise OSError("simulated crash during replace")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated crash"):
        save_profiles(folder, _profiles((1, 0.9)))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == listing  # no temp file, no stray backup


def test_save_profiles_replace_overwrites_broken_file(tmp_path: Path) -> None:
    folder = write_device(tmp_path, "cpu", "broken-curves", shipped_hardware("cpu/i7-12700K"))
    (folder / "efficiency_curves.json").write_text("{not json")
    with pytest.raises(RegistryError, match="invalid JSON"):
        save_profiles(folder, _profiles((1, 0.2)))
    target = save_profiles(folder, _profiles((1, 0.2)), replace=True)
    assert len(read_efficiency_file(target).profiles) == 1
    (backup,) = folder.glob("efficiency_curves.json.bak-*")
    assert backup.read_text() == "{not json"


def test_save_profiles_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        save_profiles(tmp_path / "nope" / "efficiency_curves.json", _profiles((1, 0.2)))


# --------------------------------------------------------------------------- host


def test_match_host_with_a_user_fingerprint(tmp_path: Path) -> None:
    doc = shipped_hardware("cpu/i7-12700K")
    doc["fingerprint"] = {"cpu_model_regex": "^" + re.escape(host_mod.cpu_model_name()) + "$"}
    write_device(tmp_path, "cpu", "aaa-this-host", doc)
    assert match_host(registry=tmp_path) == "aaa-this-host"


def test_host_resolves_to_the_matching_entry_or_says_why() -> None:
    from estimator.registry.loader import load_hardware as _load
    from estimator.registry.loader import match_host

    found = match_host()
    if found is None:
        with pytest.raises(RegistryError, match="no registry entry matches this machine"):
            _load("host")
    else:
        assert _load("host").id == _load(found).id


def test_a_registry_file_that_is_not_utf8_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "hardware.json"
    bad.write_bytes(b'{"id": "\xff\xfe"}')
    with pytest.raises(RegistryError, match=r"hardware\.json: not a UTF-8 text file \(byte 8\)"):
        read_hardware_file(bad)


def test_backups_are_pruned_to_the_configured_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every write left a .bak-* and none was removed (issue 15)."""
    folder = write_device(tmp_path, "cpu", "pruned", shipped_hardware("cpu/i7-12700K"))
    monkeypatch.setenv("ESTIMATOR_KEEP_BACKUPS", "2")
    for i in range(5):
        save_profiles(folder, _profiles((1, 0.1 + 0.1 * i)))
    backups = sorted(folder.glob("efficiency_curves.json.bak-*"))
    assert len(backups) == 2
    # the newest two: the last backup holds the fourth write's efficiency
    assert '"threads": 1' in backups[-1].read_text()
    monkeypatch.setenv("ESTIMATOR_KEEP_BACKUPS", "-1")
    with pytest.raises(RegistryError, match="ESTIMATOR_KEEP_BACKUPS"):
        save_profiles(folder, _profiles((1, 0.2)))


def test_a_stale_temp_file_from_a_killed_write_is_removed(tmp_path: Path) -> None:
    """kill -9 during the fsync left .efficiency_curves.json.*.tmp behind for good (issue 15)."""
    folder = write_device(tmp_path, "cpu", "stale", shipped_hardware("cpu/i7-12700K"))
    stale = folder / ".efficiency_curves.json.abc123.tmp"
    stale.write_text('{"partial": ')
    other = folder / ".hardware.json.xyz.tmp"  # another file's temp file is not ours to remove
    other.write_text("x")
    save_profiles(folder, _profiles((1, 0.2)))
    assert not stale.exists() and other.exists()
    assert not list(folder.glob(".efficiency_curves.json.*.tmp"))
