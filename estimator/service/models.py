"""Turn what a request names into the IR, through a content-keyed cache of parsed models.

An upload is keyed by the SHA-256 of its bytes (and the dims it is bound with), so the same
model sent again, or named by its id (``X-Model-Id``), costs no parse; zoo models and arch
strings are keyed by name. The cache is the library's one LRU
(:class:`estimator.identity_cache.LRU`), capped by entries and by the graphs' retained memory.

Only names are resolved here, never paths: a zoo name goes to :func:`estimator.zoo.graph`, an
arch string to :func:`estimator.transfer.nb201_graph_for`, an upload's bytes to
:func:`estimator.load_model` as an in-memory ``ModelProto``. The server opens no file a request
names, and ONNX external-data references are never followed (the frontend reads shapes only).
"""

from __future__ import annotations

import gc
import hashlib
import re
import sys
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

from estimator.errors import InputError
from estimator.identity_cache import LRU
from estimator.ir.graph import Graph
from estimator.service.config import ServiceConfig
from estimator.service.errors import ServiceError

MODEL_ID_PREFIX = "sha256:"
_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True, slots=True)
class Binding:
    """Dims a model is bound with: part of the cache key."""

    batch: int | None
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def of(cls, batch: int | None, shapes: Mapping[str, Sequence[int]] | None) -> Binding:
        return cls(batch, tuple(sorted((k, tuple(v)) for k, v in (shapes or {}).items())))

    def shapes(self) -> dict[str, tuple[int, ...]] | None:
        return dict(self.input_shapes) or None


def retained_bytes(root: object) -> int:
    """Approximate memory kept alive by ``root``: the sizes of every object reachable from it,
    each counted once (types, modules and functions are shared, so not counted)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    skip = (type, ModuleType, FunctionType, BuiltinFunctionType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def model_id(data: bytes) -> str:
    return MODEL_ID_PREFIX + hashlib.sha256(data).hexdigest()


def upload_name(filename: str | None) -> str:
    """The model's name from the uploaded file's name (its stem, as the CLI names a file)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if base.lower().endswith(".onnx"):
        base = base[: -len(".onnx")]
    return _SAFE_NAME.sub("_", base)[:100] or "upload"


def _onnx_nodes(graph: Any) -> Iterator[Any]:
    """Every node of an ONNX graph, subgraphs (If/Loop/Scan bodies) included."""
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            yield node
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)


class ModelStore:
    """Parsed models of this server process, by content hash or name."""

    def __init__(self, config: ServiceConfig, on_lookup: Callable[[bool], None]) -> None:
        self._cfg = config
        self._lru: LRU[Hashable, Graph] = LRU(config.cache_entries, config.cache_bytes)
        self._lock = threading.Lock()
        self._on_lookup = on_lookup

    # ----------------------------------------------------------------- cache

    def _cached(self, key: Hashable, load: Callable[[], Graph]) -> Graph:
        with self._lock:
            hit = self._lru.get(key)
        self._on_lookup(hit is not None)
        if hit is not None:
            return hit
        graph = load()
        self._check_nodes(len(graph.nodes), str(graph.name))
        weight = retained_bytes(graph)
        with self._lock:
            self._lru.put(key, graph, weight)
        return graph

    @property
    def bytes_held(self) -> int:
        return self._lru.weight

    @property
    def entries(self) -> int:
        return len(self._lru)

    # ----------------------------------------------------------------- sources

    def upload(self, data: bytes, filename: str | None, binding: Binding) -> tuple[Graph, str]:
        """The IR of an uploaded ONNX file and its id."""
        mid = model_id(data)
        key = ("upload", mid, binding)
        return self._cached(key, lambda: self._parse_onnx(data, filename, binding)), mid

    def by_id(self, mid: str, binding: Binding) -> Graph:
        if not _ID.match(mid):
            raise InputError(f"model_id {mid[:80]!r} is not an id (sha256:<64 hex digits>)")
        with self._lock:
            hit = self._lru.get(("upload", mid, binding))
        self._on_lookup(hit is not None)
        if hit is None:
            raise ServiceError(
                404,
                "model_not_cached",
                f"model {mid} (with these dims) is not in this server's cache: upload it again",
            )
        return hit

    def named(self, name: str, binding: Binding, semantics: str) -> Graph:
        """A zoo model or a NAS-Bench-201 arch string."""
        if name.startswith("|"):
            if binding.input_shapes:
                raise InputError("input_shapes do not apply to an arch string; use batch")
            return self._cached(
                ("nb201", name, binding.batch or 1, semantics),
                lambda: _nb201(name, binding.batch or 1, semantics),
            )
        from estimator import zoo

        if name not in zoo.names():
            raise InputError(
                f"unknown model {name[:80]!r}: give a zoo name ({', '.join(zoo.names()[:6])}, "
                "...), a NAS-Bench-201 arch string, or upload an ONNX file"
            )
        if binding.input_shapes:
            raise InputError(f"input_shapes do not apply to zoo model {name!r}; use batch")
        return self._cached(
            ("zoo", name, binding.batch or 1), lambda: zoo.graph(name, batch=binding.batch or 1)
        )

    # ----------------------------------------------------------------- parsing

    def _check_nodes(self, n: int, label: str) -> None:
        if n > self._cfg.max_nodes:
            raise ServiceError(
                422,
                "too_many_nodes",
                f"{label}: {n:,} nodes, over this server's limit of {self._cfg.max_nodes:,}",
            )

    def _parse_onnx(self, data: bytes, filename: str | None, binding: Binding) -> Graph:
        import onnx
        from google.protobuf.message import DecodeError

        from estimator.loading import load_model

        name = upload_name(filename)
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError):
            raise InputError(f"{name}: not an ONNX model (protobuf parse failed)") from None
        if not proto.HasField("graph") or proto.ir_version <= 0:
            raise InputError(f"{name}: not an ONNX model (no graph in the upload)")
        count = 0
        for _ in _onnx_nodes(proto.graph):
            count += 1
            if count > self._cfg.max_nodes:
                break
        count += sum(len(f.node) for f in proto.functions)
        self._check_nodes(count, name)
        return load_model(proto, input_shapes=binding.shapes(), batch=binding.batch, name=name)


def _nb201(arch: str, batch: int, semantics: str) -> Graph:
    from estimator.transfer import nb201_graph_for

    return nb201_graph_for(arch, batch, semantics)
