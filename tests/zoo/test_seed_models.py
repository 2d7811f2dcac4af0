"""Seed models: architecture fidelity (params, MACs) against published tables, and the zoo API.

Every expected number below comes from a published table (named per row) or from arithmetic
written out in a comment, never from this package's own output.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from estimator import zoo
from estimator.errors import InputError


class Ref(NamedTuple):
    params: int
    #: Rounding step of the published parameter figure (0: the table gives the exact count).
    params_step: int
    macs: float
    #: Rounding step of the published MAC figure.
    macs_step: float
    resolution: int
    source: str


TV = "torchvision.models weights table (num_params exact; GFLOPS = GMACs, 2 decimals)"
# fmt: off
PUBLISHED: dict[str, Ref] = {
    "resnet18": Ref(11_689_512, 0, 1.81e9, 0.01e9, 224, TV),
    "resnet50": Ref(25_557_032, 0, 4.09e9, 0.01e9, 224, TV),
    "mobilenet_v2": Ref(3_504_872, 0, 300e6, 1e6, 224, f"{TV}; MobileNetV2 paper: 300M MAdds"),
    "mobilenet_v3_large": Ref(5_483_032, 0, 219e6, 1e6, 224,
                              f"{TV}; MobileNetV3 paper, Large 1.0: 219M MAdds"),
    "mobilenet_v3_small": Ref(2_542_856, 0, 56e6, 1e6, 224,
                              f"{TV}; MobileNetV3 paper, Small 1.0: 56M MAdds"),
    "efficientnet_b0": Ref(5_288_548, 0, 0.39e9, 0.01e9, 224, TV),
    "squeezenet1_1": Ref(1_235_496, 0, 0.35e9, 0.01e9, 224, TV),
    "densenet121": Ref(7_978_856, 0, 2.83e9, 0.01e9, 224, TV),
    "convnext_tiny": Ref(28_589_128, 0, 4.46e9, 0.01e9, 224, TV),
    # timm deit_tiny_patch16_224 has 5,717,416 parameters; DeiT paper / timm card: 1.3 GMACs.
    "deit_tiny": Ref(5_717_416, 0, 1.3e9, 0.1e9, 224, "timm deit_tiny_patch16_224; DeiT paper"),
    # LeViT paper results table: LeViT-128S 7.8M params, 305M FLOPs (the paper's FLOPs are MACs,
    # attention matmuls included; the published model carries the distillation head).
    "levit_128s": Ref(7_800_000, 100_000, 305e6, 1e6, 224, "LeViT paper (Graham et al. 2021)"),
    # torchvision: 27,161,264 params including the training-only AuxLogits branch; timm's
    # inception_v3 (no aux head) lists 23.8M. The aux branch is conv 768->128 1x1 + BN
    # (98,304 + 256) + conv 128->768 5x5 + BN (2,457,600 + 1,536) + fc 768->1000 (769,000)
    # = 3,326,696, so the inference model has 27,161,264 - 3,326,696 = 23,834,568.
    "inception_v3": Ref(23_834_568, 0, 5.71e9, 0.01e9, 299, f"{TV}; timm inception_v3 23.8M"),
    "mnasnet1_0": Ref(4_383_312, 0, 0.31e9, 0.01e9, 224, TV),
    "mobilevit_xxs": Ref(1_300_000, 100_000, 0.4e9, 0.1e9, 256,
                         "timm mobilevit_xxs.cvnets_in1k card: 1.3M params, 0.4 GMACs @256"),
}
# fmt: on

NAMES = sorted(PUBLISHED)
REL_TOL = 0.02


def _tolerance(value: float, step: float) -> float:
    """2%, widened to half the rounding step when the table rounds coarser than that."""
    return max(REL_TOL, 0.5 * step / value)


def _meta_model(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return zoo.build(name)


def test_names_are_the_seed_models() -> None:
    assert zoo.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_published_matches_reference_table(name: str) -> None:
    ref, pub = PUBLISHED[name], zoo.published(name)
    assert (pub.params, pub.macs) == (ref.params, ref.macs)
    assert pub.source
    assert pub["params"] == ref.params
    assert zoo.default_resolution(name) == ref.resolution


@pytest.mark.parametrize("name", NAMES)
def test_param_count_matches_published(name: str) -> None:
    ref = PUBLISHED[name]
    n = sum(p.numel() for p in _meta_model(name).parameters())
    if ref.params_step == 0:
        assert n == ref.params
    else:
        assert n == pytest.approx(ref.params, rel=_tolerance(ref.params, ref.params_step))


def _torch_macs(model: torch.nn.Module, resolution: int) -> float:
    """MACs by torch's own FLOP counter (conv, mm, bmm, addmm; 2 FLOPs per MAC)."""
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, resolution, resolution))
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("name", NAMES)
def test_torch_counted_macs_match_published(name: str) -> None:
    ref = PUBLISHED[name]
    macs = _torch_macs(_meta_model(name), ref.resolution)
    assert macs == pytest.approx(ref.macs, rel=_tolerance(ref.macs, ref.macs_step))


