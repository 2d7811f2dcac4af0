"""Learn the shipped meta-priors (hardware_registry/meta_priors/) from HELP's training columns.

Training devices: HELP's NAS-Bench-201 meta-training columns only (its meta-validation columns
titanx_1/32/256 and gold_6240 stay held out, scored by ``bench_transfer.py --lodo --split
help``). Each column is fitted on all its trimmed pool rows at every level; the interval scale
is learned out of sample over those columns (each fitted at k in {5, 10, 20} under a prior
learned without it); one file per (device type, runtime).

    .venv/bin/python tools/learn_meta_prior.py [--registry hardware_registry]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tools"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_transfer import DEFAULT_CSV, HELP_TRAIN, POOL, QUERY, nb201_devices  # noqa: E402

from estimator.errors import InputError  # noqa: E402
from estimator.transfer import load_latency_table  # noqa: E402
from estimator.transfer.baselines import nb201_flops_params  # noqa: E402
from estimator.transfer.lodo import learn_meta, learned_interval_scale, training_fit  # noqa: E402
from estimator.transfer.metaprior import save  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--registry", type=Path, default=REPO / "hardware_registry")
    ap.add_argument("--columns", nargs="*", default=list(HELP_TRAIN))
    args = ap.parse_args(argv)
    try:
        table = load_latency_table(args.csv, rows=QUERY[1])
        missing = [c for c in args.columns if c not in table.columns]
        if missing:
            raise InputError(f"{args.csv}: no column(s) {', '.join(missing)}")
        flops, _ = nb201_flops_params(table.archs)
        devices = nb201_devices(table, args.columns, flops, POOL, QUERY)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    trained = {d.name: training_fit(d) for d in devices}
    groups = {d.group: d for d in devices}
    for group, d in sorted(groups.items()):
        # the group's offset and scale from the group's devices (all devices when it has
        # fewer than lodo.MIN_GROUP_DEVICES); each inner fit leaves its own device out
        cal = learned_interval_scale(d, devices, trained)
        meta = learn_meta(list(trained.values()), d.prior, group, interval_scale=cal.scale,
                          interval_note=cal.note, offset_sigma=cal.offset_sigma)  # fmt: skip
        assert meta is not None
        path = save(meta, args.registry)
        names = ", ".join(t.name for t in meta.training_devices)
        print(f"{path}: {names}; offset sd {cal.offset_sigma:.3f}, scale {cal.scale:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
