"""Shared state of the torch frontend: the IR being built and one traced call.

The interpreter in :mod:`estimator.frontends.torch_fx` walks an fx graph and, for every call,
hands the op mappers (:mod:`torch_modules`, :mod:`torch_functions`) a :class:`Call`: the call's
operands already translated to IR values (``TensorInfo`` for tensors, plain Python values for
everything else) and the call's result computed on the meta device. The meta result is the
authority for every output shape, so a mapper never re-derives shapes torch already knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx

from estimator.ir import DType, Node, TensorInfo

_DTYPES: dict[torch.dtype, DType] = {
    torch.float64: DType.FLOAT64,
    torch.float32: DType.FLOAT32,
    torch.float16: DType.FLOAT16,
    torch.bfloat16: DType.BFLOAT16,
    torch.int64: DType.INT64,
    torch.int32: DType.INT32,
    torch.int16: DType.INT16,
    torch.int8: DType.INT8,
    torch.uint8: DType.UINT8,
    torch.bool: DType.BOOL,
    torch.complex64: DType.COMPLEX64,
}


def to_dtype(dt: torch.dtype) -> DType:
    """Map a torch dtype onto the IR vocabulary; exotic types fall back to their byte width."""
    if dt in _DTYPES:
        return _DTYPES[dt]
    size = torch.empty((), dtype=dt, device="meta").element_size()
    return {1: DType.UINT8, 2: DType.FLOAT16, 4: DType.FLOAT32}.get(size, DType.FLOAT64)


def static_shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def leaves(value: Any) -> Iterator[Any]:
    """Yield the leaves of nested tuples/lists/dicts (the pytree shapes fx values take)."""
    if isinstance(value, list | tuple):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    else:
        yield value


def tensor_infos(value: Any) -> list[TensorInfo]:
    return [v for v in leaves(value) if isinstance(v, TensorInfo)]


def has_tensor(value: Any) -> bool:
    return any(isinstance(v, torch.Tensor) for v in leaves(value))


@dataclass
class Builder:
    """Accumulates IR nodes with unique node and tensor names."""

    nodes: list[Node] = field(default_factory=list)
    node_names: set[str] = field(default_factory=set)
    tensor_names: set[str] = field(default_factory=set)
    #: Tensors computed from constants only (``torch.arange`` in ``forward``): folded, no node.
    folded_consts: set[str] = field(default_factory=set)
    folded_nodes: int = 0
    #: Const tensors that hold learnable parameters / buffers: name -> numel.
    parameters: dict[str, int] = field(default_factory=dict)
    buffers: dict[str, int] = field(default_factory=dict)
    #: id(tensor) -> (state_dict key, "parameter" | "buffer") of the traced module; tied tensors
    #: share the first key, as ``named_parameters()`` reports them.
    state_names: dict[int, tuple[str, str]] = field(default_factory=dict)

    def unique_tensor_name(self, hint: str) -> str:
        name, i = hint, 1
        while name in self.tensor_names:
            name = f"{hint}_{i}"
            i += 1
        self.tensor_names.add(name)
        return name

    def unique_node_name(self, hint: str) -> str:
        name, i = hint, 1
        while name in self.node_names:
            name = f"{hint}_{i}"
            i += 1
        self.node_names.add(name)
        return name

    def tensor(
        self,
        hint: str,
        shape: Sequence[int],
        dtype: DType = DType.FLOAT32,
        *,
        is_const: bool = False,
    ) -> TensorInfo:
        return TensorInfo(self.unique_tensor_name(hint), tuple(shape), dtype, is_const)

    def like(self, hint: str, t: torch.Tensor, *, is_const: bool = False) -> TensorInfo:
        return self.tensor(hint, static_shape(t), to_dtype(t.dtype), is_const=is_const)

    def const(self, name: str, t: torch.Tensor, *, kind: str = "parameter") -> TensorInfo:
        """A stored tensor (parameter or buffer) named by its state_dict key; shared when tied."""
        info = TensorInfo(name, static_shape(t), to_dtype(t.dtype), True)
        self.tensor_names.add(name)
        (self.parameters if kind == "parameter" else self.buffers)[name] = info.numel
        return info

    def param(self, t: torch.Tensor, fallback: str) -> TensorInfo:
        """The const IR tensor of a module parameter/buffer, named by its state_dict key."""
        name, kind = self.state_names.get(id(t), (fallback, "buffer"))
        return self.const(name, t, kind=kind)

    def param_slice(self, t: torch.Tensor, index: int, parts: int, fallback: str) -> TensorInfo:
        """One of ``parts`` equal row blocks of a packed parameter (MHA ``in_proj_weight``)."""
        name, kind = self.state_names.get(id(t), (fallback, "buffer"))
        rows = int(t.shape[0]) // parts
        info = TensorInfo(f"{name}[{index}]", (rows, *static_shape(t)[1:]), to_dtype(t.dtype), True)
        self.tensor_names.add(info.name)
        (self.parameters if kind == "parameter" else self.buffers)[info.name] = info.numel
        return info

    def param_join(
        self, tensors: Sequence[torch.Tensor], fallback: str, shape: Sequence[int]
    ) -> TensorInfo:
        """Several parameters stacked into one ONNX operand (LSTM W of both directions)."""
        keys = [self.state_names.get(id(t), (fallback, "buffer")) for t in tensors]
        name = "+".join(k for k, _ in keys)
        info = TensorInfo(name, tuple(shape), to_dtype(tensors[0].dtype), True)
        if info.numel != sum(int(t.numel()) for t in tensors):
            raise ValueError(f"{name}: joined shape {shape} does not hold its parts")
        self.tensor_names.add(name)
        kind = keys[0][1]
        (self.parameters if kind == "parameter" else self.buffers)[name] = info.numel
        return info

    def join_consts(self, parts: Sequence[TensorInfo], shape: Sequence[int]) -> TensorInfo:
        """Stored tensors already in the IR stacked into one operand (ATen LSTM params)."""
        name = "+".join(p.name for p in parts)
        info = TensorInfo(name, tuple(shape), parts[0].dtype, True)
        if info.numel != sum(p.numel for p in parts):
            raise ValueError(f"{name}: joined shape {shape} does not hold its parts")
        self.tensor_names.add(name)
        target = self.parameters if parts[0].name in self.parameters else self.buffers
        for p in parts:
            self.parameters.pop(p.name, None)
            self.buffers.pop(p.name, None)
        target[name] = info.numel
        return info

    def implicit_const(self, hint: str, shape: Sequence[int], dtype: DType) -> TensorInfo:
        """A constant operand torch leaves implicit (BatchNorm without affine: scale = 1)."""
        info = self.tensor(hint, shape, dtype, is_const=True)
        self.buffers[info.name] = info.numel
        return info


@dataclass
class Call:
    """One fx call seen by a mapper: IR operands, meta result, and where it came from."""

    builder: Builder
    node: fx.Node
    #: Normalized target name: ``"conv2d"``, ``"add"``, ``"view"``... (aten overload packet name,
    #: function ``__name__`` or method name with a trailing in-place ``_`` removed).
    key: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    source: str
    source_op: str
    #: The op name kept when no mapper knows the call (``"aten.foo"``, ``"torch.foo"``).
    native_op: str
    module: torch.nn.Module | None = None
    _n_emitted: int = 0

    # -- operands -------------------------------------------------------------------------
    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """Operand by keyword (aten schemas and Python signatures agree on names) or position."""
        if name in self.kwargs:
            return self.kwargs[name]
        if name == "input" and "self" in self.kwargs:
            return self.kwargs["self"]
        if index < len(self.args):
            return self.args[index]
        return default

    def tensor_arg(self, index: int, name: str) -> TensorInfo | None:
        v = self.arg(index, name)
        return v if isinstance(v, TensorInfo) else None

    def x(self) -> TensorInfo:
        """The first tensor operand (``self`` / ``input``)."""
        v = self.arg(0, "input")
        if isinstance(v, TensorInfo):
            return v
        infos = tensor_infos((self.args, self.kwargs))
        if not infos:
            raise ValueError(f"{self.source}: no tensor operand")
        return infos[0]

    # -- results ----------------------------------------------------------------------------
    def result_tensor(self, index: int | None = None) -> torch.Tensor:
        r = self.result if index is None else list(leaves(self.result))[index]
        if not isinstance(r, torch.Tensor):
            r = next(v for v in leaves(self.result) if isinstance(v, torch.Tensor))
        return r

    def out(self, index: int | None = None) -> TensorInfo:
        """A fresh IR tensor for the (index-th leaf of the) meta result, named after the fx node."""
        hint = self.node.name if index is None else f"{self.node.name}.{index}"
        return self.builder.like(hint, self.result_tensor(index))

    def ir_result(self) -> Any:
        """The result with every tensor leaf replaced by a fresh IR tensor."""
        return self._mirror(self.result, self.node.name)

    def _mirror(self, value: Any, hint: str) -> Any:
        if isinstance(value, torch.Tensor):
            return self.builder.like(hint, value)
        if isinstance(value, list | tuple):
            items = [self._mirror(v, f"{hint}.{i}") for i, v in enumerate(value)]
            return type(value)(items) if isinstance(value, list) else tuple(items)
        return value

    def scratch(self, suffix: str, shape: Sequence[int], dtype: DType) -> TensorInfo:
        """An intermediate tensor of a multi-node expansion (MultiheadAttention, LSTM)."""
        return self.builder.tensor(f"{self.node.name}.{suffix}", shape, dtype)

    # -- nodes ------------------------------------------------------------------------------
    def emit(
        self,
        op: str,
        inputs: Iterable[TensorInfo],
        outputs: Iterable[TensorInfo],
        attrs: Mapping[str, Any] | None = None,
        *,
        suffix: str | None = None,
    ) -> Node:
        base = self.node.name if suffix is None else f"{self.node.name}/{suffix}"
        node = Node(
            name=self.builder.unique_node_name(base),
            op=str(op),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            attrs=dict(attrs or {}),
            source=self.source,
            source_op=self.source_op,
        )
        self.builder.nodes.append(node)
        self._n_emitted += 1
        return node

    def single(
        self, op: str, inputs: Iterable[TensorInfo], attrs: Mapping[str, Any] | None = None
    ) -> Any:
        """Emit one node producing every tensor of the result; return the mirrored result."""
        res = self.ir_result()
        self.emit(op, inputs, tensor_infos(res), attrs)
        return res

    def unknown(self) -> Any:
        """Keep an op no mapper knows, under its native name, with all its tensors."""
        res = self.ir_result()
        ins = tensor_infos((self.args, self.kwargs))
        self.emit(self.native_op, ins, tensor_infos(res), {})
        return res
