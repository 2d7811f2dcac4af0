"""PyTorch frontend: ``nn.Module`` + example inputs -> IR :class:`~estimator.ir.Graph`.

Nothing is computed and no weight is allocated. ``torch.fx.symbolic_trace`` records the forward
(torch.nn layers with a mapper stay whole, see :mod:`torch_modules`), then every node runs once on
the **meta** device to learn its output shape: parameters are swapped for meta twins (a shallow
copy of each leaf layer whose tensors are replaced through ``deepcopy``'s memo), and factory calls
inside ``forward`` run under ``torch.device("meta")``. A module built under
``with torch.device("meta"):`` is used as is, so a 7B-parameter model converts in seconds.

When symbolic tracing fails (Python control flow on shapes) the frontend falls back to
``torch.export.export`` (non-strict), whose ATen graph carries fake-tensor shapes, and maps the
ATen ops with the same mappers. Data-dependent control flow defeats both and is an InputError.
"""

from __future__ import annotations

import copy
import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import fx, nn

from estimator.errors import InputError, UnboundDimError
from estimator.frontends.torch_build import (
    Builder,
    Call,
    has_tensor,
    leaves,
    tensor_infos,
)
from estimator.frontends.torch_functions import ALIASES, FACTORIES, FUNCTIONS
from estimator.frontends.torch_modules import MODULES, handler_for
from estimator.ir import Graph, OpType, TensorInfo

__all__ = ["from_torch"]


class _TraceFailed(Exception):
    """Tracing or meta execution failed: try the next tracer."""


def from_torch(
    module: nn.Module,
    example_inputs: Any,
    *,
    name: str | None = None,
) -> Graph:
    """Convert ``module`` called on ``example_inputs`` into the IR.

    ``example_inputs``: a tensor, a tuple/list of tensors (positional arguments), a mapping
    name -> tensor (keyword arguments), or shapes (a tuple of ints, or a tuple of such tuples)
    for float32 inputs. Real tensors are only read for their shape and dtype.
    """
    if not isinstance(module, nn.Module):
        raise InputError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    args, kwargs = _normalize_inputs(example_inputs)
    graph_name = name or type(module).__name__
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        try:
            graph = _from_fx(module, args, kwargs, graph_name)
        except _TraceFailed as fx_error:
            try:
                graph = _from_export(module, args, kwargs, graph_name)
                graph.metadata["fx_failure"] = str(fx_error).splitlines()[0][:300]
            except _TraceFailed as export_error:
                raise InputError(
                    f"cannot trace {type(module).__name__}: torch.fx: {_first_line(fx_error)};"
                    f" torch.export: {_first_line(export_error)}"
                ) from export_error
    finally:
        for m, training in modes.items():
            m.train(training)
    graph.validate()
    return graph


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


# -- inputs ------------------------------------------------------------------------------------
def _is_shape(v: Any) -> bool:
    return isinstance(v, torch.Size) or (
        isinstance(v, tuple | list)
        and len(v) > 0
        and all(isinstance(d, int | type(None)) and not isinstance(d, bool) for d in v)
    )


def _to_meta(v: Any, where: str) -> Any:
    if isinstance(v, torch.Tensor):
        return torch.empty_like(v, device="meta")
    if _is_shape(v):
        for i, d in enumerate(v):
            if d is None:
                raise UnboundDimError(f"example input {where}: dimension {i} is not bound")
            if d < 0:
                raise InputError(f"example input {where}: dimension {i} is negative ({d})")
        return torch.empty(tuple(v), dtype=torch.float32, device="meta")
    if isinstance(v, tuple | list):
        return type(v)(_to_meta(x, f"{where}[{i}]") for i, x in enumerate(v))
    if isinstance(v, Mapping):
        return {k: _to_meta(x, f"{where}[{k!r}]") for k, x in v.items()}
    return v


