"""Opening a store written by the schema-1 code upgrades it in place, atomically, nothing lost.

The schema-1 DDL below is frozen: a copy of what ``ResultsStore`` (estimator/measure/store.py)
and ``CalibrationStore`` (estimator/calibration/collect.py, its own unversioned tables in the
same file) created before the calibration tables joined the versioned schema. Do not edit it when
the schema changes again; add the new version's fixture beside it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from estimator.calibration.collect import CalibrationStore
from estimator.errors import InputError
from estimator.measure import ResultsStore
from estimator.measure.store import _MIGRATIONS, SCHEMA_VERSION

V1_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    path TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS machines (
    id INTEGER PRIMARY KEY,
    fingerprint_hash TEXT NOT NULL UNIQUE,
    fingerprint_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    runtime TEXT NOT NULL,
    runtime_version TEXT NOT NULL,
    threads INTEGER,
    batch INTEGER NOT NULL,
    dtype TEXT NOT NULL,
    warmup INTEGER NOT NULL,
    repeats INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('complete', 'interrupted')),
    summary_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS kernel_samples (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_name TEXT NOT NULL,
    op_type TEXT NOT NULL,
    mean_us REAL NOT NULL,
    calls INTEGER NOT NULL,
    source TEXT,
    PRIMARY KEY (run_id, node_name)
);
CREATE INDEX IF NOT EXISTS runs_model ON runs(model_id);
CREATE INDEX IF NOT EXISTS runs_machine ON runs(machine_id);
"""

V1_CALIBRATION_DDL = """
CREATE TABLE IF NOT EXISTS calibration_kernels (
    run_id INTEGER NOT NULL,
    node_name TEXT NOT NULL,
    op_type TEXT NOT NULL,
    source TEXT,
    median_us REAL NOT NULL,
    p10_us REAL NOT NULL,
    mean_us REAL NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (run_id, node_name)
);
CREATE TABLE IF NOT EXISTS calibration_timing (
    run_id INTEGER PRIMARY KEY,
    cpu_median_ms REAL NOT NULL,
    cpu_p10_ms REAL NOT NULL,
    loadavg REAL
)
"""

#: Old fingerprint keys (estimator/measure/fingerprint.py), as the machines rows hold them.
_OLD_FP = {
    "cpu_model": "Intel(R) Xeon(R) Processor",
    "cpu_flags": ["avx", "avx2", "fma", "hypervisor"],
    "cores_logical": 2,
    "cores_physical": 1,
    "arch": "x86_64",
    "host_hash": "0123456789abcdef",
    "governor": None,
    "kernel": "6.1.0",
    "python": "3.11.2",
    "versions": {"onnxruntime": "1.17.0", "torch": None, "numpy": "1.26.4", "onnx": "1.15.0"},
}


