"""onnxruntime (CPU) sessions set up the way the estimator models them, and random inputs.

Session settings are fixed so measurements are comparable with estimates: ``intra_op`` threads as
asked, one ``inter_op`` thread, sequential execution, all graph optimizations (what deployments
use, and what the fusion rules in hardware_registry/fusion/onnxruntime*.json describe).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from estimator.errors import InputError, ModelLoadError
from estimator.measure.profile import KernelTime, parse_ort_trace, resolve_sources
from estimator.safe_read import MAX_MODEL_BYTES, contained_file, describe_os_error, read_regular

_NP_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
#: Integer inputs (token ids, indices) are drawn from [0, INT_INPUT_HIGH) so they stay in range
#: of any embedding table or gather axis worth measuring.
INT_INPUT_HIGH = 2


def import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise InputError("runtime 'onnxruntime' is not installed: pip install onnxruntime") from exc
    return onnxruntime


def session_options(threads: int | None, profile_prefix: str | None = None) -> Any:
    ort = import_ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or 0
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Errors reach the user as one line through the exception (see open_session, run); the
    # runtime's own log line would be a second, coloured one.
    so.log_severity_level = 4
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return so


def open_session(
    model: bytes | str, label: str, threads: int | None, profile_prefix: str | None = None
) -> Any:
    """A CPU session; ``model`` is serialized bytes or a path (a path lets onnxruntime find
    external weight files next to the model)."""
    ort = import_ort()
    so = session_options(threads, profile_prefix)
    try:
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{label}: onnxruntime cannot load the model: {_first(exc)}") from exc


def _first(exc: BaseException) -> str:
    """The first line of an onnxruntime error (they carry the node and the reason)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def resolve_shape(
    name: str,
    shape: Sequence[int | str | None],
    *,
    batch: int | None,
    bound: Sequence[int] | None,
) -> tuple[int, ...]:
    """Concrete shape of one input: ``bound`` (from --input-shape) wins, dim 0 takes ``batch``."""
    if bound is not None:
        if len(bound) != len(shape):
            raise InputError(
                f"--input-shape {name}: rank {len(bound)} but the model input has rank {len(shape)}"
            )
        for i, (want, have) in enumerate(zip(bound, shape, strict=True)):
            if isinstance(have, int) and have > 0 and have != want:
                raise InputError(f"--input-shape {name}: dim {i} is fixed at {have}, got {want}")
        return tuple(int(d) for d in bound)
    out: list[int] = []
    for i, d in enumerate(shape):
        static = isinstance(d, int) and d > 0
        if i == 0:
            if static and batch is not None and d != batch:
                raise InputError(
                    f"input {name!r} has a fixed batch of {d}; cannot bind --batch {batch}"
                )
            out.append(int(d) if static else (batch or 1))  # type: ignore[arg-type]
        elif static:
            out.append(int(d))  # type: ignore[arg-type]
        else:
            raise InputError(
                f"input {name!r} dim {i} ({d!r}) is dynamic: bind it with "
                f"--input-shape {name}="
                + "x".join(str(x) if isinstance(x, int) else "?" for x in shape)
            )
    return tuple(out)


def random_input(shape: tuple[int, ...], type_str: str, rng: np.random.Generator) -> np.ndarray:
    dtype = _NP_DTYPES.get(type_str)
    if dtype is None:
        raise InputError(f"inputs of type {type_str} are not supported by measure-latency")
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if dtype is np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    return rng.integers(0, INT_INPUT_HIGH, size=shape).astype(dtype)


