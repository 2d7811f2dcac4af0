"""``POST /v1/calibrations/from-latencies``: the library's few-shot fit on a client's latencies.

JSON rows and CSV text take one path: they become a CSV file read by the library's own reader
(:func:`estimator.transfer.read_measurements`, which names the bad line). Models must be zoo
names or arch strings, since the server opens no file a request names. A write stores the CSV
under ``<registry>/uploads/`` first, so the profile's provenance names data that still exists,
then calls :func:`estimator.transfer.write_from_latencies` (atomic file replace, backup, audit
entry) under a lock file, so concurrent writers (``--workers N``) do not lose each other's
profiles.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from estimator.errors import InputError
from estimator.service.schemas import LatenciesRequest

#: Folder of the registry that keeps uploaded measurements (no hardware.json: not a device).
UPLOADS = "uploads"
_LOCK = ".estimate-server.lock"
_LABEL = "latencies.csv"


def _csv_text(req: LatenciesRequest) -> str:
    if (req.csv is None) == (req.measurements is None):
        raise InputError("give exactly one of 'measurements' (rows) and 'csv' (text)")
    if req.csv is not None:
        return req.csv
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "latency_ms", "batch"])
    for m in req.measurements or []:
        writer.writerow([m.model, repr(m.latency_ms), m.batch])
    return buf.getvalue()


def _read_rows(text: str) -> list[tuple[str, float, int]]:
    from estimator import zoo
    from estimator.transfer import read_measurements

    with tempfile.TemporaryDirectory(prefix="estimate-server-") as tmp:
        path = Path(tmp) / _LABEL
        path.write_text(text, encoding="utf-8")
        try:
            rows = read_measurements(path)
        except InputError as exc:  # name the upload, not the server's temp folder
            raise InputError(str(exc).replace(str(path), _LABEL)) from None
    known = set(zoo.names())
    for r in rows:
        if not r.ref.startswith("|") and r.ref not in known:
            raise InputError(
                f"{_LABEL}: line {r.line}: model {r.ref[:80]!r} is not a zoo name or a "
                "NAS-Bench-201 arch string (this server reads no files)"
            )
    return [(r.ref, r.latency_ms, r.batch) for r in rows]


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    with (root / _LOCK).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _keep_upload(root: Path, text: str) -> Path:
    from estimator.registry.loader import write_atomic

    folder = root / UPLOADS
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = folder / f"latencies-{stamp}-{digest}.csv"
    write_atomic(path, text)
    return path


def fit_latencies(req: LatenciesRequest, root: Path | None) -> str:
    """The fit as JSON; ``root``: write the profile into that registry folder."""
    from estimator.estimate import default_runtime
    from estimator.report.fewshot_report import few_shot_to_dict
    from estimator.transfer import fit_from_latencies, write_from_latencies

    text = _csv_text(req)
    rows = _read_rows(text)
    runtime = req.runtime or default_runtime(req.hw)
    if root is None:
        fit = fit_from_latencies(
            req.hw,
            [r[0] for r in rows],
            [r[1] for r in rows],
            runtime=runtime,
            batch=[r[2] for r in rows],
            shots=req.shots,
        )
        return json.dumps(few_shot_to_dict(fit, fit.to_profile(), written=None))
    with _locked(root):
        kept = _keep_upload(root, text)
        res = write_from_latencies(
            req.hw, kept, runtime=runtime, shots=req.shots, out_registry=root
        )
    written = str(res.path.relative_to(root))
    return json.dumps(few_shot_to_dict(res.fit, res.profile, written=written))
