"""ONNX model -> IR graph with static shapes, folded shape subgraphs and normalized attributes.

Weights are never needed to estimate costs, only their shapes and types, so the file is parsed
without external data and initializer payloads are only decoded when a small constant feeds a
shape computation. One forward pass over the nodes binds shapes, folds every node whose operands
are all constants (Shape of a static tensor counts as constant) and emits the rest as IR nodes.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from estimator.errors import InputError, ModelLoadError
from estimator.frontends import onnx_memo
from estimator.frontends.onnx_attrs import NodeContext, normalize_attrs
from estimator.frontends.onnx_dims import bind_inputs, resolve_declared
from estimator.frontends.onnx_fold import (
    CONTROL_FLOW,
    KEEP_ON_CONSTANTS,
    NONDETERMINISTIC,
    InvalidOperand,
    evaluate,
)
from estimator.frontends.onnx_shapes import (
    ShapeInferenceFailed,
    infer_node,
    opset_versions,
    same_shape_unary,
)
from estimator.frontends.onnx_types import tensor_type, to_dtype
from estimator.gcpause import gc_paused
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo
from estimator.safe_read import MAX_MODEL_BYTES, read_regular

MIN_OPSET = 11
MAX_OPSET = 21

#: Largest constant (elements) decoded or computed at load time. Shape operands are tiny; bigger
#: constants (weights, attention masks) keep only their shape, which is all the cost model needs.
_MAX_FOLD_ELEMENTS = 1 << 16

#: Largest tensor (bytes) a node may read or write: 1 PiB, beyond any one device's memory. A
#: graph that needs more (a Range to 2^62, a ConstantOfShape of 2^80 elements) cannot run
#: anywhere, and costing it as given would print an absurd estimate with exit 0.
MAX_TENSOR_BYTES = 1 << 50

Shape = tuple[int, ...]

#: Ops whose output can be much larger than their inputs: sized by inference before folding.
_MAY_GROW = frozenset(
    {
        "ConstantOfShape",
        "Expand",
        "Tile",
        "Range",
        "Resize",
        "Upsample",
        "Pad",
        "OneHot",
        "EyeLike",
        "MatMul",
        "Gemm",
        "Einsum",
        "Conv",
        "ConvTranspose",
        "Col2Im",
    }
)

#: Ops whose output size depends on input values, not only on input shapes.
_DATA_DEPENDENT = frozenset({"NonZero", "Unique", "Compress", "NonMaxSuppression", "StringSplit"})


#: Ops that hand a stored tensor on unchanged in content (see ``_Builder.derived``).
_PASS_THROUGH = frozenset(
    {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Cast"}
)


@dataclass(slots=True)
class _Value:
    """What the frontend knows about one ONNX tensor while walking the graph."""

    shape: Shape
    elem_type: int
    is_const: bool
    value: np.ndarray | None = None
    proto: onnx.TensorProto | None = None
    info: TensorInfo | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def array(self) -> np.ndarray | None:
        """The constant's value if known or cheaply decodable (small, stored in the file)."""
        if (
            self.value is None
            and self.proto is not None
            and self.numel <= _MAX_FOLD_ELEMENTS
            and self.proto.data_location != onnx.TensorProto.EXTERNAL
            and _stored_size(self.proto, self.numel)[0] is not None
        ):
            # a weight-stripped initializer (dims, no data) has no value to fold
            try:
                self.value = np.asarray(numpy_helper.to_array(self.proto))
            except Exception as exc:  # onnx raises assorted errors on malformed payloads
                raise ModelLoadError(
                    f"tensor {self.proto.name!r}: its stored data cannot be decoded ({exc})"
                ) from exc
        return self.value

    def data_proto(self) -> onnx.TensorProto | None:
        """The constant as a TensorProto for shape inference (small constants only)."""
        if not self.is_const or self.numel > _MAX_FOLD_ELEMENTS:
            return None
        if self.proto is not None and self.proto.data_location != onnx.TensorProto.EXTERNAL:
            return self.proto
        arr = self.array()
        if arr is not None and self.proto is None:
            self.proto = numpy_helper.from_array(arr)
        return self.proto if arr is not None else None

    def ir(self, name: str) -> TensorInfo:
        if self.info is None:
            self.info = TensorInfo(name, self.shape, to_dtype(self.elem_type), self.is_const)
        return self.info


