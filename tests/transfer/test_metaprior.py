"""The meta-prior: it recovers a known population of device scales, is stored as data naming its
training devices, and leave-one-device-out never reads the held-out device."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from estimator.engine import pack_device
from estimator.errors import RegistryError
from estimator.transfer import Level, level, nb201_kernel_set, prior_for
from estimator.transfer.fewshot import _Model, base_terms
from estimator.transfer.lodo import DeviceData, learn_meta, prior_for_device, training_fit
from estimator.transfer.metaprior import load_meta_prior, read_meta_prior, save
from estimator.zoo.nb201 import random_archs

CMO = level("cmo")
SCALE = level("scale")


def _device(
    name: str, theta: np.ndarray, seed: int, n: int = 80, level_: Level = CMO
) -> DeviceData:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(n, seed=31), batch=128)
    dev = pack_device(hw, prior, hw.cores)
    t, _ = _Model.build(base_terms(ks.kernels, dev), level_.params).kernel_times(theta)
    y = np.asarray(ks.counts @ t).reshape(-1) * 1e3
    y *= np.exp(np.random.default_rng(seed).normal(0.0, 0.01, n))
    idx = np.arange(n)
    return DeviceData(
        name, hw, prior, ks, y, idx[: n * 3 // 4], idx[n * 3 // 4 :], np.ones(n), batch=128,
        sigma=0.01,
    )  # fmt: skip


def test_recovers_a_known_parameter_distribution() -> None:
    # 12 synthetic devices whose one time scale (on the prior's kernel times) is drawn from a
    # known lognormal: the meta-prior's mean and width are that distribution's
    mu, tau = np.log(2.5), 0.4
    rng = np.random.default_rng(0)
    thetas = mu + tau * rng.standard_normal(12)
    devices = [_device(f"synthetic-{i}", np.array([th]), seed=i, level_=SCALE)
               for i, th in enumerate(thetas)]  # fmt: skip
    trained = [training_fit(d, [SCALE]) for d in devices]
    got = np.array([t.device.theta["scale"]["scale"] for t in trained])
    np.testing.assert_allclose(got, thetas, atol=0.01)  # each training fit recovers its device
    meta = learn_meta(trained, devices[0].prior, devices[0].group, [SCALE])
    assert meta is not None
    free = meta.model_copy(update={"nu0": 0.0})  # no datasheet pseudo-device
    (m,), (t,) = free.level_prior("scale", 128).vectors(["scale"])
    assert m == pytest.approx(thetas.mean(), abs=0.01)
    assert t == pytest.approx(thetas.std(), rel=0.1)
    assert abs(m - mu) < 3 * tau / np.sqrt(12) and 0.5 * tau < t < 1.5 * tau
    # with the datasheet as one more device the mean moves 1/13 of the way toward 0
    (m1,), _ = meta.level_prior("scale", 128).vectors(["scale"])
    assert m1 == pytest.approx(m * 12 / 13, abs=1e-9)
    # batch weights: a device at batch 128 counts fully, so a batch-1 prior leans on none
    assert meta.level_prior("scale", 1).weight < 0.01 * meta.level_prior("scale", 128).weight


def test_saved_prior_names_its_training_devices(tmp_path: Path) -> None:
    devices = [_device(f"dev-{i}", np.log([0.6, 1.1, 2.0 + i]), seed=i, n=30) for i in range(2)]
    trained = [training_fit(d, [CMO]) for d in devices]
    meta = learn_meta(trained, devices[0].prior, devices[0].group, [CMO])
    assert meta is not None
    path = save(meta, tmp_path)
    assert path == tmp_path / "meta_priors" / "gpu.pytorch-eager.json"
    back = load_meta_prior("gpu", "pytorch-eager", tmp_path)
    assert back == meta
    assert [t.name for t in back.training_devices] == ["dev-0", "dev-1"]
    assert load_meta_prior("gpu", "tensorrt", tmp_path) is None
    doc = json.loads(path.read_text())
    doc["training_devices"][0]["batch"] = 0
    path.write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match=r"gpu.pytorch-eager.json: field training_devices"):
        read_meta_prior(path)


def test_lodo_never_reads_the_held_out_column() -> None:
    thetas = np.log([[0.5, 1.2, 3.0], [0.6, 1.0, 2.5], [0.4, 1.4, 3.5]])
    devices = [_device(f"dev-{i}", th, seed=i, n=40) for i, th in enumerate(thetas)]
    held = devices[0]
    noisy = DeviceData(
        held.name, held.hw, held.prior, held.models,
        np.exp(np.random.default_rng(9).normal(0.0, 1.0, held.y.size)),
        held.pool, held.query, held.flops, batch=held.batch,
    )  # fmt: skip
    priors = []
    for d0 in (held, noisy):
        devs = [d0, *devices[1:]]
        trained = {d.name: training_fit(d, [CMO]) for d in devs}
        meta = prior_for_device(d0, devs, trained, [CMO])
        assert meta is not None
        priors.append(meta)
    assert [t.name for t in priors[0].training_devices] == ["dev-1", "dev-2"]
    assert priors[0] == priors[1]
