"""Tables from the results store (real SQLite) and from the estimator; NB201 costs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from estimator import estimate
from estimator.analysis.efficiency import (
    device_type,
    estimated_table,
    from_store,
    nb201_costs,
    with_nb201_costs,
)
from estimator.analysis.efficiency.table import Row, from_rows
from estimator.errors import InputError
from estimator.host import machine_fingerprint
from estimator.measure import Measurement, ResultsStore
from estimator.measure.stats import summarize
from estimator.transfer.baselines import nb201_flops_params
from estimator.zoo.nb201_ir import random_archs


def _run(name: str, threads: int, samples: list[float], rss: int | None = None) -> Measurement:
    x = np.asarray(samples)
    return Measurement(
        samples_ms=x,
        summary=summarize(x, 1),
        fingerprint=machine_fingerprint(),
        model_hash=hashlib.sha256(name.encode()).hexdigest(),
        model_name=name,
        model_path=None,
        runtime="onnxruntime",
        runtime_version="1.0",
        threads=threads,
        batch=1,
        dtype="float32",
        warmup=1,
        started_at=1.0,
        finished_at=2.0,
        peak_rss_bytes=rss,
    )


def test_store_runs_become_one_device_per_configuration(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        store.record(_run("a", 1, [1.0, 2.0, 3.0], rss=2 * 1024 * 1024))
        store.record(_run("b", 1, [4.0, 5.0, 6.0]))
        store.record(_run("a", 2, [1.0, 1.0, 1.0]))
        store.record(_run("a", 2, [0.5, 0.5, 0.5]))  # the later run of (a, 2 threads) wins
    t = from_store(db)
    assert t.models == ("a", "b") and len(t.devices) == 2
    t1 = next(d for d in t.devices if " t1 " in d)
    t2 = next(d for d in t.devices if " t2 " in d)
    assert t.latency_ms[0, t.devices.index(t1)] == 2.0  # the median
    assert t.latency_ms[1, t.devices.index(t1)] == 5.0
    assert t.latency_ms[0, t.devices.index(t2)] == 0.5
    assert np.isnan(t.latency_ms[1, t.devices.index(t2)])
    assert t.pair["memory_mb"][0, t.devices.index(t1)] == 2.0


def test_store_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no results store"):
        from_store(tmp_path / "missing.sqlite")
    with ResultsStore(tmp_path / "empty.sqlite"):
        pass
    with pytest.raises(InputError, match="no complete runs"):
        from_store(tmp_path / "empty.sqlite")


@pytest.mark.parametrize("semantics", ["reference", "pruned"])
def test_nb201_costs_equal_costing_each_graph(semantics: str) -> None:
    archs = random_archs(12, seed=5)
    flops, params = nb201_costs(archs, semantics=semantics)
    ref_flops, ref_params = nb201_flops_params(archs, semantics=semantics)
    np.testing.assert_array_equal(flops, ref_flops)
    np.testing.assert_array_equal(params, ref_params)


def test_with_nb201_costs_leaves_other_models_nan() -> None:
    arch = random_archs(1, seed=1)[0]
    t = with_nb201_costs(from_rows([Row(arch, "x", 1.0), Row("resnet18", "x", 2.0)]))
    assert t.column("flops")[0] > 0 and np.isnan(t.column("flops")[1])


def test_estimated_table_is_estimate_per_device() -> None:
    t = estimated_table(["squeezenet1_1", "mobilenet_v3_small"], ["i7-12700K", "rtx-4090"])
    assert t.devices == ("i7-12700K", "rtx-4090")
    for i, m in enumerate(t.models):
        for j, d in enumerate(t.devices):
            e = estimate(m, d)
            assert t.latency_ms[i, j] == pytest.approx(e.latency_ms, rel=1e-9)
            assert t.column("flops")[i] == e.flops and t.column("params")[i] == e.params
            mem = (e.weight_bytes + e.peak_activation_bytes) / 2**20
            assert t.pair["memory_mb"][i, j] == pytest.approx(mem)


def test_device_types_come_from_the_registry() -> None:
    assert device_type("1080ti_32") == "gpu"
    assert device_type("silver_4114") == "cpu"
    assert device_type("pixel3") == "mobile"
    assert device_type("my-toaster") == "unknown"
