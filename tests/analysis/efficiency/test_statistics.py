"""Every statistic on small hand-made tables: by hand, and against scipy where scipy has it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from estimator.analysis.efficiency import (
    Row,
    baseline_invariance,
    flips,
    frm,
    from_rows,
    pareto_set,
    pareto_transfer,
    rank_transfer,
    signal_to_noise,
    stability,
    top_k_overlap,
)
from estimator.analysis.efficiency.ranks import flips_bruteforce

#: 4 models x 3 devices; latency ms. Device "b" swaps m2/m3, device "c" reverses the order.
LAT = {
    "a": [1.0, 2.0, 3.0, 4.0],
    "b": [1.0, 3.0, 2.0, 4.0],
    "c": [4.0, 3.0, 2.0, 1.0],
}
FLOPS = [10.0, 20.0, 40.0, 80.0]
MEM = {"a": [5.0, 5.0, 10.0, 10.0], "b": [1.0, 2.0, 4.0, 8.0], "c": [2.0, 2.0, 2.0, 2.0]}


def table(with_memory: bool = True, accuracy: list[float] | None = None):  # type: ignore[no-untyped-def]
    rows = []
    for d, lat in LAT.items():
        for i, ms in enumerate(lat):
            rows.append(
                Row(
                    f"m{i + 1}",
                    d,
                    ms,
                    memory_mb=MEM[d][i] if with_memory else None,
                    flops=FLOPS[i],
                    accuracy=accuracy[i] if accuracy else None,
                )
            )
    return from_rows(rows, source="hand")


def test_flips_counted_by_hand_on_four_models() -> None:
    a, b, c = (np.array(LAT[d]) for d in "abc")
    # a vs b: only the pair (m2, m3) is ordered the other way.
    assert flips(a, b) == 1
    # a vs c: every one of the 4*3/2 = 6 pairs flips.
    assert flips(a, c) == 6
    # b vs c: pairs of b's order (m1<m3<m2<m4) reversed by c except (m2, m3): c has m3 < m2.
    assert flips(b, c) == 5
    # ties are no flips: (m1, m2) tied in x.
    assert flips(np.array([1.0, 1.0, 2.0, 3.0]), np.array([2.0, 1.0, 3.0, 4.0])) == 0
    r = rank_transfer(table(), k=2, types=("gpu", "gpu", "mobile"))
    assert r.flips[0, 1] == 1 and r.flips[0, 2] == 6 and r.flips[1, 2] == 5


@pytest.mark.parametrize("seed", range(5))
def test_fast_flips_equal_the_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 8, 60).astype(float)  # many ties, as whole-ms phone columns have
    b = a + rng.integers(-3, 4, 60)
    assert flips(a, b) == flips_bruteforce(a, b)


def test_rank_transfer_statistics_match_scipy_and_tiers() -> None:
    r = rank_transfer(table(), k=2, types=("gpu", "gpu", "mobile"))
    a, b = np.array(LAT["a"]), np.array(LAT["b"])
    assert r.spearman[0, 1] == pytest.approx(stats.spearmanr(a, b).statistic)
    assert r.spearman[0, 1] == pytest.approx(0.8)  # 1 - 6*2/(4*15)
    assert r.kendall[0, 2] == pytest.approx(-1.0)
    # top-2: a = {m1, m2}, b = {m1, m3} -> 1 of 2; a vs c = {m4, m3} -> 0.
    assert r.top_k[0, 1] == 0.5 and r.top_k[0, 2] == 0.0
    tiers = {t.name: t for t in r.tiers}
    assert set(tiers) == {"gpu->gpu", "gpu->mobile", "mobile->gpu"}
    assert tiers["gpu->gpu"].pairs == 2 and tiers["gpu->gpu"].mean_spearman == pytest.approx(0.8)
    assert tiers["gpu->mobile"].mean_spearman == pytest.approx((-1.0 - 0.8) / 2)
    assert tiers["gpu->mobile"].mean_flip_fraction == pytest.approx((6 + 5) / 2 / 6)
    assert r.best_source(0) == 1


def test_top_k_overlap() -> None:
    assert top_k_overlap(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1]), 2) == 0.0
    assert top_k_overlap(np.array([1.0, 2, 3, 4]), np.array([2.0, 1, 3, 4]), 2) == 1.0


def test_frm_by_hand_and_baseline_invariance() -> None:
    t = table()
    f = frm(t, "m1")
    assert f.components == ("flops", "latency_ms", "memory_mb") and f.missing == ()
    # m2 on device a: (20/10 * 2/1 * 5/5) ** (1/3) = 4 ** (1/3)
    assert f.frm[1, 0] == pytest.approx(4 ** (1 / 3))
    # m4 on device c: (80/10 * 1/4 * 2/2) ** (1/3) = 2 ** (1/3)
    assert f.frm[3, 2] == pytest.approx(2 ** (1 / 3))
    g = frm(t, "m3")
    # the ratio of ratios: FRM against m3 = FRM against m1 / FRM of m3 against m1, per device
    np.testing.assert_allclose(g.frm, f.frm / f.frm[2][None, :])
    np.testing.assert_array_equal(g.ranks, f.ranks)
    inv = baseline_invariance(t)
    assert inv.baselines == ("m1", "m2", "m3", "m4")
    assert inv.invariant and inv.max_rank_change == 0.0


def test_frm_names_what_it_leaves_out() -> None:
    f = frm(table(with_memory=False), "m1")
    assert f.components == ("flops", "latency_ms") and f.missing == ("memory_mb",)
    assert f.frm[1, 0] == pytest.approx(np.sqrt(2 * 2))


def test_stability_matches_scipy() -> None:
    t = table()
    s = stability(t, "m1")
    lat = t.latency_ms
    pairs = list(itertools.combinations(range(3), 2))
    rho = [stats.spearmanr(lat[:, i], lat[:, j]).statistic for i, j in pairs]
    tau = [stats.kendalltau(lat[:, i], lat[:, j]).statistic for i, j in pairs]
    np.testing.assert_allclose(s.latency.spearman, rho)
    np.testing.assert_allclose(s.latency.kendall, tau)
    np.testing.assert_allclose(s.latency.cv, np.std(lat, axis=1) / np.mean(lat, axis=1))
    f = frm(t, "m1").frm
    frho = [stats.spearmanr(f[:, i], f[:, j]).statistic for i, j in pairs]
    u = stats.mannwhitneyu(frho, rho, alternative="greater")
    assert s.rho_test.u == u.statistic and s.rho_test.p == pytest.approx(u.pvalue)
    assert s.pairs == (("a", "b"), ("a", "c"), ("b", "c"))


def test_signal_to_noise_by_hand() -> None:
    # 2 models x 2 devices. Device geometric means: sqrt(1*4) = 2 and sqrt(2*2) = 2.
    t = from_rows([Row("p", "x", 1.0), Row("q", "x", 4.0), Row("p", "y", 2.0), Row("q", "y", 2.0)])
    s = signal_to_noise(t)
    # normalised: p = [0.5, 1], q = [2, 1]; per-model geomeans sqrt(.5) and sqrt(2): range 2;
    # intra ranges 2 and 2, median 2 -> SNR 1.
    assert s.inter_range == pytest.approx(2.0)
    assert s.intra_range == pytest.approx(2.0)
    assert s.snr == pytest.approx(1.0)
    # logs: p = [-ln2, 0], q = [ln2, 0]; means -ln2/2, ln2/2 -> sd between ln2/2; within ln2/2
    assert s.sd_between == pytest.approx(np.log(2) / 2)
    assert s.sd_within == pytest.approx(np.log(2) / 2)


def test_pareto_sets_and_transfer_by_hand() -> None:
    lat = np.array([1.0, 2.0, 3.0, 4.0])
    acc = np.array([60.0, 70.0, 65.0, 80.0])
    assert pareto_set(lat, acc) == {0, 1, 3}  # m3 is beaten by m2 (faster and more accurate)
    t = table(accuracy=[60.0, 70.0, 65.0, 80.0])
    p = pareto_transfer(t, types=("gpu", "gpu", "mobile"))
    # device b: lat [1,3,2,4] -> m1, m3 (2 ms, 65), m2 is slower than m3 but more accurate, m4
    assert p.sets[1] == {0, 1, 2, 3}
    # device c: lat [4,3,2,1] -> m4 alone (fastest and most accurate)
    assert p.sets[2] == {3}
    assert p.precision[0, 1] == 1.0 and p.recall[0, 1] == pytest.approx(3 / 4)
    assert p.precision[0, 2] == pytest.approx(1 / 3) and p.recall[0, 2] == 1.0
    assert p.f1[0, 2] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    tiers = p.tiers()
    assert tiers["gpu->mobile"][0] == 2
    assert tiers["gpu->mobile"][1] == pytest.approx((1 / 3 + 1 / 4) / 2)  # a->c, b->c precision