def load_onnx(
    model: str | os.PathLike[str] | onnx.ModelProto,
    *,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    batch: int | None = None,
    name: str | None = None,
) -> Graph:
    """The IR of an ONNX model (a path or an in-memory ``ModelProto``).

    Dynamic input dims are bound by ``input_shapes`` (input name -> full shape) or ``batch``
    (first dim of every input). Raises ``ModelLoadError`` for unreadable or unsupported models
    and ``UnboundDimError`` when dynamic dims remain unbound.
    """
    if isinstance(model, onnx.ModelProto):
        proto = model
        label = f"onnx model {name or model.graph.name or ''!r}"
        default_name = model.graph.name or "model"
        path: str | None = None
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        label = path
        proto = _read(path)
        default_name = Path(path).stem
    else:
        raise InputError(
            f"cannot read an ONNX model from a {type(model).__name__}: give a path or a ModelProto"
        )
    _check_strings(proto, label)
    opset = _default_opset(proto, label)
    if len(proto.functions):
        proto = _inline(proto, label)
    _check_structure(proto.graph, label)
    builder = _Builder(proto, opset, label)
    with gc_paused():  # several objects per node, no garbage: the collector would only rescan
        graph = builder.build(input_shapes, batch, name or default_name)
    graph.metadata.update(
        {
            "source": "onnx",
            "path": path,
            "opset": opset,
            "ir_version": int(proto.ir_version),
            "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        }
    )
    return graph


def _read(path: str) -> onnx.ModelProto:
    # A FIFO, /dev/zero or a folder is refused before open() could block or fill memory.
    data = read_regular(path, what="file", limit=MAX_MODEL_BYTES, error=ModelLoadError)
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: not an ONNX model (protobuf parse failed)") from exc
    if not proto.HasField("graph") or proto.ir_version <= 0:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph in the file)")
    return proto


