"""Estimate transfer and FLOPs disagreements on small NAS-Bench-201 tables of registry devices.

Latencies are made from the estimator's own per-kernel times (so a fit can recover them) with
hand-placed departures, never from the shared data set.
"""

from __future__ import annotations

import pytest
from scipy import stats

from estimator.analysis.efficiency import (
    Row,
    disagreements,
    estimate_transfer,
    from_rows,
    with_nb201_costs,
)
from estimator.analysis.efficiency.disagreements import Disagreement, explain_case, kernel_groups
from estimator.transfer import estimate_nb201, prior_for
from estimator.zoo.nb201_ir import random_archs

ARCHS = random_archs(24, seed=11)


def _table(devices: dict[str, float]):  # type: ignore[no-untyped-def]
    """Latency on each column = the prior's estimate on its registry device times a scale; a
    "toaster" column the registry does not know."""
    rows = []
    for col, scale in devices.items():
        hw = {"1080ti_1": "gtx-1080-ti", "silver_4114": "xeon-silver-4114"}[col]
        est = estimate_nb201(hw, ARCHS, profile=prior_for(hw, "pytorch-eager")[1])
        rows += [
            Row(a, col, float(scale * ms)) for a, ms in zip(ARCHS, est.latency_ms, strict=True)
        ]
    rows += [Row(a, "toaster", 1.0 + i) for i, a in enumerate(ARCHS)]
    return from_rows(rows)


def test_estimate_transfer_scores_prior_and_fit_against_rank_transfer() -> None:
    t = _table({"1080ti_1": 2.0, "silver_4114": 0.5})
    res = estimate_transfer(t, shots=(0, 5), draws=2, seed=0, pool=range(12), query=range(12, 24))
    assert (
        res.skipped.keys() == {"toaster"} and "names no registry device" in res.skipped["toaster"]
    )
    by = {x.device: x for x in res.targets}
    gpu = by["1080ti_1"]
    # the prior ranks exactly the networks the table was made from
    assert gpu.estimator_spearman[0] == pytest.approx(1.0)
    # a uniform 2x the prior does not model: MAPE 50% at k = 0, the fit takes the scale out
    assert gpu.estimator_mape[0] == pytest.approx(0.5, abs=1e-9)
    assert gpu.estimator_mape[5] < 0.05
    # rank transfer from the other columns, on the same 12 query networks
    lat = t.latency_ms
    rho = stats.spearmanr(lat[12:, 1], lat[12:, 0]).statistic
    assert gpu.source_spearman["silver_4114"] == pytest.approx(rho)
    assert res.n_pool == 12 and res.n_query == 12


def test_disagreements_counted_by_hand() -> None:
    # FLOPs order m1<m2<m3<m4; device x agrees, device y puts m4 first (shift 3 for m4,
    # 1 for each of the others), device z swaps m1 and m3 (shift 2 each).
    rows = []
    lat = {"x": [1, 2, 3, 4], "y": [2, 3, 4, 1], "z": [3, 2, 1, 4]}
    for d, v in lat.items():
        rows += [Row(f"m{i + 1}", d, float(ms), flops=10.0 * (i + 1)) for i, ms in enumerate(v)]
    r = disagreements(from_rows(rows), min_shift=2)
    assert r.per_device == {"x": 0, "y": 1, "z": 2}
    assert r.per_model == {"m1": 1, "m2": 0, "m3": 1, "m4": 1}
    shifts = {(c.model, c.device): c.shift for c in r.cases}
    assert shifts == {("m4", "y"): -3.0, ("m1", "z"): 2.0, ("m3", "z"): -2.0}
    assert r.slower == 1


def test_kernel_groups_by_hand() -> None:
    groups = kernel_groups(
        [
            ("overhead", "elementwise", 3.0, 1.0),
            ("overhead", "elementwise", 1.0, 1.0),
            ("compute", "conv_dense", 4.0, 98.0),
        ]
    )
    by = {(g.bound, g.category): g for g in groups}
    ew = by[("overhead", "elementwise")]
    assert ew.kernels == 2 and ew.time_share == 0.5 and ew.flops_share == pytest.approx(0.02)
    assert ew.label == "overhead-bound small elementwise kernels"


def test_explanations_come_from_the_estimate() -> None:
    # a network of skips and pools is slower than its (tiny) FLOPs say: overheads explain it
    arch = "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    e = explain_case(Disagreement(arch, "1080ti_1", 1.0, 5.0))
    assert e.direction == "slower" and not e.unavailable
    top = e.groups[0]
    assert top.time_share > top.flops_share
    unknown = explain_case(Disagreement(arch, "toaster", 1.0, 5.0))
    assert "names no registry device" in unknown.unavailable


def test_nb201_table_gets_flops_for_disagreements() -> None:
    t = with_nb201_costs(_table({"1080ti_1": 1.0}).select_devices(["1080ti_1"]))
    r = disagreements(t, min_shift=3, explain=1)
    assert len(r.cases) == r.per_device["1080ti_1"]
    assert len(r.explanations) == (1 if r.cases else 0)
