"""Which measured networks a calibration fits on: zoo and calibration-corpus networks always,
validation-corpus networks only when asked (they are there to be predicted)."""

from __future__ import annotations

from pathlib import Path

import onnx

from estimator.calibration.collect import Budget, collect, models_dir
from estimator.calibration.dataset import load_dataset
from estimator.registry import load_hardware
from estimator.zoo.family import family_of
from tests._nets import small_net

TINY = Budget(warmup=2, min_time_s=0.02, profile_runs=3, max_profile_runs=10, min_repeats=5)
NAMES = ("plain", "calib-vgg-000-0123abcd", "corpus-vgg-001-89abcdef")


def test_calibration_corpus_networks_are_fitted_and_validation_ones_only_on_request(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calib.sqlite"
    folder = models_dir(db)
    paths = []
    for i, name in enumerate(NAMES):
        p = folder / f"zoo__{name}.onnx"
        onnx.save(small_net(name, i, 8 + 8 * i), p)
        paths.append(p)
    collect(paths, db, 1, budget=TINY, progress=False)
    hw = load_hardware("epyc-milan-vm-2vcpu")
    fitted = {m.name for m in load_dataset(db, hw, 1, models=["plain"]).models}
    assert fitted == {"plain", "calib-vgg-000-0123abcd"}
    everything = {m.name for m in load_dataset(db, hw, 1, corpus=True).models}
    assert everything == set(NAMES)


def test_corpus_networks_carry_their_family() -> None:
    assert family_of("calib-grouped-003-deadbeef") == "grouped"
    assert family_of("corpus-vit-017-0badcafe") == "vit"
    assert family_of("resnet50") == "bottleneck"
    assert family_of("my_own_net") == "my_own_net"
