"""load_model: every kind of model a user holds reaches the same IR."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from estimator.errors import InputError, ModelLoadError
from estimator.ir import Graph
from estimator.loading import load_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny_convnet.onnx"
ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
)


def test_graph_passes_through() -> None:
    g = load_model(EXAMPLE)
    assert load_model(g) is g


def test_path_and_proto_give_the_same_graph() -> None:
    a = load_model(EXAMPLE)
    b = load_model(onnx.load(EXAMPLE))
    assert [n.op for n in a.nodes] == [n.op for n in b.nodes]
    assert isinstance(a, Graph) and len(a) > 5


def test_torch_module_needs_example_inputs() -> None:
    lin = torch.nn.Linear(4, 3)
    g = load_model(lin, example_inputs=torch.zeros(2, 4))
    assert [n.op for n in g.nodes] == ["Gemm"]
    with pytest.raises(InputError, match="example_inputs"):
        load_model(lin)


def test_zoo_name_and_nb201_arch() -> None:
    assert any(n.op == "Conv" for n in load_model("resnet18").nodes)
    g = load_model(ARCH, batch=2)
    assert g.inputs[0].shape == (2, 3, 32, 32)


def test_unknowns_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(tmp_path / "x.onnx")
    with pytest.raises(InputError, match="resnet50"):
        load_model("resnet5")
    with pytest.raises(InputError, match="cannot read a model of type"):
        load_model(3.14)
