"""One entry point that turns whatever the user holds into the IR.

The CLI, the Python API and the calibration tools all call :func:`load_model`, so a model given as
a path, an ``onnx.ModelProto``, a ``torch.nn.Module``, a zoo name or an already-built ``Graph`` is
handled the same way everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from estimator.errors import InputError, ModelLoadError
from estimator.ir.graph import Graph
from estimator.zoo.nb201_reference import DEFAULT_SEMANTICS

ModelLike = Graph | str | os.PathLike[str] | Any


def load_model(
    model: ModelLike,
    *,
    example_inputs: Any = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    batch: int | None = None,
    name: str | None = None,
    semantics: str = DEFAULT_SEMANTICS,
) -> Graph:
    """Return the IR of ``model``.

    ``model`` may be a ``Graph`` (returned as is), a path to an ``.onnx`` file, an
    ``onnx.ModelProto``, a ``torch.nn.Module`` (needs ``example_inputs``), or the name of a model
    of the built-in zoo (``resnet50``) or a NAS-Bench-201 arch string (``|nor_conv_3x3~0|+...``),
    read under ``semantics`` (``reference``, the default, or ``pruned``: see
    :mod:`estimator.zoo.nb201_reference`).
    """
    if isinstance(model, Graph):
        return model
    if isinstance(model, (str, os.PathLike)):
        return _load_path_or_name(
            model, input_shapes=input_shapes, batch=batch, name=name, semantics=semantics
        )
    type_name = f"{type(model).__module__}.{type(model).__qualname__}"
    if type_name.startswith("onnx.") and hasattr(model, "graph"):
        from estimator.frontends.onnx_frontend import load_onnx

        return load_onnx(model, input_shapes=input_shapes, batch=batch, name=name)
    if _is_torch_module(model):
        from estimator.frontends.torch_fx import from_torch

        if example_inputs is None:
            raise InputError("a torch.nn.Module needs example_inputs (tensors or shapes)")
        return from_torch(model, example_inputs, name=name)
    raise InputError(
        f"cannot read a model of type {type_name}: give a path to an .onnx file, an "
        "onnx.ModelProto, a torch.nn.Module with example_inputs, a zoo name, or a Graph"
    )


def _is_torch_module(obj: object) -> bool:
    return any(
        c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module"
        for c in type(obj).__mro__
    )


def _load_path_or_name(
    model: str | os.PathLike[str],
    *,
    input_shapes: Mapping[str, Sequence[int]] | None,
    batch: int | None,
    name: str | None,
    semantics: str,
) -> Graph:
    path = Path(model)
    text = os.fspath(model)
    looks_like_file = path.suffix.lower() == ".onnx" or os.sep in text or _exists(text)
    if looks_like_file:
        from estimator.frontends.onnx_frontend import load_onnx

        return load_onnx(path, input_shapes=input_shapes, batch=batch, name=name)
    if text.startswith("|") and "~" in text:
        from estimator.zoo.nb201_reference import nb201_graph_for

        _no_input_shapes(input_shapes, "a NAS-Bench-201 arch string (input 3x32x32)")
        return nb201_graph_for(text, batch or 1, semantics)
    from estimator import zoo

    if text not in zoo.names() and (path.suffix or "/" in text):
        raise ModelLoadError(f"{text}: no such file")
    if text in zoo.names():
        _no_input_shapes(input_shapes, f"zoo model {text!r} (its input size is fixed)")
    return zoo.graph(text, batch=batch or 1)


def _exists(text: str) -> bool:
    """Whether ``text`` names something on disk; a name no file system accepts (a component over
    255 bytes, a NUL byte) names nothing, so it is read as a zoo name or an arch string."""
    return os.path.lexists(text)  # False for those: lstat's OSError/ValueError is caught there


def _no_input_shapes(input_shapes: Mapping[str, Sequence[int]] | None, what: str) -> None:
    """Refuse ``input_shapes`` where they cannot apply, rather than ignore them."""
    if input_shapes:
        names = ", ".join(sorted(input_shapes))
        raise InputError(f"--input-shape ({names}) does not apply to {what}; use --batch")