def _write_v1(path: Path, *, calibration: bool) -> None:
    """A schema-1 file as the old code left it: WAL, user_version 1, rows in every table."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA foreign_keys = ON")
    c.execute("BEGIN IMMEDIATE")
    for stmt in V1_RESULTS_DDL.split(";"):
        if stmt.strip():
            c.execute(stmt)
    c.execute("INSERT INTO schema_version VALUES (1)")
    c.execute("PRAGMA user_version = 1")
    c.executemany(
        "INSERT INTO models VALUES (?,?,?,?,?)",
        [
            (1, "a" * 64, "sweep__gemm__m8", "/x/sweep__gemm__m8.onnx", 1.5),
            (2, "b" * 64, "zoo__resnet18", None, 2.25),
        ],
    )
    c.execute(
        "INSERT INTO machines VALUES (1, ?, ?)", ("f" * 64, json.dumps(_OLD_FP, sort_keys=True))
    )
    for rid, model, status, threads in ((1, 1, "complete", 1), (2, 2, "interrupted", None)):
        summary = {"stats": {"p50_ms": 0.125 * rid}, "fingerprint": {**_OLD_FP, "threads_used": 1}}
        c.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, model, 1, "onnxruntime", "1.17.0", threads, 1, "float32", 3, 4, 10.0, 11.5,
             status, json.dumps(summary)),
        )  # fmt: skip
        c.executemany(
            "INSERT INTO samples VALUES (?,?,?)",
            [(rid, i, 0.1 * rid + 0.001 * i) for i in range(4)],
        )
        c.executemany(
            "INSERT INTO kernel_samples VALUES (?,?,?,?,?,?)",
            [(rid, "mm0", "MatMul", 12.5, 4, "mm0"), (rid, "Gelu", "Gelu", 1.0, 4, None)],
        )
    c.execute("COMMIT")
    if calibration:  # CalibrationStore's own connection, after ResultsStore had made the file
        for stmt in V1_CALIBRATION_DDL.split(";"):
            c.execute(stmt)
        c.execute("BEGIN IMMEDIATE")
        c.executemany(
            "INSERT OR REPLACE INTO calibration_kernels VALUES (?,?,?,?,?,?,?,?)",
            [
                (1, "mm0", "MatMul", "mm0", 11.0, 10.5, 12.5, 15),
                (1, "Gelu", "Gelu", None, 0.75, 0.5, 1.0, 15),
                (2, "mm0", "MatMul", "mm0", 21.0, 20.5, 22.5, 30),
            ],
        )
        c.executemany(
            "INSERT OR REPLACE INTO calibration_timing VALUES (?,?,?,?)",
            [(1, 0.11, 0.105, 0.5), (2, 0.21, 0.2, None), (99, 1.0, 0.9, 2.0)],  # 99: orphan
        )
        c.execute("COMMIT")
    c.close()


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    c = sqlite3.connect(path)
    tables = [
        r[0]
        for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    out = {t: sorted(c.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    c.close()
    return out


def _schema(path: Path) -> list[tuple[str, str, str]]:
    c = sqlite3.connect(path)
    rows = c.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
    ).fetchall()
    c.close()
    return [(a, b, " ".join(s.split())) for a, b, s in rows]


def _versions(path: Path) -> tuple[int, list[tuple[int]]]:
    c = sqlite3.connect(path)
    out = (
        c.execute("PRAGMA user_version").fetchone()[0],
        c.execute("SELECT version FROM schema_version").fetchall(),
    )
    c.close()
    return out


@pytest.mark.parametrize("calibration", [False, True], ids=["results-file", "calibration-file"])
def test_v1_store_upgrades_in_place(tmp_path: Path, calibration: bool) -> None:
    path = tmp_path / "old.sqlite"
    _write_v1(path, calibration=calibration)
    before = _rows(path)
    assert _versions(path) == (1, [(1,)])

    with ResultsStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        assert store.integrity_ok()
        runs = store.runs()
        assert [(r.id, r.status, r.threads, r.model_path) for r in runs] == [
            (1, "complete", 1, "/x/sweep__gemm__m8.onnx"),
            (2, "interrupted", None, None),
        ]
        assert store.machine("f" * 64) == _OLD_FP
        assert store.samples(2) == [0.2, 0.201, 0.202, 0.203]
    assert _versions(path) == (2, [(2,)])

    after = _rows(path)
    for table, rows in before.items():  # every old row, same values
        assert after[table] == (rows if table != "schema_version" else [(2,)]), table
    assert set(after) - set(before) <= {"calibration_kernels", "calibration_timing"}
    if not calibration:
        assert after["calibration_kernels"] == after["calibration_timing"] == []
    # the upgraded file has the schema a new file gets, foreign keys included
    fresh = tmp_path / "fresh.sqlite"
    ResultsStore(fresh).close()
    assert _schema(path) == _schema(fresh)
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA foreign_key_list(calibration_kernels)").fetchall()
    c.close()

    # a second open is a no-op: nothing written, same bytes
    data = path.read_bytes()
    with ResultsStore(path) as store:
        assert store.schema_version == 2
        assert store._conn.total_changes == 0
    assert path.read_bytes() == data
    assert _rows(path) == after


def test_v1_calibration_file_reads_through_calibration_store(tmp_path: Path) -> None:
    path = tmp_path / "calibration-v2.sqlite"
    _write_v1(path, calibration=True)
    with CalibrationStore(path) as store:
        (run,) = store.calibration_runs(1)  # run 2 is interrupted, at default threads
        assert store.has("a" * 64, 1) and not store.has("b" * 64, None)
        assert store.results.calibration_node_count(2) == 1
        timing = store.results.calibration_timing(2)
        assert timing is not None and timing.loadavg is None
        assert store.results.calibration_timing(99) is not None  # kept, orphan or not
    assert run.run_id == 1 and run.model_name == "sweep__gemm__m8"
    assert [(n.node_name, n.median_us, n.p10_us, n.runs) for n in run.nodes] == [
        ("Gelu", 0.75, 0.5, 15),
        ("mm0", 11.0, 10.5, 15),
    ]
    assert (run.median_ms, run.cpu_median_ms, run.cpu_p10_ms, run.loadavg) == (
        0.125,
        0.11,
        0.105,
        0.5,
    )
    assert math.isclose(run.p10_ms, 0.1003)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    path = tmp_path / "old.sqlite"
    _write_v1(path, calibration=True)
    before, schema = _rows(path), _schema(path)
    real = _MIGRATIONS[1]

    def step_then_fail(c: sqlite3.Connection) -> None:
        real(c)  # the tables are rebuilt, then the upgrade dies before it commits
        raise error("disk on fire")

    monkeypatch.setitem(_MIGRATIONS, 1, step_then_fail)
    with pytest.raises((InputError, error)):
        ResultsStore(path)
    assert _versions(path) == (1, [(1,)])
    assert _rows(path) == before and _schema(path) == schema
    monkeypatch.setitem(_MIGRATIONS, 1, real)
    with ResultsStore(path) as store:
        assert store.schema_version == 2


def test_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    ResultsStore(path).close()
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(InputError, match="newer than this tool"):
        ResultsStore(path)
