"""ONNX and torch.fx must tell the same story about the same model.

Each seed model is traced with torch.fx and exported with torch.onnx (opset 17); the two IRs
go through the same cost model. Constant folding is off in the export so BatchNorm stays a node,
as in the module: with it on, the exporter folds BN into the preceding Conv and the two files
describe different computations (MobileNetV2's BN is 2.2% of its FLOPs).
"""

from __future__ import annotations

import io
import warnings

import pytest
import torch

from estimator import zoo
from estimator.analysis import analyze_graph
from estimator.frontends.onnx_frontend import load_onnx
from estimator.frontends.torch_fx import from_torch

TOLERANCE = 0.005

# cheap models run on every `make test`; the heavy ones are marked slow but still run there too
FAST = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "deit_tiny"]
SLOW = [n for n in zoo.names() if n not in FAST]


def _export(module: torch.nn.Module, example: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buf, opset_version=17, dynamo=False, do_constant_folding=False
        )
    return buf.getvalue()


def _compare(name: str) -> None:
    torch.manual_seed(0)
    module, example = zoo.get(name, batch=1)
    fx = analyze_graph(from_torch(module, example, name=name))
    import onnx

    proto = onnx.load_from_string(_export(module, example))
    ox = analyze_graph(load_onnx(proto, name=name))
    assert ox.unmodeled == {} and fx.unmodeled == {}
    for field in ("macs", "flops", "params"):
        a, b = getattr(fx, field), getattr(ox, field)
        assert abs(a - b) <= TOLERANCE * max(a, b), f"{name} {field}: fx {a} vs onnx {b}"


@pytest.mark.parametrize("name", FAST)
def test_frontends_agree(name: str) -> None:
    _compare(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_frontends_agree_heavy(name: str) -> None:
    _compare(name)


def test_every_seed_model_is_covered() -> None:
    assert sorted(FAST + SLOW) == sorted(zoo.names())
    assert len(zoo.names()) >= 13