def _normalize_inputs(example: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(example, torch.Tensor) or _is_shape(example):
        return (_to_meta(example, "0"),), {}
    if isinstance(example, Mapping):
        return (), {str(k): _to_meta(v, str(k)) for k, v in example.items()}
    if isinstance(example, tuple | list):
        return tuple(_to_meta(v, str(i)) for i, v in enumerate(example)), {}
    raise InputError(
        "example_inputs: expected a tensor, a tuple/list, a dict or a shape tuple,"
        f" got {type(example).__name__}"
    )


def _state_names(module: nn.Module) -> dict[int, tuple[str, str]]:
    names: dict[int, tuple[str, str]] = {}
    for key, p in module.named_parameters():
        names.setdefault(id(p), (key, "parameter"))
    for key, b in module.named_buffers():
        names.setdefault(id(b), (key, "buffer"))
    return names


# -- fx path -----------------------------------------------------------------------------------
class _LeafTracer(fx.Tracer):
    """Keeps exactly the layers we have a mapper for as call_module leaves."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return handler_for(m) is not None


def _from_fx(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Graph:
    sig = inspect.signature(module.forward)
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError as e:
        raise InputError(f"example_inputs do not match {type(module).__name__}.forward: {e}") from e
    values: dict[str, Any] = {}
    for p in params:
        if p.name in bound.arguments:
            values[p.name] = bound.arguments[p.name]
        elif p.default is not inspect.Parameter.empty:
            values[p.name] = p.default
        else:
            raise InputError(f"example_inputs: missing input {p.name!r} of forward()")
    concrete = {k: v for k, v in values.items() if not has_tensor(v)}
    if handler_for(module) is not None:
        fx_graph = _single_call_graph(module, [p.name for p in params])
    else:
        try:
            fx_graph = _LeafTracer().trace(module, concrete_args=concrete or None)
        except Exception as e:  # symbolic tracing raises many types (TraceError, TypeError...)
            raise _TraceFailed(f"symbolic_trace: {type(e).__name__}: {e}") from e

    builder = Builder(state_names=_state_names(module))
    interp = _Interpreter(builder, module, export=False)
    placeholders = [n for n in fx_graph.nodes if n.op == "placeholder"]
    inputs: list[TensorInfo] = []
    for node, p in zip(placeholders, params, strict=False):
        meta = values[p.name]
        ir = _mirror_input(builder, meta, p.name)
        inputs.extend(tensor_infos(ir))
        interp.bind(node, meta, ir)
    outputs = interp.run(fx_graph)
    return _finish(builder, name, inputs, outputs, "torch.fx")


def _single_call_graph(module: nn.Module, arg_names: list[str]) -> fx.Graph:
    """The graph ``forward(*args) = module(*args)`` for a mapped layer traced on its own."""
    graph = fx.Graph()
    placeholders = [graph.placeholder(n) for n in arg_names]
    call = graph.call_module("", tuple(placeholders))
    call.name = type(module).__name__.lower()
    graph.output(call)
    return graph


def _mirror_input(builder: Builder, meta: Any, name: str) -> Any:
    if isinstance(meta, torch.Tensor):
        return builder.like(name, meta)
    if isinstance(meta, tuple | list):
        return type(meta)(_mirror_input(builder, v, f"{name}.{i}") for i, v in enumerate(meta))
    if isinstance(meta, dict):
        return {k: _mirror_input(builder, v, f"{name}.{k}") for k, v in meta.items()}
    return meta


def _meta_twin(m: nn.Module) -> nn.Module:
    """``m`` with every parameter and buffer replaced by a meta tensor; no data is copied."""
    tensors = [*m.parameters(), *m.buffers()]
    if all(t.device.type == "meta" for t in tensors):
        return m
    memo: dict[int, Any] = {}
    for p in m.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for b in m.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(m, memo)


def _key_of(node: fx.Node) -> tuple[str, str, str]:
    """(mapper key, source_op, native op name) of a call_function / call_method node."""
    target = node.target
    if node.op == "call_method":
        name = str(target)
        key = name[:-1] if name.endswith("_") and not name.startswith("__") else name
        return key, f"torch.Tensor.{name}", f"torch.Tensor.{name}"
    if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        packet = getattr(target, "overloadpacket", target).__name__
        key = packet[:-1] if packet.endswith("_") and not packet.startswith("_") else packet
        return key, str(target), f"aten.{packet}"
    fn_name = getattr(target, "__name__", str(target))
    mod = getattr(target, "__module__", None) or ""
    mod = "operator" if mod == "_operator" else mod
    key = fn_name[:-1] if fn_name.endswith("_") and not fn_name.startswith("_") else fn_name
    native = f"torch.{fn_name}" if mod.startswith("torch") else f"{mod}.{fn_name}"
    return key, f"{mod}.{fn_name}" if mod else fn_name, native


def _module_op_name(m: nn.Module) -> str:
    cls = type(m)
    if cls.__module__.startswith("torch.nn"):
        return f"torch.nn.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _meta_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        with torch.device("meta"), torch.no_grad():
            return fn(*args, **kwargs)
    except Exception as e:  # any failure of the op on meta tensors
        raise _TraceFailed(f"meta execution of {getattr(fn, '__name__', fn)}: {e}") from e


def _run_method(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    self_obj, rest = args[0], args[1:]
    device_move = name in ("to", "cuda", "cpu") or (name == "type" and (rest or kwargs))
    if isinstance(self_obj, torch.Tensor) and device_move:
        # Device moves are no-ops on the meta device; only a dtype change matters.
        dtype = kwargs.get("dtype")
        for a in rest:
            if isinstance(a, torch.dtype):
                dtype = a
            elif isinstance(a, torch.Tensor):
                dtype = a.dtype
        return self_obj if dtype is None else _meta_call(self_obj.to, dtype)
    return _meta_call(getattr(self_obj, name), *rest, **kwargs)


class _Interpreter:
    """Walks an fx graph, running each node on meta tensors and mapping it into the IR."""

    def __init__(self, builder: Builder, root: nn.Module, *, export: bool) -> None:
        self.b = builder
        self.root = root
        self.export = export
        self.meta: dict[fx.Node, Any] = {}
        self.ir: dict[fx.Node, Any] = {}
        self._twins: dict[int, nn.Module] = {}

    def bind(self, node: fx.Node, meta: Any, ir: Any) -> None:
        self.meta[node], self.ir[node] = meta, ir

    def run(self, graph: fx.Graph) -> list[TensorInfo]:
        for node in graph.nodes:
            if node in self.ir:
                continue
            if node.op == "output":
                return self._outputs(node)
            if node.op == "placeholder":
                raise _TraceFailed(f"unbound input {node.name!r}")
            if node.op == "get_attr":
                self._get_attr(node)
            else:
                self._call(node)
        return []

    def _get_attr(self, node: fx.Node) -> None:
        obj: Any = self.root
        for part in str(node.target).split("."):
            obj = getattr(obj, part)
        if isinstance(obj, torch.Tensor):
            self.bind(node, torch.empty_like(obj, device="meta"), self.b.param(obj, node.name))
        else:
            self.bind(node, obj, obj)

    def _call(self, node: fx.Node) -> None:
        a_ir = fx.node.map_arg(node.args, lambda n: self.ir[n])
        k_ir = dict(fx.node.map_arg(node.kwargs, lambda n: self.ir[n]))
        schema = getattr(node.target, "_schema", None)
        if schema is not None:  # ATen: name every operand as its schema does
            names = [a.name for a in schema.arguments]
            k_ir = {**dict(zip(names, a_ir, strict=False)), **k_ir}
        module: nn.Module | None = None
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            key, source_op = type(module).__name__, _module_op_name(module)
            native, source = source_op, str(node.target) or node.name
        else:
            key, source_op, native = _key_of(node)
            source = self._source(node)
        result = self._execute(node, module)
        self.meta[node] = result
        call = Call(self.b, node, key, tuple(a_ir), dict(k_ir), result, source, source_op,
                    native, module)  # fmt: skip
        self.ir[node] = self._map(call)

    def _source(self, node: fx.Node) -> str:
        """Module path for ATen ops inside a mapped torch.nn layer, else the fx node name."""
        stack = node.meta.get("nn_module_stack") if self.export else None
        if stack:
            path, cls = list(stack.values())[-1]
            leaf_types = {f"{t.__module__}.{t.__qualname__}" for t in MODULES}
            if path and (cls if isinstance(cls, str) else "") in leaf_types:
                return str(path)
        return node.name

    def _execute(self, node: fx.Node, module: nn.Module | None) -> Any:
        if self.export:
            return node.meta.get("val")
        args = fx.node.map_arg(node.args, lambda n: self.meta[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self.meta[n])
        if module is not None:
            twin = self._twins.get(id(module))
            if twin is None:
                twin = self._twins[id(module)] = _meta_twin(module)
            return _meta_call(twin, *args, **kwargs)
        if node.op == "call_method":
            return _run_method(str(node.target), tuple(args), dict(kwargs))
        assert callable(node.target)
        return _meta_call(node.target, *args, **kwargs)

    def _map(self, c: Call) -> Any:
        if c.module is not None:
            handler = handler_for(c.module)
            return handler(c, c.module) if handler else c.unknown()
        if not has_tensor(c.result):
            picks_output = c.node.target is operator.getitem and tensor_infos(c.args[0])
            if not picks_output:
                self.b.folded_nodes += 1  # shape arithmetic, asserts: evaluated at trace time
            return c.result
        infos = tensor_infos((c.args, c.kwargs))
        runtime = [t for t in infos if t.name not in self.b.folded_consts]
        if c.key in FACTORIES or (not runtime and c.key != "getitem"):
            return self._fold(c)
        if c.key in ALIASES:
            return c.x()
        function = FUNCTIONS.get(c.key)
        return function(c) if function is not None else c.unknown()

    def _fold(self, c: Call) -> Any:
        """A tensor computed from constants only: a stored constant, not a node."""
        self.b.folded_nodes += 1
        res = c.ir_result()
        out = []
        for t in leaves(res):
            if isinstance(t, TensorInfo):
                const = TensorInfo(t.name, t.shape, t.dtype, True)
                self.b.folded_consts.add(t.name)
                out.append(const)
        consts = iter(out)
        return _replace_tensors(res, lambda _t: next(consts))

    def _outputs(self, node: fx.Node) -> list[TensorInfo]:
        outs = []
        produced = {t.name for n in self.b.nodes for t in n.outputs}
        for t in tensor_infos(fx.node.map_arg(node.args, lambda n: self.ir[n])):
            if t.is_const and t.name not in produced:
                copy_t = self.b.tensor(f"{t.name}.output", t.shape, t.dtype)
                self.b.nodes.append(
                    _identity(self.b, t, copy_t, node.name)
                )  # a graph output must be produced by a node
                t = copy_t
            outs.append(t)
        return outs


def _identity(b: Builder, src: TensorInfo, dst: TensorInfo, source: str) -> Any:
    from estimator.ir import Node

    return Node(b.unique_node_name(f"{dst.name}/identity"), OpType.IDENTITY, (src,), (dst,),
                {}, source, "output")  # fmt: skip


def _replace_tensors(value: Any, fn: Callable[[TensorInfo], TensorInfo]) -> Any:
    if isinstance(value, TensorInfo):
        return fn(value)
    if isinstance(value, list):
        return [_replace_tensors(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple(_replace_tensors(v, fn) for v in value)
    return value


def _finish(
    b: Builder, name: str, inputs: list[TensorInfo], outputs: list[TensorInfo], tracer: str
) -> Graph:
    return Graph(
        name=name,
        nodes=b.nodes,
        inputs=inputs,
        outputs=outputs,
        metadata={
            "source_format": "torch",
            "tracer": tracer,
            "torch_version": torch.__version__,
            "folded_nodes": b.folded_nodes,
            "parameters": dict(b.parameters),
            "buffers": dict(b.buffers),
            "folded_constants": sorted(b.folded_consts),
        },
    )


# -- torch.export path ---------------------------------------------------------------------------
def _export_device(module: nn.Module) -> torch.device:
    for t in [*module.parameters(), *module.buffers()]:
        return t.device
    return torch.device("cpu")


def _on_device(v: Any, device: torch.device) -> Any:
    if isinstance(v, torch.Tensor):
        if v.device == device:
            return v
        return torch.zeros(v.shape, dtype=v.dtype, device=device)
    if isinstance(v, tuple | list):
        return type(v)(_on_device(x, device) for x in v)
    if isinstance(v, dict):
        return {k: _on_device(x, device) for k, x in v.items()}
    return v


def _from_export(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], name: str
) -> Graph:
    from torch.export.graph_signature import ExportGraphSignature, InputKind

    device = _export_device(module)
    ex_args, ex_kwargs = _on_device(args, device), _on_device(kwargs, device)
    try:
        ep = torch.export.export(module, tuple(ex_args), ex_kwargs, strict=False)
    except Exception as e:  # export raises many error types (data-dependent guards, ...)
        raise _TraceFailed(f"{type(e).__name__}: {e}") from e
    sig: ExportGraphSignature = ep.graph_signature
    builder = Builder(state_names=_state_names(module))
    by_fqn: dict[str, torch.Tensor] = dict(module.named_parameters(remove_duplicate=False))
    by_fqn.update(dict(module.named_buffers(remove_duplicate=False)))
    interp = _Interpreter(builder, module, export=True)
    specs = {s.arg.name: s for s in sig.input_specs if hasattr(s.arg, "name")}
    inputs: list[TensorInfo] = []
    for node in ep.graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        spec = specs.get(node.name)
        kind = spec.kind if spec is not None else InputKind.USER_INPUT
        if kind == InputKind.USER_INPUT:
            ir = _mirror_input(builder, val, node.name)
            inputs.extend(tensor_infos(ir))
        elif isinstance(val, torch.Tensor):
            fqn = str(spec.target) if spec is not None else node.name
            real = by_fqn.get(fqn)
            if real is not None:
                ir = builder.param(real, fqn)
            else:
                ir = builder.const(fqn, val, kind="buffer")
        else:
            ir = val
        interp.bind(node, val, ir)
    outputs = interp.run(ep.graph)
    return _finish(builder, name, inputs, outputs, "torch.export")