def test_deit_tiny_macs_by_hand() -> None:
    # 196 patches + 1 class token = 197 tokens, width 192, 3 heads of 64, MLP 768, 12 blocks.
    patch_embed = 196 * 192 * (3 * 16 * 16)  # 28,901,376
    per_block = (
        197 * 192 * 576  # qkv: 21,786,624
        + 2 * 3 * 197 * 197 * 64  # q@k^T and attn@v: 14,902,656
        + 197 * 192 * 192  # proj: 7,262,208
        + 2 * 197 * 192 * 768  # fc1 + fc2: 58,097,664
    )
    head = 192 * 1000
    expected = patch_embed + 12 * per_block + head  # 1,253,683,200
    assert _torch_macs(_meta_model("deit_tiny"), 224) == expected


@pytest.mark.parametrize("name", NAMES)
def test_fx_traced_meta_forward_gives_logits(name: str) -> None:
    # The torch frontend walks a torch.fx graph, so every model must trace symbolically.
    res = PUBLISHED[name].resolution
    with torch.device("meta"):
        traced = torch.fx.symbolic_trace(zoo.build(name))
        out = traced(torch.empty(2, 3, res, res))
    assert tuple(out.shape) == (2, 1000)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["mobilevit_xxs"])
def test_onnx_export_matches_torch(name: str, tmp_path: Path) -> None:
    """The patch unfold/fold of MobileViT exports to ONNX and runs the same in onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    model, x = zoo.get(name)
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (1, 1000)
    assert float(abs(got - want).max()) <= 1e-4 * max(1.0, float(abs(want).max()))


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "squeezenet1_1", "mnasnet1_0"])
def test_real_forward_gives_finite_logits(name: str) -> None:
    model, x = zoo.get(name)
    assert not model.training
    assert x.dtype == torch.float32 and tuple(x.shape) == (1, 3, 224, 224)
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape) == (1, 1000)
    assert torch.isfinite(out).all()


def test_get_honours_batch_and_resolution() -> None:
    model, x = zoo.get("squeezenet1_1", batch=3, resolution=160)
    assert tuple(x.shape) == (3, 3, 160, 160)
    with torch.no_grad():
        assert tuple(model(x).shape) == (3, 1000)


@pytest.mark.parametrize(("name", "res", "tokens"), [("deit_tiny", 384, 24 * 24 + 1)])
def test_resolution_resizes_position_table(name: str, res: int, tokens: int) -> None:
    with torch.device("meta"):
        model = zoo.build(name, res)
        out = model(torch.empty(1, 3, res, res))
    assert tuple(model.get_parameter("pos_embed").shape) == (1, tokens, 192)
    assert tuple(out.shape) == (1, 1000)


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(InputError, match="resnet18"):
        zoo.get("resnet-18")
    with pytest.raises(InputError, match="unknown zoo model"):
        zoo.published("alexnet")


@pytest.mark.parametrize(("name", "res"), [("mobilevit_xxs", 250), ("resnet18", 0)])
def test_bad_resolution_is_input_error(name: str, res: int) -> None:
    with pytest.raises(InputError, match=name):
        zoo.get(name, resolution=res)


def test_bad_batch_is_input_error() -> None:
    with pytest.raises(InputError, match="batch"):
        zoo.get("resnet18", batch=0)


def test_import_does_not_load_torch() -> None:
    code = "import sys, estimator.zoo; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _analysis() -> Any:
    pytest.importorskip("estimator.frontends.torch_fx", reason="torch.fx frontend not landed")
    analysis = pytest.importorskip("estimator.analysis")
    if not hasattr(analysis, "analyze_graph"):
        pytest.skip("estimator.analysis.analyze_graph not landed")
    return analysis


@functools.cache
def _seed_cost(name: str) -> Any:
    """Cost of the default-size graph, shared by the MAC and parameter tests (tracing is slow)."""
    return _analysis().analyze_graph(zoo.graph(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_published_macs(name: str) -> None:
    """The project's own cost model, on the traced IR graph, agrees with the published MACs."""
    ref = PUBLISHED[name]
    macs = _seed_cost(name).macs
    assert macs == pytest.approx(ref.macs, rel=_tolerance(ref.macs, ref.macs_step))


def test_graph_scales_with_batch() -> None:
    analysis = _analysis()
    one, two = zoo.graph("squeezenet1_1"), zoo.graph("squeezenet1_1", batch=2, resolution=160)
    assert one.name == "squeezenet1_1"
    assert [t.shape for t in two.inputs] == [(2, 3, 160, 160)]
    # Every conv MAC scales with batch * spatial area: 2 * (160/224)^2 of the batch-1 figure,
    # up to the floor() in the valid-padding stem and ceil-mode pools (checked loosely).
    ratio = analysis.analyze_graph(two).macs / analysis.analyze_graph(one).macs
    assert ratio == pytest.approx(2 * (160 / 224) ** 2, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_ir_param_count_matches_torch(name: str) -> None:
    n = sum(p.numel() for p in _meta_model(name).parameters())
    assert _seed_cost(name).params == n
