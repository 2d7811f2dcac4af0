"""What one output element of an elementary-function kernel costs in onnxruntime (MLAS).

The FLOP convention (docs/design/cost_model.md) counts exp, erf or tanh as one FLOP, which is
right for reporting and wrong for timing: MLAS evaluates them with polynomial kernels that take
many vector instructions per element, and GELU (erf-based) costs about twice what SiLU does per
element although both count 5 FLOPs. :func:`measure_elementary` times single-op models at two
sizes that fit in L2 and takes the slope (seconds per extra element, so per-call overhead
cancels), then expresses it as FLOP-equivalents: slope x the device's one-thread fp32 peak.
Normalising by the peak makes the figure a property of the implementation's instruction count
more than of one machine, but not of the runtime alone: the runtime picks its kernels by ISA
(MLAS runs AVX-512 paths on Zen 4, AVX2 on Zen 3), so each device gets its own table
(``elementary_work.json``, estimator.registry.elementary).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from estimator.partition.rules import load_rules
from estimator.registry.models import ElementaryWorkTable, Hardware

RUNTIME = "onnxruntime-cpu"

#: (runtime op name, ONNX op, domain, attributes); the runtime op name is the kernel the
#: partitioner produces (a pattern name such as Gelu, or the node's op type).
OPS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("Relu", "Relu", "", {}),
    ("Sigmoid", "Sigmoid", "", {}),
    ("Tanh", "Tanh", "", {}),
    ("Exp", "Exp", "", {}),
    ("Log", "Log", "", {}),
    ("Erf", "Erf", "", {}),
    ("Softplus", "Softplus", "", {}),
    ("Elu", "Elu", "", {}),
    ("HardSigmoid", "HardSigmoid", "", {}),
    ("HardSwish", "HardSwish", "", {}),
    ("Gelu", "Gelu", "com.microsoft", {}),
    ("QuickGelu", "QuickGelu", "com.microsoft", {"alpha": 1.0}),
)
#: The memory-bound reference: its slope is the cost of streaming one element through L2.
FLOOR_OP = "Relu"
#: An op enters the table only when its slope is this many times the floor: below that the
#: element's time is mostly traffic, which the memory roof already models.
COMPUTE_BOUND_FACTOR = 2.0
#: Element counts of the two sizes: both tensors of the larger fit a 512 KiB L2 with room.
SIZES = (1 << 13, 1 << 15)


def op_model(op: str, domain: str, attrs: dict[str, Any], n: int) -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])
    node = helper.make_node(op, ["x"], ["y"], domain=domain, **attrs)
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    graph = helper.make_graph([node], op.lower(), [x], [y])
    return bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())


def _p10(session: Any, n: int, runs: int) -> float:
    x = np.random.default_rng(0).standard_normal((1, n)).astype(np.float32)
    feed = {"x": x}
    for _ in range(20):
        session.run(None, feed)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        ts.append(time.perf_counter() - t0)
    return float(np.percentile(ts, 10))


def slope_ns(op: str, domain: str, attrs: dict[str, Any], repeats: int, runs: int) -> float:
    """Median over ``repeats`` of (t(n2) - t(n1)) / (n2 - n1), in ns per element, one thread."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sessions = [
        ort.InferenceSession(op_model(op, domain, attrs, n), so, providers=["CPUExecutionProvider"])
        for n in SIZES
    ]
    slopes = []
    for _ in range(repeats):
        t1, t2 = (_p10(s, n, runs) for s, n in zip(sessions, SIZES, strict=True))
        slopes.append((t2 - t1) / (SIZES[1] - SIZES[0]) * 1e9)
    return statistics.median(slopes)


@dataclass(frozen=True, slots=True)
class ElementaryMeasurement:
    #: Op -> slope in ns per element (every op of :data:`OPS`, the floor included).
    ns_per_element: dict[str, float]
    #: Op -> FLOP-equivalents per element for the ops kept (see :func:`measure_elementary`).
    table: dict[str, float]
    peak_flops_one_thread: float
    floor_ns: float

    def entry(self, source: str) -> ElementaryWorkTable:
        """The registry record, with ``source`` (the command) as its provenance."""
        return ElementaryWorkTable(
            flop_equivalents=self.table,
            source=source,
            date=datetime.now(UTC).date().isoformat(),
            ns_per_element={k: round(v, 4) for k, v in self.ns_per_element.items()},
            peak_gflops_one_thread=round(self.peak_flops_one_thread / 1e9, 2),
        )


def measure_elementary(hw: Hardware, repeats: int = 11, runs: int = 300) -> ElementaryMeasurement:
    """Slopes of every op in :data:`OPS` on this machine, at one thread, normalised by ``hw``'s
    one-thread peak. An op is kept when its slope is at least :data:`COMPUTE_BOUND_FACTOR` x the
    floor (compute-bound in L2) or the runtime's default table has it: a device table replaces
    the default entry by entry, and an op near the floor crosses the threshold from run to run.
    """
    peak = hw.peak_flops("fp32", 1)
    ns = {name: slope_ns(op, dom, attrs, repeats, runs) for name, op, dom, attrs in OPS}
    floor = ns[FLOOR_OP]
    default = set(load_rules(RUNTIME).elementary_work)
    # A slope <= 0 (the larger size timed no slower: noise from a loaded machine, most often
    # for the cheap floor op) measures nothing: such an op keeps the runtime's entry or the FLOP
    # convention, and a floor <= 0 sets no threshold.
    table = {
        name: round(v * 1e-9 * peak, 1)
        for name, v in ns.items()
        if v > 0
        and (v >= COMPUTE_BOUND_FACTOR * max(floor, 0.0) or name in default)
        and round(v * 1e-9 * peak, 1) > 0
    }
    return ElementaryMeasurement(ns, table, peak, floor)


def method(repeats: int, runs: int, version: str) -> str:
    return (
        f"onnxruntime {version}, one intra-op thread, {repeats} repeats of {runs} runs; slope of "
        f"the p10 run time between {SIZES[0]} and {SIZES[1]} fp32 elements x the one-thread "
        f"peak; ops under {COMPUTE_BOUND_FACTOR:g}x the {FLOOR_OP} slope and not in the "
        "runtime's table left out"
    )
