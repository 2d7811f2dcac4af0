"""The reference-semantics NAS-Bench-201 builder and its block-table fast path."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.analysis import analyze_graph
from estimator.errors import InputError
from estimator.estimate import estimate_many
from estimator.partition import partition
from estimator.transfer import (
    estimate_nb201,
    nb201_graph_for,
    nb201_kernel_set,
    nb201_reference_graph,
)
from estimator.zoo.nb201 import arch_string, random_archs

ALL_SKIP = arch_string(["skip_connect"] * 6)
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# node 1 is computed by a 3x3 conv but feeds nothing live: the reference code still runs it
DEAD_CONV = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def test_node_counts_by_hand() -> None:
    # stem: Conv + BN = 2; 15 normal cells x 6 sum Adds (sum() starts at 0: one Add per edge)
    # = 90; 2 reduction blocks x (ReLU, Conv, BN) x 2 + AvgPool + 1x1 Conv + Add = 9 each = 18;
    # head: BN, ReLU, GlobalAveragePool, Flatten, Gemm = 5.  2 + 90 + 18 + 5 = 115.
    g = nb201_reference_graph(ALL_SKIP)
    g.validate()
    assert len(g.nodes) == 115
    # each none edge adds one Mul (x * 0): 115 + 15 cells x 6 edges = 205
    g0 = nb201_reference_graph(ALL_NONE)
    g0.validate()
    assert len(g0.nodes) == 205
    assert sum(n.op == "Mul" for n in g0.nodes) == 90


def test_dead_conv_is_costed_in_reference_not_in_pruned() -> None:
    ref = analyze_graph(nb201_graph_for(DEAD_CONV, 1, "reference"))
    pruned = analyze_graph(nb201_graph_for(DEAD_CONV, 1, "pruned"))
    # one 3x3 conv per normal cell, Cin = Cout = C at HxW: MACs = C*C*9*H*W
    # stage 1: 16*16*9*32*32 = 2,359,296; stage 2: 32*32*9*16*16 = 2,359,296;
    # stage 3: 64*64*9*8*8 = 2,359,296; 5 cells each -> 15 * 2,359,296 = 35,389,440 MACs
    conv_macs = sum(nc.cost.macs for nc in ref.nodes if nc.node.op == "Conv") - sum(
        nc.cost.macs for nc in pruned.nodes if nc.node.op == "Conv"
    )
    assert conv_macs == 35_389_440
    # weights of the dead convs: 5 * (16*16*9 + 32*32*9 + 64*64*9) = 5 * 48,384 = 241,920
    # plus their BatchNorms' affine weight and bias (running stats are buffers, not
    # parameters): 5 * 2 * (16 + 32 + 64) = 1,120
    assert ref.params - pruned.params == 241_920 + 1_120


def test_kernel_set_rows_equal_whole_graph_partition() -> None:
    archs = [*random_archs(6, seed=11), ALL_NONE, DEAD_CONV]
    ks = nb201_kernel_set(archs, batch=4)
    for i, a in enumerate(archs):
        plan = partition(nb201_reference_graph(a, batch=4), "pytorch-eager")
        row = ks.counts[i]
        assert row.sum() == len(plan)
        assert float((row @ ks.kernels.flops)[0]) == pytest.approx(
            plan.compute_work.sum(), rel=1e-12
        )
        assert float((row @ ks.kernels.bytes)[0]) == pytest.approx(plan.bytes.sum(), rel=1e-12)


def test_all_archs_and_unique_kernels() -> None:
    ks = nb201_kernel_set(None)
    assert len(ks) == 15_625
    assert len(set(ks.names)) == 15_625
    assert len(ks.kernels) < 100  # positions repeat per stage, so few distinct kernels


def test_batch_estimate_matches_estimate_many() -> None:
    archs = random_archs(5, seed=3)
    fast = estimate_nb201("gtx-1080-ti", archs, batch=32)
    plans = [partition(nb201_reference_graph(a, batch=32), "pytorch-eager") for a in archs]
    slow = estimate_many(plans, "gtx-1080-ti", runtime="pytorch-eager")
    np.testing.assert_allclose(fast.latency_ms, slow.latency_ms, rtol=1e-9)
    np.testing.assert_allclose(fast.std_ms, slow.std_ms, rtol=1e-9)


def test_pruned_semantics_uses_zoo_graph() -> None:
    ks = nb201_kernel_set([DEAD_CONV], runtime="onnxruntime-cpu", semantics="pruned")
    plan = partition(nb201_graph_for(DEAD_CONV, 1, "pruned"), "onnxruntime-cpu")
    assert ks.counts.sum() == len(plan)


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="semantics"):
        nb201_graph_for(ALL_SKIP, 1, "official")
    with pytest.raises(InputError, match="batch"):
        nb201_reference_graph(ALL_SKIP, batch=0)
    with pytest.raises(InputError, match="bad token"):
        nb201_kernel_set(["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
