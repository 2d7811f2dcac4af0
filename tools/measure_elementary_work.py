"""Measure what one output element of an elementary-function kernel costs in onnxruntime (MLAS)
on this machine, and optionally store it as the device's own table.

The method is in estimator/calibration/elementary.py. The runtime's default table lives in
``hardware_registry/fusion/onnxruntime-cpu.json`` under ``elementary_work``; ``--write`` stores
this device's table in ``elementary_work.json`` next to its hardware.json (atomically, other
runtimes' tables kept), which the estimator and calibration then use for that device.
``calibrate_hardware.py`` runs the same measurement for a device that has no table yet.

Run: ``python tools/measure_elementary_work.py [--hw host] [--repeats 5] [--write [--out DIR]]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from estimator.calibration.elementary import (
    COMPUTE_BOUND_FACTOR,
    FLOOR_OP,
    RUNTIME,
    measure_elementary,
    method,
)


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

    from estimator.registry.elementary import save_elementary_work
    from estimator.registry.loader import load_hardware

    hw = load_hardware(args.hw)
    folder: str | Path | None = args.out or hw.source_dir
    if args.write and folder is None:
        p.error("no registry folder for this device; give --out")
    m = measure_elementary(hw, args.repeats, args.runs)
    print(
        f"{hw.id}: one-thread fp32 peak {m.peak_flops_one_thread / 1e9:.1f} GFLOP/s, "
        f"onnxruntime {ort.__version__}"
    )
    print(f"{'op':<12} {'ns/element':>10} {'FLOP-eq':>8}  kept")
    for name, v in m.ns_per_element.items():
        eq = v * 1e-9 * m.peak_flops_one_thread
        print(f"{name:<12} {v:>10.3f} {eq:>8.1f}  {'yes' if name in m.table else 'no'}")
    print(
        f"kept: at least {COMPUTE_BOUND_FACTOR:g}x the {FLOOR_OP} slope ({m.floor_ns:.3f} ns), "
        "i.e. compute-bound in L2, or in the runtime's default table (a device table replaces "
        "it entry by entry, and the slope of an op near the floor moves across the threshold "
        "from run to run); the others stay on the FLOP convention"
    )
    print(json.dumps(m.table, indent=1))
    if args.write and folder is not None:
        command = (
            f"tools/measure_elementary_work.py --hw {args.hw} --repeats {args.repeats} "
            f"--runs {args.runs} ({method(args.repeats, args.runs, ort.__version__)})"
        )
        path = save_elementary_work(folder, hw.id, RUNTIME, m.entry(command))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
