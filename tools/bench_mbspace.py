"""Second search space for few-shot transfer: the seeded MobileNet-style space (zoo.mbspace).

``measure``: write the first N networks of a seed (with weights) and time each with onnxruntime
at every thread count asked, median of the repeats, into a CSV (model, code, threads,
latency_ms).

``bench``: each thread count of the CSV is one device (this machine's registry entry, runtime
onnxruntime-cpu); leave-one-device-out as for NAS-Bench-201 (``estimator.transfer.lodo``), so
the prior of the 1-thread device is learned on the 2-thread one and vice versa: fit on one
thread count, predict the other. Networks are read as weight-stripped ONNX files (regenerated
from the seed), FLOPs from ``analyze_graph``.

    python tools/bench_mbspace.py measure --n 400 --threads 1 2 --out docs/data/mbspace.csv
    python tools/bench_mbspace.py bench --csv docs/data/mbspace.csv --out r.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tools"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_transfer import LODO_SHOTS, lodo_json, lodo_markdown, trimmed  # noqa: E402

from estimator.errors import InputError  # noqa: E402
from estimator.transfer import prior_for, resolve_references  # noqa: E402
from estimator.transfer.lodo import DeviceData, leave_one_device_out  # noqa: E402
from estimator.zoo.mbspace import write_space  # noqa: E402

FIELDS = ("model", "code", "threads", "latency_ms")


def measure(n: int, seed: int, threads: Sequence[int], out: Path, repeats: int) -> int:
    from estimator.measure import measure as time_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        nets = write_space(tmp, n, seed, weights=True)
        for t in threads:
            start = time.perf_counter()
            for arch, path in nets:
                m = time_model(path, runtime="onnxruntime", threads=t, warmup=5, repeats=repeats)
                rows.append((arch.name, arch.code, t, float(np.median(m.samples_ms))))
            print(
                f"threads={t}: {n} networks in {time.perf_counter() - start:.1f} s", file=sys.stderr
            )
    tmp_out = out.with_suffix(".tmp")
    with tmp_out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        w.writerows(rows)
    tmp_out.replace(out)
    return 0


def read_csv(path: Path) -> dict[int, dict[str, float]]:
    """threads -> model -> latency_ms; a bad row is one InputError naming file and line."""
    out: dict[int, dict[str, float]] = {}
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        r = csv.DictReader(fh)
        missing = [f for f in FIELDS if f not in (r.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(r, start=2):
            try:
                t, y = int(row["threads"]), float(row["latency_ms"])
            except ValueError:
                raise InputError(f"{path}, line {line}: threads/latency_ms not numbers") from None
            if not (np.isfinite(y) and y > 0) or t < 1:
                raise InputError(f"{path}, line {line}: latency_ms must be > 0, threads >= 1")
            out.setdefault(t, {})[row["model"]] = y
    if not out:
        raise InputError(f"{path}: no rows")
    return out


def bench(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from estimator.analysis import analyze_graph
    from estimator.loading import load_model

    data = read_csv(args.csv)
    names = sorted(set.intersection(*(set(v) for v in data.values())))
    n = len(names)
    if n < 40:
        raise InputError(f"{args.csv}: {n} networks timed at every thread count, need >= 40")
    with tempfile.TemporaryDirectory() as tmp:
        seed = int(names[0].split("-")[1])
        nets = {a.name: p for a, p in write_space(tmp, n, seed, weights=False)}
        if set(nets) != set(names):
            raise InputError(f"{args.csv}: model names are not the first {n} of seed {seed}")
        paths = [str(nets[m]) for m in names]
        flops = np.array([analyze_graph(load_model(p)).flops for p in paths])
        hw, prior = prior_for(args.hw, "onnxruntime-cpu")
        start = time.perf_counter()
        devices = []
        for t, col in sorted(data.items()):
            models = resolve_references(paths, runtime=prior.runtime)
            y = np.array([col[m] for m in names])
            half = n // 2
            devices.append(
                DeviceData(
                    f"{hw.id}@t{t}", hw, prior, models, y, trimmed(y, 0, half),
                    trimmed(y, half, n), flops, None, 1, t,
                    source=f"{args.csv} (onnxruntime, {t} thread(s))",
                )
            )  # fmt: skip
        print(f"kernel sets: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    shots = (0, 5, 10) if args.quick else LODO_SHOTS
    results = leave_one_device_out(devices, shots, 2 if args.quick else args.draws, args.seed)
    text = lodo_markdown(results, shots, "python tools/bench_mbspace.py " + " ".join(argv))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.json:
        args.json.write_text(json.dumps(lodo_json(results), indent=1), encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="time the space's networks with onnxruntime")
    m.add_argument("--n", type=int, default=300)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    m.add_argument("--repeats", type=int, default=30)
    m.add_argument("--out", type=Path, required=True)
    b = sub.add_parser("bench", help="leave-one-device-out transfer on a measured CSV")
    b.add_argument("--csv", type=Path, required=True)
    b.add_argument("--hw", default="xeon-6-vm-2vcpu", help="registry device the CSV was timed on")
    b.add_argument("--out", type=Path)
    b.add_argument("--json", type=Path)
    b.add_argument("--draws", type=int, default=10)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--quick", action="store_true", help="k in {0, 5, 10}, 2 draws")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "measure":
            return measure(args.n, args.seed, args.threads, args.out, args.repeats)
        return bench(args, argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
