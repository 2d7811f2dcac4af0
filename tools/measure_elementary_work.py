"""Measure what one output element of an elementary-function kernel costs in onnxruntime (MLAS).

The FLOP convention (docs/design/cost_model.md) counts exp, erf or tanh as one FLOP, which is
right for reporting and wrong for timing: MLAS evaluates them with polynomial kernels that take
many vector instructions per element, and GELU (erf-based) costs about twice what SiLU does per
element although both count 5 FLOPs. This tool times single-op models at two sizes that fit in L2
and takes the slope (seconds per extra element, so per-call overhead cancels), then expresses it
as FLOP-equivalents: slope x the device's one-thread fp32 peak. Normalising by the peak makes the
figure a property of the implementation's instruction count more than of one machine, but not
of the runtime alone: the runtime picks its kernels by ISA (MLAS runs AVX-512 paths on Zen 4,
AVX2 on Zen 3), so the figures differ by device. The runtime's default table lives in
``hardware_registry/fusion/onnxruntime-cpu.json`` under ``elementary_work``; ``--write`` stores
this device's own table in ``elementary_work.json`` next to its hardware.json (atomically, other
runtimes' tables kept), which the estimator and calibration then use for that device.

Run: ``python tools/measure_elementary_work.py [--hw host] [--repeats 5] [--write [--out DIR]]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

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


def _model(op: str, domain: str, attrs: dict[str, Any], n: int) -> bytes:
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
        ort.InferenceSession(_model(op, domain, attrs, n), so, providers=["CPUExecutionProvider"])
        for n in SIZES
    ]
    slopes = []
    for _ in range(repeats):
        t1, t2 = (_p10(s, n, runs) for s, n in zip(sessions, SIZES, strict=True))
        slopes.append((t2 - t1) / (SIZES[1] - SIZES[0]) * 1e9)
    return statistics.median(slopes)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hw", default="host", help="registry device whose 1-thread peak normalises")
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--runs", type=int, default=300, help="timed runs per size and repeat")
    p.add_argument(
        "--write", action="store_true", help="store the table in the device's registry folder"
    )
    p.add_argument("--out", help="folder to write elementary_work.json to (default: the device's)")
    args = p.parse_args(argv)
    import onnxruntime as ort

    from estimator.partition.rules import load_rules
    from estimator.registry.loader import load_hardware

    hw = load_hardware(args.hw)
    peak = hw.peak_flops("fp32", 1)
    onnx.checker.check_model(onnx.load_from_string(_model("Relu", "", {}, 8)))
    print(f"{hw.id}: one-thread fp32 peak {peak / 1e9:.1f} GFLOP/s, onnxruntime {ort.__version__}")
    print(f"{'op':<12} {'ns/element':>10} {'FLOP-eq':>8}  kept")
    ns = {name: slope_ns(op, dom, attrs, args.repeats, args.runs) for name, op, dom, attrs in OPS}
    floor = ns[FLOOR_OP]
    default = set(load_rules("onnxruntime-cpu").elementary_work)
    out: dict[str, float] = {}
    for name, v in ns.items():
        keep = v >= COMPUTE_BOUND_FACTOR * floor or name in default
        if keep:
            out[name] = round(v * 1e-9 * peak, 1)
        print(f"{name:<12} {v:>10.3f} {v * 1e-9 * peak:>8.1f}  {'yes' if keep else 'no'}")
    print(
        f"kept: at least {COMPUTE_BOUND_FACTOR:g}x the {FLOOR_OP} slope ({floor:.3f} ns), i.e. "
        "compute-bound in L2, or in the runtime's default table (a device table replaces it "
        "entry by entry, and the slope of an op near the floor moves across the threshold from "
        "run to run); the others stay on the FLOP convention"
    )
    print(json.dumps(out, indent=1))
    if args.write:
        path = _write(hw, out, ns, peak, args, ort.__version__)
        print(f"wrote {path}")
    return 0


def _write(
    hw: Any, table: dict[str, float], ns: dict[str, float], peak: float, args: Any, ver: str
) -> Any:
    from datetime import UTC, datetime

    from estimator.registry.elementary import save_elementary_work
    from estimator.registry.models import ElementaryWorkTable

    folder = args.out or hw.source_dir
    if folder is None:
        raise SystemExit("measure_elementary_work: error: no registry folder; give --out")
    entry = ElementaryWorkTable(
        flop_equivalents=table,
        source=(
            f"tools/measure_elementary_work.py --hw {args.hw} --repeats {args.repeats} "
            f"--runs {args.runs} (onnxruntime {ver}, one intra-op thread; slope of the p10 run "
            f"time between {SIZES[0]} and {SIZES[1]} fp32 elements x the one-thread peak; ops "
            f"under {COMPUTE_BOUND_FACTOR:g}x the {FLOOR_OP} slope left out)"
        ),
        date=datetime.now(UTC).date().isoformat(),
        ns_per_element={k: round(v, 4) for k, v in ns.items()},
        peak_gflops_one_thread=round(peak / 1e9, 2),
    )
    return save_elementary_work(folder, hw.id, "onnxruntime-cpu", entry)


if __name__ == "__main__":
    sys.exit(main())