def _default_opset(proto: onnx.ModelProto, label: str) -> int:
    versions = [int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ModelLoadError(
            f"{label}: no default-domain opset (supported {MIN_OPSET}-{MAX_OPSET})"
        )
    opset = versions[0]
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ModelLoadError(
            f"{label}: unsupported opset {opset} (supported {MIN_OPSET}-{MAX_OPSET})"
        )
    return opset


def _inline(proto: onnx.ModelProto, label: str) -> onnx.ModelProto:
    from onnx import inliner

    try:
        return inliner.inline_local_functions(proto)
    except Exception as exc:  # onnx raises plain RuntimeError/ValueError here
        raise ModelLoadError(f"{label}: cannot inline model-local functions ({exc})") from exc


def _check_strings(proto: onnx.ModelProto, label: str) -> None:
    """Refuse names that are not UTF-8 (ONNX requires it): protobuf hands such a string back as
    ``bytes``, which breaks every dict, table and JSON report downstream."""
    for op in proto.opset_import:
        _utf8(op.domain, "an opset domain", label)
    for f in proto.functions:
        _utf8(f.name, "a function name", label)
        _check_graph_strings(f.node, (), label)
    g = proto.graph
    _check_graph_strings(g.node, (*g.input, *g.output, *g.value_info, *g.initializer), label)


def _check_graph_strings(nodes: Sequence[onnx.NodeProto], named: Sequence[Any], label: str) -> None:
    for item in named:
        _utf8(item.name, "a tensor name", label)
    for i, n in enumerate(nodes):
        # the node's description is only written out for a name that is not UTF-8
        for text in (n.name, n.op_type, n.domain, *n.input, *n.output):
            if isinstance(text, bytes):
                _utf8(text, f"a name in {_node_where(i, n)}", label)
        for a in n.attribute:
            if isinstance(a.name, bytes):
                _utf8(a.name, f"an attribute name in {_node_where(i, n)}", label)
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                _check_graph_strings(
                    sub.node, (*sub.input, *sub.output, *sub.value_info, *sub.initializer), label
                )


def _node_where(i: int, n: onnx.NodeProto) -> str:
    return f"node #{i} ({n.op_type if isinstance(n.op_type, str) else 'op ?'})"


def _utf8(text: str | bytes, what: str, label: str) -> None:
    if isinstance(text, bytes):
        shown = text.decode("utf-8", errors="replace")
        raise ModelLoadError(f"{label}: {what} is not valid UTF-8 ({shown!r})")


def _check_structure(graph: onnx.GraphProto, label: str) -> None:
    """Reject graphs a truncated or hand-broken file would give, before any real work."""
    if len(graph.node) == 0:
        raise ModelLoadError(f"{label}: not a valid ONNX model (graph has no nodes)")
    defined = {t.name for t in graph.initializer}
    defined.update(t.values.name for t in graph.sparse_initializer)
    defined.update(vi.name for vi in graph.input)
    for n in graph.node:
        if not n.op_type:
            raise ModelLoadError(f"{label}: not a valid ONNX model (node without op_type)")
        defined.update(o for o in n.output if o)
    for n in graph.node:
        for i in n.input:
            if i and i not in defined:
                raise ModelLoadError(
                    f"{label}: not a valid ONNX model (node {n.name or n.op_type!r} reads "
                    f"undefined tensor {i!r})"
                )
    for o in graph.output:
        if o.name not in defined:
            raise ModelLoadError(
                f"{label}: not a valid ONNX model (graph output {o.name!r} is never produced)"
            )


def _topological(nodes: Sequence[onnx.NodeProto], ready: set[str], label: str) -> list[int]:
    """Node indices in a valid execution order (ONNX requires one, some exporters break it).

    A graph already in order (the usual case) keeps its order. Otherwise Kahn's algorithm: each
    node counts the distinct tensors it still waits for, a producer that runs releases its
    consumers, so the whole sort is linear in nodes plus edges (a 20k-node graph listed backwards
    sorts in milliseconds, where rescanning the pending list took minutes).
    """
    avail = set(ready)
    for n in nodes:
        if not all(not x or x in avail for x in n.input):
            break
        avail.update(n.output)
    else:
        return list(range(len(nodes)))
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for out in n.output:
            if out and out not in ready:
                producer.setdefault(out, i)
    waiting: dict[str, list[int]] = {}
    missing = [0] * len(nodes)
    queue: deque[int] = deque()
    for i, n in enumerate(nodes):
        needs = {x for x in n.input if x and x not in ready}
        for x in needs:
            waiting.setdefault(x, []).append(i)
        missing[i] = len(needs)
        if not needs:
            queue.append(i)
    order: list[int] = []
    while queue:
        i = queue.popleft()
        order.append(i)
        for out in nodes[i].output:
            if not out or producer.get(out) != i:
                continue
            for j in waiting.pop(out, ()):
                missing[j] -= 1
                if missing[j] == 0:
                    queue.append(j)
    if len(order) < len(nodes):
        placed = set(order)
        n = nodes[next(i for i in range(len(nodes)) if i not in placed)]
        raise ModelLoadError(f"{label}: not a valid ONNX model (cycle at node {n.name!r})")
    return order


class _Builder:
    """One forward pass over the ONNX graph producing the IR."""

    def __init__(self, proto: onnx.ModelProto, opset: int, label: str) -> None:
        self.proto = proto
        self.graph = proto.graph
        self.opset = opset
        self.opsets_key = tuple((o.domain, int(o.version)) for o in proto.opset_import)
        self._key_node: onnx.NodeProto | None = None
        self._key: onnx_memo.Key | None = None
        #: The last node :func:`same_shape_unary` answered for (its attributes skip the memo).
        self._fast_node: onnx.NodeProto | None = None
        self.label = label
        self.values: dict[str, _Value] = {}
        self.declared = {vi.name: vi.type for vi in self.graph.value_info}
        self.declared.update({vi.name: vi.type for vi in self.graph.output})
        self.graph_outputs = {o.name for o in self.graph.output}
        self.consumed = _all_reads(self.graph) | self.graph_outputs
        self.opsets = opset_versions(proto.opset_import)
        self.symbols: dict[str, int] = {}
        self.nodes: list[Node] = []
        self.node_names: set[str] = set()
        self.folded = 0
        self.constants = 0
        #: Constants computed at load time from other constants (a gathered bias table, a mask):
        #: stored nowhere in the file, so never learnable parameters. Pass-through ops keep an
        #: initializer a parameter (a weight behind Identity or Reshape).
        self.derived: set[str] = set()

    def build(
        self, input_shapes: Mapping[str, Sequence[int]] | None, batch: int | None, name: str
    ) -> Graph:
        g = self.graph
        for t in g.initializer:
            self.values[t.name] = _initializer(t, self.label)
        for st in g.sparse_initializer:
            dims = _dims_of(st.values.name, st.dims, self.label)
            self.values[st.values.name] = _Value(dims, st.values.data_type, True)
        real_inputs = [vi for vi in g.input if vi.name not in self.values]
        shapes, self.symbols = bind_inputs(real_inputs, input_shapes, batch, self.label)
        inputs = []
        for vi in real_inputs:
            v = _Value(shapes[vi.name], vi.type.tensor_type.elem_type, False)
            self.values[vi.name] = v
            inputs.append(v.ir(vi.name))
        order = _topological(list(g.node), set(self.values), self.label)
        for idx in order:
            self._visit(idx, g.node[idx])
        outputs = [self._graph_output(o.name) for o in g.output]
        graph = Graph(name, self.nodes, inputs, outputs)
        graph.metadata["folded_nodes"] = self.folded
        graph.metadata["constant_nodes"] = self.constants
        graph.metadata["folded_constants"] = sorted(self.derived)
        graph.metadata["input_shapes"] = {k: list(v) for k, v in shapes.items()}
        graph.metadata["notes"] = _static_batch_notes(real_inputs, batch)
        try:
            graph.validate()
        except ValueError as exc:
            raise ModelLoadError(f"{self.label}: not a valid ONNX model ({exc})") from exc
        return graph

    # -- per node ---------------------------------------------------------------------------

    def _visit(self, idx: int, node: onnx.NodeProto) -> None:
        default_domain = node.domain in ("", "ai.onnx")
        if default_domain and node.op_type == "Constant":
            self._constant(node)
            return
        if default_domain and node.op_type == "If" and self._inline_if(idx, node):
            return
        ins = [self._lookup(node, i) if i else None for i in node.input]
        present = [v for v in ins if v is not None]
        feeds_output = any(o in self.graph_outputs for o in node.output)
        foldable = (
            default_domain
            and not feeds_output
            and node.op_type not in NONDETERMINISTIC
            and node.op_type not in CONTROL_FLOW
            and node.op_type not in KEEP_ON_CONSTANTS
            and bool(present)
            and (node.op_type in ("Shape", "Size") or all(v.is_const for v in present))
        )
        if foldable:
            self._fold(node, ins)
            self.folded += 1
            return
        results = self._infer(node, ins)
        self._emit(idx, node, ins, results)

    def _memo_key(self, node: onnx.NodeProto, ins: list[_Value | None]) -> onnx_memo.Key | None:
        """The node's key in :mod:`onnx_memo`, worked out once per node visited."""
        if self._key_node is not node:
            self._key_node = node
            self._key = onnx_memo.node_key(node, ins, self.opset, self.opsets_key, CONTROL_FLOW)
        return self._key

    def _lookup(self, node: onnx.NodeProto, name: str) -> _Value:
        v = self.values.get(name)
        if v is None:
            raise ModelLoadError(
                f"{self.label}: not a valid ONNX model (node {node.name or node.op_type!r} reads "
                f"undefined tensor {name!r})"
            )
        return v

    def _inline_if(self, idx: int, node: onnx.NodeProto) -> bool:
        """Replace an If whose condition is a known constant by the branch it takes.

        Exporters emit such Ifs for checks that depend only on shapes; the branch taken is the
        only code a static-shape run executes. Returns False when the condition is not known.
        """
        cond = self.values.get(node.input[0]) if node.input else None
        arr = cond.array() if cond is not None and cond.is_const else None
        if arr is None or arr.size != 1:
            return False
        name = "then_branch" if bool(arr.reshape(-1)[0]) else "else_branch"
        branch = next((a.g for a in node.attribute if a.name == name), None)
        if branch is None or len(branch.output) != len(node.output):
            return False
        rename = {b.name: o for b, o in zip(branch.output, node.output, strict=True)}
        for t in branch.initializer:
            self.values[t.name] = _initializer(t, self.label)
        produced = {o for n in branch.node for o in n.output}
        for sub in branch.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(sub)
            copy.ClearField("output")
            copy.output.extend(rename.get(o, o) for o in sub.output)
            copy.ClearField("input")
            copy.input.extend(rename.get(i, i) if i in produced else i for i in sub.input)
            self._visit(idx, copy)
        for b, o in rename.items():
            if b not in produced:
                # The branch returns an outer value unchanged.
                self._visit(idx, helper.make_node("Identity", [b], [o], name=f"{node.name}/{b}"))
        self.folded += 1
        return True

    def _constant(self, node: onnx.NodeProto) -> None:
        try:
            arr = _constant_value(node)
            et = helper.np_dtype_to_tensor_dtype(arr.dtype)
        except Exception as exc:  # malformed attribute tensors raise assorted errors
            raise ModelLoadError(
                f"{self.label}: Constant node {node.name!r} has no readable value ({exc})"
            ) from exc
        shape = tuple(int(d) for d in arr.shape)
        self.values[node.output[0]] = _Value(shape, et, True, arr)
        if node.output[0] in self.graph_outputs:
            return  # _graph_output gives it a producer node
        self.folded += 1
        self.constants += 1

    def _fold(self, node: onnx.NodeProto, ins: list[_Value | None]) -> None:
        if node.op_type not in _PASS_THROUGH or any(i in self.derived for i in node.input):
            self.derived.update(o for o in node.output if o)
        inferred: list[tuple[Shape | None, int]] | None = None
        if node.op_type in _MAY_GROW:
            # Check the output size before materializing it (an Expand to a 4k x 4k mask).
            inferred = self._infer(node, ins)
            small = all(s is None or math.prod(s) <= _MAX_FOLD_ELEMENTS for s, _ in inferred)
        else:
            small = node.op_type in ("Shape", "Size") or _broadcast_numel(ins) <= _MAX_FOLD_ELEMENTS
        outs = [o for o in node.output if o]
        arrays = self._arrays(node, ins) if small else None
        results: list[np.ndarray] | None = None
        if arrays is not None:
            try:
                results = evaluate(node, arrays, self.opset)
            except InvalidOperand as exc:
                raise ModelLoadError(
                    f"{self.label}: node {node.name or node.op_type!r} ({node.op_type}) has an "
                    f"invalid operand ({exc})"
                ) from exc
            except Exception:  # evaluators raise anything; shapes from inference still hold
                results = None
        if results is not None and len(results) >= len(outs):
            for out, arr in zip(node.output, results, strict=False):
                if out:
                    self.values[out] = _Value(
                        tuple(int(d) for d in arr.shape),
                        helper.np_dtype_to_tensor_dtype(arr.dtype),
                        True,
                        arr if arr.size <= _MAX_FOLD_ELEMENTS else None,
                    )
            return
        # Values unavailable (weights not loaded, or too big): keep shapes only.
        if inferred is None:
            inferred = self._infer(node, ins)
        for out, (shape, et) in zip(node.output, inferred, strict=True):
            if not out:
                continue
            if shape is None:
                if out in self.consumed:
                    raise self._unresolved(node, out)
                continue
            self.values[out] = _Value(shape, et, True)

    def _arrays(
        self, node: onnx.NodeProto, ins: list[_Value | None]
    ) -> list[np.ndarray | None] | None:
        """Input values for evaluating ``node``, or None if one is unknown or too big."""
        arrays: list[np.ndarray | None] = []
        for v in ins:
            if v is None:
                arrays.append(None)
            elif node.op_type in ("Shape", "Size"):
                # Only the shape matters; a zero-strided view stands in for the data.
                arrays.append(np.broadcast_to(np.zeros((), dtype=np.float32), v.shape))
            else:
                a = v.array() if v.numel <= _MAX_FOLD_ELEMENTS else None
                if a is None:
                    return None
                arrays.append(a)
        return arrays

    def _unresolved(self, node: onnx.NodeProto, out: str) -> ModelLoadError:
        why = (
            ": its size depends on the data, which a static estimate cannot know"
            if node.op_type in _DATA_DEPENDENT
            else ""
        )
        return ModelLoadError(
            f"{self.label}: cannot infer a static shape for {out!r}, output of node "
            f"{node.name or node.op_type!r} ({_op_name(node)}){why}"
        )

    def _infer(
        self, node: onnx.NodeProto, ins: list[_Value | None]
    ) -> list[tuple[Shape | None, int]]:
        if len(ins) == 1 and ins[0] is not None:
            # Relu, Sigmoid, ...: the output is the input's shape and type, ONNX's answer too
            fast = same_shape_unary(node, ins[0].shape, ins[0].elem_type, self.opsets)
            if fast is not None:
                self._fast_node = node
                return fast
        key = self._memo_key(node, ins)
        results = onnx_memo.inferred(key)
        if results is None:
            results = self._infer_fresh(node, ins)
            onnx_memo.store_inferred(key, results)
        fixed: list[tuple[Shape | None, int]] = []
        for out, (shape, et) in zip(node.output, results, strict=True):
            if shape is None and out in self.declared:
                shape = resolve_declared(self.declared[out], self.symbols)
                et = et or self.declared[out].tensor_type.elem_type
            if not et:
                et = next((v.elem_type for v in ins if v is not None), onnx.TensorProto.FLOAT)
            fixed.append((shape, et))
        return fixed

    def _infer_fresh(
        self, node: onnx.NodeProto, ins: list[_Value | None]
    ) -> list[tuple[Shape | None, int]]:
        """ONNX shape inference of ``node`` (what :mod:`onnx_memo` stores)."""
        types: dict[str, onnx.TypeProto] = {}
        data: dict[str, onnx.TensorProto] = {}
        for name, v in zip(node.input, ins, strict=True):
            if v is None or name in types:
                continue
            types[name] = tensor_type(v.elem_type, v.shape)
            proto = v.data_proto()
            if proto is not None:
                data[name] = proto
        if node.op_type in CONTROL_FLOW:
            for outer in _subgraph_reads(node):
                ov = self.values.get(outer)
                if ov is not None and outer not in types:
                    types[outer] = tensor_type(ov.elem_type, ov.shape)
        try:
            return infer_node(node, types, data, self.proto.opset_import)
        except ShapeInferenceFailed as exc:
            raise ModelLoadError(
                f"{self.label}: node {node.name or node.op_type!r} ({node.op_type}): shape "
                f"inference failed: {exc}"
            ) from exc

    def _emit(
        self,
        idx: int,
        node: onnx.NodeProto,
        ins: list[_Value | None],
        results: list[tuple[Shape | None, int]],
    ) -> None:
        outs: list[TensorInfo] = []
        out_shapes: list[Shape] = []
        for out, (shape, et) in zip(node.output, results, strict=True):
            if not out:
                continue
            if shape is None:
                if out not in self.consumed:
                    continue  # an unused optional output (e.g. a Dropout mask)
                raise self._unresolved(node, out)
            v = _Value(shape, et, False)
            self.values[out] = v
            outs.append(v.ir(out))
            out_shapes.append(shape)
        self._check_reshape(node, ins, out_shapes)
        ir_inputs = tuple(self.values[i].ir(i) for i in node.input if i)
        for t in (*ir_inputs, *outs):
            if t.nbytes > MAX_TENSOR_BYTES:
                raise ModelLoadError(
                    f"{self.label}: node {node.name or node.op_type!r} ({node.op_type}): tensor "
                    f"{t.name!r} of shape {_dims(t.shape)} would hold {t.nbytes:.3g} bytes, more "
                    f"than any device's memory ({MAX_TENSOR_BYTES:.3g})"
                )
        # A fast-path node has no attributes to normalize beyond its op's defaults: cheaper
        # worked out than keyed (the memo would give the same dict)
        key = None if self._fast_node is node else self._memo_key(node, ins)
        hit = onnx_memo.attrs(key, out_shapes)
        if hit is not None:
            attrs: dict[str, Any] = hit
        else:
            ctx = NodeContext(
                op_type=node.op_type,
                opset=self.opset,
                in_shapes=[None if v is None else v.shape for v in ins],
                in_values=[None if v is None or not v.is_const else v.array() for v in ins],
                out_shapes=out_shapes,
            )
            try:
                attrs = normalize_attrs(node, ctx)
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise ModelLoadError(
                    f"{self.label}: node {node.name or node.op_type!r} ({node.op_type}) has "
                    f"invalid attributes ({exc})"
                ) from exc
            onnx_memo.store_attrs(key, out_shapes, attrs)
        source = node.name or f"{node.op_type}_{idx if idx >= 0 else len(self.nodes)}"
        name = source
        k = 1
        while name in self.node_names:
            name = f"{source}#{k}"
            k += 1
        self.node_names.add(name)
        self.nodes.append(
            Node(
                name=name,
                op=_op_name(node),
                inputs=ir_inputs,
                outputs=tuple(outs),
                attrs=attrs,
                source=source,
                source_op=node.op_type,
            )
        )

    def _check_reshape(
        self, node: onnx.NodeProto, ins: list[_Value | None], out_shapes: list[Shape]
    ) -> None:
        """Catch models traced with fixed sizes baked into a Reshape, given other input sizes.

        ONNX inference accepts a Reshape whose element count does not match; the runtime would
        reject it, and the estimate would silently use a wrong shape.
        """
        if node.op_type != "Reshape" or not ins or ins[0] is None or not out_shapes:
            return
        src, dst = ins[0].shape, out_shapes[0]
        if int(np.prod(src, dtype=np.int64)) != int(np.prod(dst, dtype=np.int64)):
            raise ModelLoadError(
                f"{self.label}: node {node.name or node.op_type!r} (Reshape) cannot reshape "
                f"{_dims(src)} to {_dims(dst)}: the model was probably exported for fixed "
                "sizes; use the export-time input shape"
            )

    def _graph_output(self, name: str) -> TensorInfo:
        v = self.values[name]
        if v.is_const:
            # An initializer or folded constant returned as is: give it a producer.
            node = helper.make_node("Constant", [], [name], name=f"const_output_{name}")
            self._emit(-1, node, [], [(v.shape, v.elem_type)])
        return self.values[name].ir(name)


#: Element types stored two to a byte (and two to an int32_data entry).
_PACKED_4BIT = frozenset(
    getattr(onnx.TensorProto, n)
    for n in ("INT4", "UINT4", "FLOAT4E2M1")
    if hasattr(onnx.TensorProto, n)
)
_COMPLEX = frozenset({onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128})


def _dims_of(name: str, dims: Sequence[int], label: str) -> Shape:
    shape = tuple(int(d) for d in dims)
    if any(d < 0 for d in shape):
        raise ModelLoadError(
            f"{label}: initializer {name!r} has a negative dim in its dims {list(shape)}"
        )
    return shape


def _initializer(t: onnx.TensorProto, label: str) -> _Value:
    """An initializer's shape, after checking that the data it stores fits its dims (the runtime
    would refuse the model; decoding it for a shape computation would fail half-way)."""
    shape = _dims_of(t.name, t.dims, label)
    if t.data_location != onnx.TensorProto.EXTERNAL:
        numel = math.prod(shape)
        stored, need = _stored_size(t, numel)
        if stored is not None and stored != need:
            unit = "bytes" if t.raw_data else "values"
            raise ModelLoadError(
                f"{label}: initializer {t.name!r} stores {stored} {unit} but its dims "
                f"{list(shape)} need {need}"
            )
    return _Value(shape, t.data_type, True, None, t)


def _stored_size(t: onnx.TensorProto, numel: int) -> tuple[int | None, int]:
    """(what the tensor stores, what its dims need), in bytes for ``raw_data``, else in values;
    (None, _) when it stores nothing (weights stripped: shapes are all the cost model needs) or
    its type is unknown to this onnx."""
    packed = t.data_type in _PACKED_4BIT
    if t.raw_data:
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except (KeyError, TypeError, ValueError):
            return None, 0
        need = (numel + 1) // 2 if packed else numel * itemsize
        return len(t.raw_data), need
    stored = sum(
        len(f)
        for f in (
            t.float_data,
            t.int32_data,
            t.string_data,
            t.int64_data,
            t.double_data,
            t.uint64_data,
        )
    )
    if stored == 0:
        return None, 0
    need = 2 * numel if t.data_type in _COMPLEX else ((numel + 1) // 2 if packed else numel)
    return stored, need


def _op_name(node: onnx.NodeProto) -> str:
    if node.domain in ("", "ai.onnx"):
        return node.op_type
    return f"{node.domain}.{node.op_type}"


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    for a in node.attribute:
        if a.name == "value":
            return np.asarray(numpy_helper.to_array(a.t))
        if a.name == "sparse_value":
            return np.zeros(
                tuple(a.sparse_tensor.dims),
                helper.tensor_dtype_to_np_dtype(a.sparse_tensor.values.data_type),
            )
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
        if a.name == "value_string":
            return np.array(a.s.decode("utf-8", errors="replace"), dtype=object)
        if a.name == "value_strings":
            return np.array([s.decode("utf-8", errors="replace") for s in a.strings], dtype=object)
    raise ValueError("no value attribute")


def _all_reads(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name read by any node, subgraphs included."""
    reads: set[str] = set()
    for n in graph.node:
        reads.update(i for i in n.input if i)
        for a in n.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                reads |= _all_reads(sub)
                reads.update(o.name for o in sub.output)
    return reads


def _subgraph_reads(node: onnx.NodeProto) -> set[str]:
    """Names a control-flow node's subgraphs read from the enclosing scope."""
    reads: set[str] = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for sub in graphs:
            local = {vi.name for vi in sub.input} | {t.name for t in sub.initializer}
            for n in sub.node:
                reads.update(i for i in n.input if i and i not in local)
                local.update(n.output)
                reads |= _subgraph_reads(n) - local
    return reads


def _static_batch_notes(inputs: Sequence[onnx.ValueInfoProto], batch: int | None) -> list[str]:
    """Say when ``batch`` changed nothing: a static first dim is the model's, not the user's."""
    notes = []
    for vi in inputs:
        dims = vi.type.tensor_type.shape.dim
        fixed = len(dims) > 0 and dims[0].HasField("dim_value")
        if batch is not None and fixed and dims[0].dim_value != batch:
            notes.append(
                f"batch={batch} not applied to input {vi.name!r}: its first dim is fixed "
                f"at {dims[0].dim_value} in the model"
            )
    return notes


def _broadcast_numel(ins: Sequence[_Value | None]) -> int:
    """Element count of the numpy broadcast of the inputs: bounds every other op's output."""
    shapes = [v.shape for v in ins if v is not None]
    try:
        return math.prod(np.broadcast_shapes(*shapes)) if shapes else 0
    except ValueError:
        return max((math.prod(s) for s in shapes), default=0)


def _dims(shape: Shape) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"
