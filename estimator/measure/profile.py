"""Per-kernel times from the runtimes' own profilers, aggregated per node over the timed runs.

Calibration fits efficiency curves per kernel category, so it needs the time of each kernel, not
only the model total. The rows are keyed by the runtime's node name; for onnxruntime that is the
ONNX node name (``Node.source`` in the IR) unless onnxruntime fused or inserted the node, in which
case :func:`source_name` recovers the first original node where the fused name allows it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_KERNEL_SUFFIX = "_kernel_time"
_NCHWC = "_nchwc"
_TOKEN = re.compile(r"_token_\d+$")
_FUSED = re.compile(r"^fused (?P<src>.+?)(?:/\w+Fusion)?(?:_token_\d+)?$")


@dataclass(frozen=True)
class KernelTime:
    """One profiled node: mean time per model run (us) and its call count over all timed runs.

    ``source`` is the ONNX node it stands for (see :func:`resolve_sources`), None for nodes the
    runtime inserted itself (layout reorders, copies) or when no ONNX graph is known (torch).
    """

    node_name: str
    op_type: str
    mean_us: float
    calls: int
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_name(node_name: str) -> str:
    """The ONNX node a profiled node came from: ``fused mm0/MatMulAddFusion`` -> ``mm0``."""
    m = _FUSED.match(node_name)
    return m.group("src") if m else node_name


def resolve_sources(
    rows: Iterable[KernelTime], node_names: set[str], producers: Mapping[str, str]
) -> list[KernelTime]:
    """Attach the ONNX node each profiled onnxruntime node stands for.

    onnxruntime keeps the ONNX name of an untouched node; a fused one is ``fused <first>/<Rule>``;
    and names a node rewritten to the NCHWc layout ``<output tensor>_nchwc``, where the tensor is
    the output of the last node it absorbed (a Conv fused with its Clip takes the Clip's output).
    ``producers`` maps tensor name -> ONNX node producing it. Unresolvable names keep None.
    """
    out = []
    for r in rows:
        src = _resolve(r.node_name, node_names, producers)
        out.append(KernelTime(r.node_name, r.op_type, r.mean_us, r.calls, src))
    return out


def _resolve(name: str, node_names: set[str], producers: Mapping[str, str]) -> str | None:
    for candidate in (name, _TOKEN.sub("", name)):
        if candidate in node_names:
            return candidate
        fused = source_name(candidate)
        if fused in node_names:
            return fused
        if candidate.endswith(_NCHWC):
            tensor = candidate[: -len(_NCHWC)]
            if tensor in producers:
                return producers[tensor]
    return None


def node_times(rows: Iterable[KernelTime]) -> dict[str, float]:
    """Mean microseconds per run keyed by ONNX node name (``source``) where known, else by the
    runtime's node name: the key the partitioner matches against ``Kernel.sources``."""
    out: dict[str, float] = {}
    for r in rows:
        key = r.source or r.node_name
        out[key] = out.get(key, 0.0) + r.mean_us
    return out


def parse_ort_trace(path: str | Path, *, skip_runs: int = 0) -> list[KernelTime]:
    """Aggregate an onnxruntime profile (Chrome trace JSON) per node over the timed runs.

    Runs are the ``model_run`` session events in time order; the first ``skip_runs`` (warmup) are
    dropped, and each kernel event (cat ``Node``, name ``<node>_kernel_time``) counts toward the run
    whose time window holds it. ``mean_us`` = total ``dur`` of the node / number of kept runs.
    """
    try:
        events = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read onnxruntime profile {path}: {exc}") from exc
    runs = sorted(
        (e["ts"], e["ts"] + e["dur"])
        for e in events
        if e.get("cat") == "Session" and e.get("name") == "model_run"
    )[skip_runs:]
    if not runs:
        return []
    starts = [r[0] for r in runs]
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    op_of: dict[str, str] = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith(_KERNEL_SUFFIX):
            continue
        ts = e["ts"]
        i = _run_index(starts, ts)
        if i < 0 or ts > runs[i][1]:
            continue
        node = name[: -len(_KERNEL_SUFFIX)]
        total[node] += float(e["dur"])
        count[node] += 1
        op_of[node] = str(e.get("args", {}).get("op_name", ""))
    n = len(runs)
    return _rows(total, count, op_of, n)


def _run_index(starts: list[int], ts: int) -> int:
    import bisect

    return bisect.bisect_right(starts, ts) - 1


def aggregate_torch_events(events: Iterable[Any], runs: int) -> list[KernelTime]:
    """Aggregate ``torch.profiler`` key averages per op name (self CPU time, us per run)."""
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    op_of: dict[str, str] = {}
    for ev in events:
        key = str(ev.key)
        if key.startswith("ProfilerStep") or key == "model_run":
            continue
        total[key] += float(ev.self_cpu_time_total)
        count[key] += int(ev.count)
        op_of[key] = key
    return _rows(total, count, op_of, runs)


def _rows(
    total: Mapping[str, float], count: Mapping[str, int], op_of: Mapping[str, str], runs: int
) -> list[KernelTime]:
    rows = [KernelTime(node, op_of[node], total[node] / runs, count[node]) for node in total]
    rows.sort(key=lambda r: r.mean_us, reverse=True)
    return rows