class OrtRunner:
    """One configured session plus fixed random inputs; ``run()`` is what the loop times."""

    runtime = "onnxruntime"

    def __init__(
        self,
        model: bytes | str,
        *,
        label: str,
        threads: int | None,
        batch: int | None,
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.label = label
        self.threads = threads
        self.session = open_session(model, label, threads)
        metas = self.session.get_inputs()
        shapes = dict(input_shapes or {})
        unknown = sorted(set(shapes) - {m.name for m in metas})
        if unknown:
            names = ", ".join(m.name for m in metas)
            raise InputError(f"--input-shape names unknown input(s) {unknown}; inputs are: {names}")
        rng = np.random.default_rng(seed)
        self.feeds: dict[str, np.ndarray] = {}
        for m in metas:
            shape = resolve_shape(m.name, list(m.shape), batch=batch, bound=shapes.get(m.name))
            try:
                self.feeds[m.name] = random_input(shape, m.type, rng)
            except (MemoryError, ValueError) as exc:  # ValueError: numpy's "array is too big"
                dims = "x".join(map(str, shape))
                raise InputError(
                    f"input {m.name!r} of shape {dims} is too large to allocate ({exc})"
                ) from None
        first = next(iter(self.feeds.values()), None)
        self.batch = int(first.shape[0]) if first is not None and first.ndim else (batch or 1)
        self.dtype = str(first.dtype) if first is not None else "float32"
        self.version = str(import_ort().__version__)

    def run(self) -> object:
        try:
            return self.session.run(None, self.feeds)
        except Exception as exc:  # onnxruntime's Fail, InvalidArgument, RuntimeException, ...
            raise ModelLoadError(
                f"{self.label}: onnxruntime cannot run the model: {_first(exc)}"
            ) from exc

    def profile(self, *, warmup: int, runs: int) -> list[KernelTime]:
        """Per-node times from a separate profiled session, so profiling never slows the samples.

        The timing session is released first, so the runner times nothing after this: alive,
        its intra-op pool's spinning threads take cores from the profiled session's (on 2
        cores at 2 threads a 3424x1200 MatMul profiled at 172 us beside it, 105 us alone, 97 us
        unprofiled)."""
        self.session = None
        with tempfile.TemporaryDirectory(prefix="measure-prof-") as tmp:
            prefix = str(Path(tmp) / "ort")
            sess = open_session(self.model, self.label, self.threads, prefix)
            for _ in range(warmup + runs):
                sess.run(None, self.feeds)
            trace = sess.end_profiling()
            rows = parse_ort_trace(trace, skip_runs=warmup)
            del sess
        names, producers = _graph_names(self.model)
        return resolve_sources(rows, names, producers)


def load_model(model: str | Path | bytes | Any) -> tuple[bytes | str, str, str, str | None]:
    """(what onnxruntime opens, sha256, display name, path) of a path, bytes, or ModelProto.

    For a path the hash covers the model file and, in name order, every external-data file its
    tensors reference, so re-saving the same weights elsewhere keeps the identity. Every such
    location is resolved and checked (inside the model's folder, a regular file) before a byte
    of it is read: a model must not make us read ``../../etc/shadow``.
    """
    if isinstance(model, bytes | bytearray):
        return bytes(model), hashlib.sha256(model).hexdigest(), "model", None
    if isinstance(model, str | Path):
        path = Path(model)
        data = read_regular(path, what="model file", limit=MAX_MODEL_BYTES, error=ModelLoadError)
        if not data:
            raise ModelLoadError(f"{path}: file is empty")
        digest = hashlib.sha256(data)
        for location, extra in _external_files(path, data):
            digest.update(Path(location).name.encode())
            _hash_into(digest, extra, path)
        return str(path), digest.hexdigest(), path.stem, str(path.resolve())
    serialize = getattr(model, "SerializeToString", None)
    if serialize is not None:
        data = bytes(serialize())
        graph_name = getattr(getattr(model, "graph", None), "name", "") or "model"
        return data, hashlib.sha256(data).hexdigest(), graph_name, None
    raise InputError(f"cannot measure a {type(model).__name__}: give an ONNX path or ModelProto")


def _graph_names(model: bytes | str) -> tuple[set[str], dict[str, str]]:
    """ONNX node names and tensor -> producing node, for mapping profiled names back."""
    import onnx

    try:
        proto = (
            onnx.load_model_from_string(model)
            if isinstance(model, bytes)
            else onnx.load(model, load_external_data=False)
        )
    except Exception:
        return set(), {}
    names = {n.name for n in proto.graph.node if n.name}
    producers = {out: n.name for n in proto.graph.node if n.name for out in n.output}
    return names, producers


def _external_files(path: Path, data: bytes) -> list[tuple[str, Path]]:
    """(location, resolved file) of every external-data reference of the model, in name order.

    Each location is refused (``ModelLoadError`` naming the tensor) unless it resolves, links
    followed, to a regular file inside the model's folder: onnxruntime would refuse most such
    models too, but only after this hash had read the file.
    """
    if b"location" not in data:  # cheap pre-check: no external data reference at all
        return []
    try:
        import onnx

        proto = onnx.load_model_from_string(data)
    except Exception:  # onnxruntime reports unreadable models with a better message
        return []
    found: dict[str, Path] = {}
    for tensor in _tensors(proto.graph):
        for entry in tensor.external_data:
            if entry.key == "location" and entry.value not in found:
                found[entry.value] = contained_file(
                    path.parent,
                    entry.value,
                    what=f"{path}: external data of tensor {tensor.name!r}",
                    error=ModelLoadError,
                )
    return sorted(found.items())


def _tensors(graph: Any) -> Iterator[Any]:
    """Every TensorProto a graph holds: initializers, sparse ones, Constant and other node
    attributes, and the same in subgraphs (If/Loop/Scan bodies), as onnxruntime reads them."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield attr.sparse_tensor.values
                yield attr.sparse_tensor.indices
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def _hash_into(digest: Any, file: Path, model: Path) -> None:
    """Hash ``file`` in chunks (weights can be gigabytes): never whole in memory."""
    try:
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ModelLoadError(
            f"{model}: cannot read external data {file}: {describe_os_error(exc)}"
        ) from None
