"""Cross-network memo of what the ONNX frontend works out per node (issue 20).

A node's inferred output shapes and its normalized attributes depend only on its op, domain,
attributes and opsets, its inputs' element types, shapes and constant values, which inputs
alias one another and which outputs are present (attributes also on the output shapes): never
on tensor or node names. The networks of one search space repeat the same few hundred nodes,
so a batch of them (``estimate_many``, few-shot fits) works each distinct node out once and
reads it back for every later occurrence. Exact: the key holds everything the two steps read
(``tests/frontends/test_onnx_memo.py`` compares graphs built with and without it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import onnx

#: Largest constant (elements) whose value may enter a key; a node reading a bigger known value
#: (a weight stored in the file) is worked out without the memo.
MAX_KEY_VALUE = 4096
#: Entries each memo holds before it starts over (a bound on memory, not a tuning figure).
MAX_ENTRIES = 200_000

Key = tuple[Any, ...]
Results = list[tuple[tuple[int, ...] | None, int]]

_INFER: dict[Key, Results] = {}
_ATTRS: dict[Key, dict[str, Any]] = {}
_STATE = {"on": True}


@contextmanager
def disabled() -> Iterator[None]:
    """Work every node out afresh inside the block (the uncached path, for comparisons)."""
    was = _STATE["on"]
    _STATE["on"] = False
    try:
        yield
    finally:
        _STATE["on"] = was


class ValueLike(Protocol):
    """What the key reads of the frontend's per-tensor record."""

    shape: tuple[int, ...]
    elem_type: int
    is_const: bool

    def array(self) -> np.ndarray | None: ...

    def data_proto(self) -> onnx.TensorProto | None: ...


def node_key(
    node: onnx.NodeProto,
    ins: Sequence[ValueLike | None],
    opset: int,
    opsets: tuple[tuple[str, int], ...],
    skip_ops: frozenset[str] | set[str],
) -> Key | None:
    """Everything the node's shape inference and attribute normalization read; None when the
    node is not memoized (``skip_ops``: control flow, whose subgraphs read outer values; an
    input whose known value is bigger than :data:`MAX_KEY_VALUE`)."""
    if node.op_type in skip_ops or not _STATE["on"]:
        return None
    vals: list[tuple[Any, ...] | None] = []
    for v in ins:
        if v is None:
            vals.append(None)
            continue
        data: tuple[Any, ...] | None = None
        if v.is_const:
            arr = v.array()
            if arr is not None:
                if arr.size > MAX_KEY_VALUE:
                    return None
                data = (arr.dtype.str, arr.shape, arr.tobytes())
            else:
                # a stripped initializer still reaches shape inference as a data-less proto
                data = (v.data_proto() is not None,)
        vals.append((v.shape, v.elem_type, v.is_const, data))
    names = list(node.input)
    return (
        node.domain,
        node.op_type,
        opset,
        opsets,
        tuple(vals),
        tuple(names.index(n) for n in names),
        tuple(bool(o) for o in node.output),
        tuple(a.SerializeToString() for a in node.attribute),
    )


def _put(memo: dict[Key, Any], key: Key, value: Any) -> None:
    if len(memo) >= MAX_ENTRIES:
        memo.clear()
    memo[key] = value


def inferred(key: Key | None) -> Results | None:
    """The output (shape, element type) list stored for ``key``, or None."""
    return None if key is None else _INFER.get(key)


def store_inferred(key: Key | None, results: Results) -> None:
    if key is not None:
        _put(_INFER, key, list(results))


def attrs(key: Key | None, out_shapes: Sequence[tuple[int, ...]]) -> dict[str, Any] | None:
    """A copy of the normalized attributes stored for ``key`` and ``out_shapes``, or None."""
    if key is None:
        return None
    hit = _ATTRS.get((key, tuple(out_shapes)))
    return None if hit is None else dict(hit)


def store_attrs(
    key: Key | None, out_shapes: Sequence[tuple[int, ...]], value: dict[str, Any]
) -> None:
    if key is not None:
        _put(_ATTRS, (key, tuple(out_shapes)), dict(value))


def clear() -> None:
    """Forget every node seen so far."""
    _INFER.clear()
    _ATTRS.clear()


def size() -> int:
    """Entries held (both memos)."""
    return len(_INFER) + len(_ATTRS)
