"""kernel_model.json: exact round trip, atomic save, one-line errors for broken files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from estimator.errors import RegistryError
from estimator.kernelmodel.features import FEATURE_NAMES, FEATURE_VERSION
from estimator.kernelmodel.io import (
    KERNEL_MODEL_FILE,
    dumps,
    kernel_model_path,
    load_device_kernel_model,
    load_kernel_model,
    save_kernel_model,
)
from estimator.kernelmodel.model import KernelModel, fit_kernel_model
from tests.kernelmodel._synthetic import dataset


@pytest.fixture(scope="module")
def model() -> KernelModel:
    x, y, cats, groups = dataset(600, seed=2)
    return fit_kernel_model(
        x, y, categories=cats, seed=3, groups=groups, device="dev", runtime="onnxruntime-cpu",
        threads=1,
    )  # fmt: skip


@pytest.fixture()
def saved(model: KernelModel, tmp_path: Path) -> Path:
    return save_kernel_model(model, tmp_path)


def _one_line(exc: pytest.ExceptionInfo[RegistryError], path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path.name) in msg
    return msg


def test_round_trip_is_bit_exact(model: KernelModel, saved: Path) -> None:
    assert saved.name == KERNEL_MODEL_FILE
    loaded = load_kernel_model(saved)
    x = dataset(500, seed=8)[0]
    r0, s0 = model.predict(x)
    r1, s1 = loaded.predict(x)
    assert np.array_equal(r0, r1) and np.array_equal(s0, s1)
    assert np.array_equal(model.predict_heads(x), loaded.predict_heads(x))
    assert dumps(loaded) == dumps(model)
    assert loaded.heldout == model.heldout and loaded.provenance == model.provenance


def test_file_fields(saved: Path) -> None:
    data = json.loads(saved.read_text())
    assert data["format_version"] == 1
    assert data["feature_names"] == list(FEATURE_NAMES)
    assert data["feature_version"] == FEATURE_VERSION
    assert data["uncertainty"]["method"] == "quantile"
    assert [h["name"] for h in data["heads"]] == ["mean", "q05", "q95"]
    prov = data["provenance"]
    assert prov["library"] == "lightgbm" and prov["seed"] == 3 and prov["threads"] == 1
    assert prov["device"] == "dev" and prov["runtime"] == "onnxruntime-cpu" and prov["date"]
    assert data["training_set"]["n_kernels"] == 600
    assert set(data["heldout_errors"]["all"]) >= {"n", "median_abs_error", "coverage_90"}
    # it passes the shipped schema
    import jsonschema

    schema = json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "hardware_registry/schema/kernel_model.schema.json"
        ).read_text()
    )
    jsonschema.validate(data, schema)


def test_save_is_atomic(model: KernelModel, saved: Path) -> None:
    before = saved.read_text()
    save_kernel_model(model, saved)
    assert saved.read_text() == before
    assert [p.name for p in saved.parent.iterdir()] == [KERNEL_MODEL_FILE]  # no temp left


def test_truncated_file(saved: Path) -> None:
    text = saved.read_text()
    saved.write_text(text[: len(text) // 2])
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(saved)
    assert "invalid JSON" in _one_line(exc, saved)


def test_corrupt_file(saved: Path) -> None:
    saved.write_bytes(b"\x00\xffgarbage")
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(saved)
    _one_line(exc, saved)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(tmp_path / KERNEL_MODEL_FILE)
    _one_line(exc, tmp_path / KERNEL_MODEL_FILE)


def _edit(path: Path, fn: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("clip"), "clip"),
        (lambda d: d["provenance"].update(seed="x"), "provenance.seed"),
        (lambda d: d["heads"][1]["trees"][0].update(threshold="no"), "heads[1].trees[0].threshold"),
        (lambda d: d["uncertainty"].update(method="magic"), "uncertainty.method"),
    ],
)
def test_schema_invalid_names_the_field(
    saved: Path, edit: Callable[[dict[str, Any]], object], field: str
) -> None:
    _edit(saved, edit)
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(saved)
    assert f"field '{field}'" in _one_line(exc, saved)


def test_broken_tree_structure(saved: Path) -> None:
    def bad(d: dict[str, Any]) -> None:
        tree = d["heads"][0]["trees"][0]
        tree["left"][0] = 10_000

    _edit(saved, bad)
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(saved)
    assert "heads[0].trees[0].left" in _one_line(exc, saved)


def test_feature_schema_mismatch(saved: Path) -> None:
    _edit(saved, lambda d: d.update(feature_version=FEATURE_VERSION + 1))
    with pytest.raises(RegistryError) as exc:
        load_kernel_model(saved)
    assert "refit" in _one_line(exc, saved)
    _edit(
        saved, lambda d: (d.update(feature_version=FEATURE_VERSION), d["feature_names"].reverse())
    )
    with pytest.raises(RegistryError, match="features"):
        load_kernel_model(saved)


def test_a_file_of_an_earlier_prefix_schema_still_loads_and_predicts(
    saved: Path, model: KernelModel
) -> None:
    """v3 appended conv_nchwc: a v2 file (the first 50 features) is read and predicts from
    those columns of today's feature matrix, so shipped profiles need no refit."""
    from estimator.kernelmodel.features import N_FEATURES, PREFIX_VERSIONS

    old_n = PREFIX_VERSIONS[2]
    data = json.loads(saved.read_text())
    if any(f >= old_n for h in data["heads"] for tr in h["trees"] for f in tr["feature"]):
        pytest.skip("the fixture's trees read the appended feature")
    data.update(feature_version=2, feature_names=list(FEATURE_NAMES[:old_n]))
    saved.write_text(json.dumps(data))
    old = load_kernel_model(saved)
    x = np.random.default_rng(0).normal(size=(7, N_FEATURES))
    assert np.array_equal(old.predict(x)[0], model.predict(x)[0])
    # a v2 file whose names are not today's first 50 is still refused
    data["feature_names"] = list(reversed(FEATURE_NAMES[:old_n]))
    saved.write_text(json.dumps(data))
    with pytest.raises(RegistryError, match="refit"):
        load_kernel_model(saved)


def test_next_to_hardware_json(model: KernelModel, tmp_path: Path, repo_root: Path) -> None:
    src = repo_root / "hardware_registry/cpu/i7-12700K"
    dev = tmp_path / "cpu" / "my-cpu"
    dev.mkdir(parents=True)
    hw = json.loads((src / "hardware.json").read_text())
    hw.update(id="my-cpu-km-test", aliases=[])
    (dev / "hardware.json").write_text(json.dumps(hw))
    assert load_device_kernel_model("my-cpu-km-test", registry=tmp_path) is None
    path = kernel_model_path("my-cpu-km-test", registry=tmp_path)
    assert path == dev / KERNEL_MODEL_FILE
    save_kernel_model(model, dev)
    loaded = load_device_kernel_model("my-cpu-km-test", registry=tmp_path)
    assert loaded is not None and loaded.n_trees == model.n_trees
    shutil.rmtree(dev)
