"""Bad ONNX input gives one-line InputError/ModelLoadError naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from estimator.errors import InputError, ModelLoadError, UnboundDimError
from estimator.frontends.onnx_frontend import load_onnx


def _valid_model(opset: int = 17, batch: int | str = 1) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((256, 256), np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 256])],
        [w],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _one_line_error(exc_type: type[Exception], path: Path | str, **kw: object) -> str:
    with pytest.raises(exc_type) as info:
        load_onnx(path, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    return msg


def test_missing_file(tmp_path: Path) -> None:
    msg = _one_line_error(ModelLoadError, tmp_path / "nope.onnx")
    assert msg.endswith("no such file")


def test_directory(tmp_path: Path) -> None:
    msg = _one_line_error(ModelLoadError, tmp_path)
    assert "directory" in msg


def test_text_file(tmp_path: Path) -> None:
    p = tmp_path / "x.onnx"
    p.write_text("this is not a model, just some text\nsecond line\n")
    msg = _one_line_error(ModelLoadError, p)
    assert "not an ONNX model" in msg


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    assert "not an ONNX model" in _one_line_error(ModelLoadError, p)


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.9])
def test_truncated_file(tmp_path: Path, fraction: float) -> None:
    data = _valid_model().SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: int(len(data) * fraction)])
    msg = _one_line_error(ModelLoadError, p)
    assert "ONNX model" in msg


def test_structurally_broken_graph(tmp_path: Path) -> None:
    m = _valid_model()
    m.graph.node[1].input[0] = "ghost"
    p = tmp_path / "broken.onnx"
    p.write_bytes(m.SerializeToString())
    assert "'ghost'" in _one_line_error(ModelLoadError, p)


def test_opset_9_rejected(tmp_path: Path) -> None:
    p = tmp_path / "old.onnx"
    onnx.save(_valid_model(opset=9), p)
    msg = _one_line_error(ModelLoadError, p)
    assert msg == f"{p}: unsupported opset 9 (supported 11-21)"


def test_opset_22_rejected() -> None:
    with pytest.raises(ModelLoadError, match=r"unsupported opset 22 \(supported 11-21\)"):
        load_onnx(_valid_model(opset=22))


def test_unbound_dim_names_input_and_file(tmp_path: Path) -> None:
    p = tmp_path / "dyn.onnx"
    onnx.save(_valid_model(batch="N"), p)
    msg = _one_line_error(UnboundDimError, p)
    assert "input 'x' dim 0 ('N')" in msg and "--input-shape x=1x256" in msg


def test_conflicting_static_dim(tmp_path: Path) -> None:
    p = tmp_path / "static.onnx"
    onnx.save(_valid_model(), p)
    msg = _one_line_error(InputError, p, input_shapes={"x": [1, 128]})
    assert "dim 1 is 256" in msg


def test_wrong_rank_and_unknown_input(tmp_path: Path) -> None:
    p = tmp_path / "dyn.onnx"
    onnx.save(_valid_model(batch="N"), p)
    assert "rank 2" in _one_line_error(InputError, p, input_shapes={"x": [1, 2, 256]})
    assert "'z'" in _one_line_error(InputError, p, input_shapes={"z": [1, 256]})
    assert "positive" in _one_line_error(InputError, p, input_shapes={"x": [0, 256]})
    assert "batch" in _one_line_error(InputError, p, batch=-2)


def test_valid_model_loads_from_path(tmp_path: Path) -> None:
    # Control for the cases above: the same model, intact, loads.
    p = tmp_path / "ok.onnx"
    onnx.save(_valid_model(), p)
    g = load_onnx(p)
    assert [n.op for n in g.nodes] == ["MatMul", "Relu"]
    assert g.outputs[0].shape == (1, 256)


def test_reshape_with_baked_in_sizes_is_rejected() -> None:
    # A trace that froze the target shape [2, 4]: binding N=3 gives 3*4 = 12 elements != 8.
    node = helper.make_node("Reshape", ["x", "s"], ["y"], name="frozen")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([2, 4], np.int64), "s")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert load_onnx(m, batch=2).outputs[0].shape == (2, 4)
    with pytest.raises(ModelLoadError, match=r"'frozen' \(Reshape\) cannot reshape 3x4 to 2x4"):
        load_onnx(m, batch=3)


def test_data_dependent_shape_is_reported() -> None:
    nodes = [
        helper.make_node("NonZero", ["x"], ["nz"], name="nz"),
        helper.make_node("Transpose", ["nz"], ["y"], name="tr"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelLoadError, match="depends on the data") as info:
        load_onnx(m)
    assert "\n" not in str(info.value)


def test_incompatible_broadcast_is_a_model_error() -> None:
    node = helper.make_node("Add", ["x", "z"], ["y"], name="add")
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 5]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelLoadError, match="'add' \\(Add\\): shape inference failed"):
        load_onnx(m, batch=3)
