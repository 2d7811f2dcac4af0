"""Sampled sweep cases: valid ONNX that onnxruntime runs and the frontend partitions into the
family's category, deterministic names and bytes, time limits and budgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from estimator.analysis import analyze_graph
from estimator.calibration import sampling as S
from estimator.frontends.onnx_frontend import load_onnx
from estimator.measure.ort_runtime import random_input
from estimator.partition import partition

SMALL = {"max_bytes": 16 << 20, "max_s": 2e-3}


@pytest.mark.parametrize("family", list(S.FAMILIES))
def test_sampled_cases_run_and_partition_into_their_category(family: str, tmp_path: Path) -> None:
    fam = S.FAMILIES[family]
    cases = S.sample_cases(family, 5, np.random.default_rng(7), **SMALL)  # type: ignore[arg-type]
    assert len({c.name for c in cases}) == 5
    for case in cases:
        assert case.category == fam.category and case.family == family
        model = case.build()
        onnx.checker.check_model(model, full_check=True)
        path = tmp_path / "m.onnx"
        onnx.save(model, str(path))
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feeds = {i.name: random_input(tuple(i.shape), i.type, rng) for i in sess.get_inputs()}
        sess.run(None, feeds)
        graph = load_onnx(str(path))
        cost = analyze_graph(graph)
        plan = partition(graph, "onnxruntime-cpu", costs={n.node.name: n.cost for n in cost.nodes})
        assert not cost.unmodeled, case.name
        cats = {k.category for k in plan.kernels}
        assert cats and cats <= fam.kernel_categories, (case.name, cats)
        if family != "attention":
            assert len(plan.kernels) == 1, (case.name, [k.ops for k in plan.kernels])
        assert all(k.modeled for k in plan.kernels)


def test_names_encode_the_shape_and_rebuild_the_same_bytes() -> None:
    a = S.sample_cases("conv_grouped", 20, np.random.default_rng(3))
    b = S.sample_cases("conv_grouped", 20, np.random.default_rng(3))
    assert [c.name for c in a] == [c.name for c in b]
    case = a[0]
    assert case.name.startswith("sweep/conv_grouped/grouped/ci")
    again = S.case_from_name(case.name)
    assert again is not None and again.params == case.params
    assert again.build().SerializeToString() == case.build().SerializeToString()
    p = case.shape
    assert int(p["g"]) > 1 and 4 <= int(p["ci"]) // int(p["g"]) <= 64
    assert S.case_from_name("sweep/conv_grouped/c64x64-r56-k3-g4") is None
    assert S.case_from_name("sweep/conv_grouped/grouped/bogus") is None


def test_every_category_has_samplers_and_limits_hold() -> None:
    lim = S.Limits(min_s=5e-6, max_s=1e-3, max_bytes=8 << 20)
    for cat in ("conv_dense", "conv_pointwise", "conv_depthwise", "conv_grouped", "gemm"):
        for c in S.sample_cases(
            cat, 30, np.random.default_rng(1), min_s=5e-6, max_s=1e-3, max_bytes=8 << 20
        ):
            t = lim.predicted_s(c)
            assert 5e-6 <= t <= 1e-3
            assert S.FAMILIES[c.family].cost(c.shape)[1] <= 8 << 20
    with pytest.raises(KeyError):
        S.sample_cases("no_such_family", 1, np.random.default_rng(0))
    with pytest.raises(RuntimeError):
        S.sample_cases("fc", 3, np.random.default_rng(0), max_bytes=1 << 10, max_tries=500)


def test_fc_layers_are_weight_heavy_and_capped() -> None:
    cases = S.sample_cases("fc", 40, np.random.default_rng(2), max_bytes=64 << 20)
    w = [int(c.shape["k"]) * int(c.shape["n"]) * 4 for c in cases]
    assert min(w) >= 1 << 20 and max(w) <= 64 << 20
    assert all(c.shape["m"] == 1 for c in cases)


def test_sample_all_spends_the_budget_deterministically() -> None:
    cases = S.sample_all(300.0, 0)
    again = S.sample_all(300.0, 0)
    assert [c.name for c in cases] == [c.name for c in again]
    assert len({c.name for c in cases}) == len(cases)
    lim = S.Limits()
    spent = sum(S.measure_cost_s(lim.predicted_s(c)) for c in cases)
    assert 0.9 * 300 <= spent <= 300
    fams = {c.family for c in cases}
    assert fams == set(S.FAMILIES)
    # A family's cases do not depend on the other families' weights.
    only = S.sample_all(300.0 * S.WEIGHTS["grouped"] / sum(S.WEIGHTS.values()), 0,
                        weights={"grouped": 1.0})  # fmt: skip
    assert [c.name for c in only] == [c.name for c in cases if c.family == "grouped"]
    assert [c.name for c in S.sample_all(300.0, 1)] != [c.name for c in cases]
    assert S.sample_all(0.0, 0) == []


def test_perturb_stays_in_the_family_and_near() -> None:
    rng = np.random.default_rng(0)
    (case,) = S.sample_cases("depthwise", 1, np.random.default_rng(5))
    for _ in range(20):
        new = S.perturb(case, rng)
        assert new is not None and new.family == "depthwise" and new.name != case.name
        assert new.shape["g"] == new.shape["ci"]
        ratio = int(new.shape["ci"]) / int(case.shape["ci"])
        assert 0.2 < ratio < 5
