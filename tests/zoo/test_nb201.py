"""NAS-Bench-201: arch parsing, pruning, the torch module and the direct IR builder agree."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from estimator.errors import InputError
from estimator.ir import Node
from estimator.ops import cost_of
from estimator.zoo.nb201 import (
    cell_plan,
    nb201_all_archs,
    nb201_cost,
    nb201_graph,
    nb201_module,
    parse_arch,
    random_archs,
)

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
ALL_CONV3 = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_SKIP = (
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|"
    "+|skip_connect~0|skip_connect~1|skip_connect~2|"
)

# Parameter count by hand. A conv3x3 edge, summed over the 5 cells of each of the 3 stages, costs
# 5*((16*16*9+2*16) + (32*32*9+2*32) + (64*64*9+2*64)) = 5*(2336+9280+36992) = 243,040 params;
# a conv1x1 edge 5*((256+32) + (1024+64) + (4096+128)) = 28,000. The fixed part: stem 3*16*9+32
# = 464; reductions (16*32*9+64) + (32*32*9+64) + 16*32 = 14,464 and (32*64*9+128) + (64*64*9+128)
# + 32*64 = 57,600; head BN 128 + Linear 64*10+10 = 778: 73,306 in all.
FIXED_PARAMS = 73_306
CONV3_EDGE_PARAMS = 243_040
CONV1_EDGE_PARAMS = 28_000


def _learnable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parse_arch_order() -> None:
    a = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"
    assert parse_arch(a) == (
        "avg_pool_3x3",
        "nor_conv_1x1",
        "skip_connect",
        "nor_conv_1x1",
        "skip_connect",
        "none",
    )


@pytest.mark.parametrize(
    ("arch", "token"),
    [
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "conv~0"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "none~1"),
        ("|none~0|+|none~0|none1|+|none~0|none~1|none~2|", "none1"),
    ],
)
def test_parse_arch_names_bad_token(arch: str, token: str) -> None:
    with pytest.raises(InputError, match=token):
        parse_arch(arch)


@pytest.mark.parametrize(
    "arch", ["", "|none~0|+|none~0|none~1|", "|none~0|+|none~0|+|none~0|none~1|none~2|", "resnet"]
)
def test_parse_arch_rejects_malformed(arch: str) -> None:
    with pytest.raises(InputError):
        parse_arch(arch)


def test_all_archs_distinct_and_parseable() -> None:
    archs = nb201_all_archs()
    assert len(archs) == 5**6 == len(set(archs))
    assert all(len(parse_arch(a)) == 6 for a in archs[::97])
    assert random_archs(5, seed=3) == random_archs(5, seed=3)
    assert random_archs(5, seed=3) != random_archs(5, seed=4)


def test_disconnected_count() -> None:
    # Node 3 is unreachable iff e30 = none and (e31 = none or node 1 dead) and (e32 = none or
    # node 2 dead). With e10 != none (4 ways): e31 must be none; node 2 is dead only if e20 = e21
    # = none (1 of 25), then e32 is free: 4 * (24 + 5) = 116. With e10 = none: e31 free (5);
    # node 2 dead iff e20 = none (5 of 25 combos, e32 free) else e32 = none: 5 * (20 + 25) = 225.
    dead = sum(cell_plan(parse_arch(a)).dead_output for a in nb201_all_archs())
    assert dead == 116 + 225


def test_pruning_removes_dead_edges() -> None:
    # node 1 has no input, so the conv 1->3 is dead; node 2 does not reach node 3, so 0->2 is dead
    arch = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    plan = cell_plan(parse_arch(arch))
    assert plan.live == (3,)
    assert _learnable(nb201_module(arch)) == FIXED_PARAMS


@pytest.mark.parametrize(
    ("arch", "n3", "n1"),
    [(BEST, 5, 0), (ALL_CONV3, 6, 0), (ALL_NONE, 0, 0), (ALL_SKIP, 0, 0)],
)
def test_param_count_by_hand(arch: str, n3: int, n1: int) -> None:
    expected = FIXED_PARAMS + n3 * CONV3_EDGE_PARAMS + n1 * CONV1_EDGE_PARAMS
    assert _learnable(nb201_module(arch)) == expected
    assert nb201_cost(arch).params == expected


def test_published_param_range() -> None:
    # NAS-Bench-201 (Dong & Yang, ICLR 2020) CIFAR-10 networks span about 0.073 MB to 1.531 MB
    # of params (MB = 1e6 parameters), the all-none/skip/pool and the all-conv3x3 cells
    assert abs(_learnable(nb201_module(ALL_CONV3)) / 1e6 - 1.531) < 1e-3
    assert abs(_learnable(nb201_module(ALL_NONE)) / 1e6 - 0.073) < 1e-3


def test_macs_by_hand() -> None:
    # Every conv3x3 edge costs C*C*9*H*W = 2,359,296 MACs in each stage (16^2*1024 = 32^2*256 =
    # 64^2*64), so one edge position over all 15 cells costs 15 * 2,359,296 = 35,389,440.
    # Fixed: stem 16*3*9*1024 = 442,368; each reduction 1,179,648 + 2,359,296 +
    # 131,072 = 3,670,016; classifier 640. NAS-Bench-201 publishes 7.78 M to 220.11 M "FLOPs"
    # (multiply-adds) for CIFAR-10, matching 0 and 6 conv3x3 edges.
    fixed = 442_368 + 2 * 3_670_016 + 640
    assert nb201_cost(ALL_NONE).macs == fixed == 7_783_040
    assert nb201_cost(ALL_CONV3).macs == fixed + 6 * 35_389_440 == 220_119_680
    assert nb201_cost(BEST).macs == fixed + 5 * 35_389_440


@pytest.mark.parametrize("arch", [*random_archs(12, seed=7), BEST, ALL_NONE, ALL_SKIP])
def test_ir_params_match_module(arch: str) -> None:
    graph = nb201_graph(arch)
    graph.validate()
    consts = {t.name: t for n in graph.nodes for t in n.inputs if t.is_const}
    learnable = sum(
        t.numel for name, t in consts.items() if not name.endswith(("running_mean", "running_var"))
    )
    module = nb201_module(arch)
    assert learnable == _learnable(module)
    # every constant is a parameter or a buffer of the module under the same name
    state = dict(module.state_dict())
    for name, t in consts.items():
        assert tuple(state[name].shape) == t.shape, name


def test_module_runs_and_dead_cell_outputs_zero_features() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    assert nb201_module(BEST)(x).shape == (2, 10)
    # a disconnected network ignores its input: equal logits for different inputs
    dead = nb201_module(ALL_NONE)
    torch.testing.assert_close(dead(x)[0], dead(torch.randn(1, 3, 32, 32))[0])


def test_graph_batch_scales_activations_not_params() -> None:
    one, four = nb201_cost(BEST, batch=1), nb201_cost(BEST, batch=4)
    assert four.macs == 4 * one.macs
    assert four.params == one.params
    with pytest.raises(InputError):
        nb201_graph(BEST, batch=0)


@pytest.mark.parametrize("arch", [*random_archs(30, seed=11), ALL_NONE, BEST])
def test_cached_cost_equals_per_node_cost(arch: str) -> None:
    graph = nb201_graph(arch)
    costs = [cost_of(n) for n in graph.nodes]
    fast = nb201_cost(arch)
    assert fast.flops == sum(c.flops for c in costs)
    assert fast.macs == sum(c.macs for c in costs)
    assert fast.bytes_read == sum(c.bytes_read for c in costs)
    assert fast.bytes_written == sum(c.bytes_written for c in costs)
    assert all(c.modeled for c in costs)


def test_ir_matches_analyze_graph() -> None:
    from estimator.analysis import analyze_graph

    cost = analyze_graph(nb201_graph(BEST), strict=True)
    fast = nb201_cost(BEST)
    assert (cost.flops, cost.macs, cost.params) == (fast.flops, fast.macs, fast.params)


@pytest.mark.slow
def test_ir_matches_torch_fx_on_50_archs() -> None:
    fx = pytest.importorskip("estimator.frontends.torch_fx", reason="torch.fx frontend not built")
    from estimator.analysis import analyze_graph

    for arch in [*random_archs(48, seed=2024), BEST, ALL_NONE]:
        ir = analyze_graph(nb201_graph(arch))
        traced = analyze_graph(fx.from_torch(nb201_module(arch), (1, 3, 32, 32)))
        got = (traced.flops, traced.macs, traced.params, traced.bytes_read, traced.bytes_written)
        assert got == (ir.flops, ir.macs, ir.params, ir.bytes_read, ir.bytes_written), arch


def test_ir_source_names_match_torch_fx() -> None:
    fx = pytest.importorskip("estimator.frontends.torch_fx", reason="torch.fx frontend not built")
    arch = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    traced = fx.from_torch(nb201_module(arch), (1, 3, 32, 32))

    def named(nodes: list[Node]) -> set[tuple[str, str]]:
        # fx names function calls (the sums) add, add_1, ...: compare module-backed nodes only
        return {(n.op, n.source) for n in nodes if n.op not in ("Add", "Sub")}

    assert named(traced.nodes) == named(nb201_graph(arch).nodes)
    assert ("Conv", "cells.16.edges.3<-2.op.1") in named(traced.nodes)


def test_graph_builder_does_not_import_torch() -> None:
    code = (
        "import sys; from estimator.zoo.nb201 import nb201_graph, nb201_cost; "
        "nb201_graph('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'); "
        "nb201_cost('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_batch_is_an_input_error_even_after_batch_1_is_cached(bad: object) -> None:
    from estimator.errors import InputError
    from estimator.zoo.nb201_reference import nb201_reference_graph

    arch = random_archs(1, seed=0)[0]
    nb201_graph(arch, batch=1)  # fills the batch-1 caches that True and 1.0 hash into
    nb201_reference_graph(arch, batch=1)
    for build in (nb201_graph, nb201_reference_graph):
        with pytest.raises(InputError, match="positive integer"):
            build(arch, batch=bad)  # type: ignore[arg-type]
