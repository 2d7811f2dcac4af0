"""SQLite results store: every measured run, its raw samples and kernel times, by model and machine.

Raw samples are kept (not only summaries) so calibration can re-derive any statistic later. The
store is safe for several writers at once (WAL, a busy timeout, ``BEGIN IMMEDIATE``) and each run
is written in one transaction: a failure or Ctrl-C during the write leaves no trace of the run.

The same file holds calibration's per-node statistics (``calibration_kernels``) and its per-run
CPU times (``calibration_timing``), under the same versioned schema; ``estimator.calibration.collect
.CalibrationStore`` is a view over this class. Opening a file of an older schema upgrades it in
place, in one transaction. Schema: docs/design/measurement.md.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from estimator.errors import InputError
from estimator.host import fingerprint_hash
from estimator.measure.profile import KernelTime

#: 1: runs, samples, kernel_samples (calibration kept its own unversioned tables beside them).
#: 2: calibration_kernels and calibration_timing join the schema, keyed to runs.
SCHEMA_VERSION = 2
#: How long a writer waits for another writer's lock before failing (ms).
BUSY_TIMEOUT_MS = 60_000

#: Fingerprint keys that belong to a run, not to the machine row (they stay in summary_json).
PER_RUN_KEYS = frozenset({"threads_used"})

_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS calibration_kernels (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
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
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    cpu_median_ms REAL NOT NULL,
    cpu_p10_ms REAL NOT NULL,
    loadavg REAL
);
"""

#: Tables a migration rebuilds when their stored definition differs from :data:`_SCHEMA` (SQLite
#: cannot add a foreign key to an existing table): the calibration tables, which schema 1 files
#: written by calibration hold without foreign keys.
_REBUILT = ("calibration_kernels", "calibration_timing")


def _statements(schema: str) -> list[str]:
    return [s.strip() for s in schema.split(";") if s.strip()]


def _table_ddl(name: str) -> str:
    """This table's ``CREATE TABLE`` from :data:`_SCHEMA`, without ``IF NOT EXISTS``."""
    for stmt in _statements(_SCHEMA):
        if stmt.startswith(f"CREATE TABLE IF NOT EXISTS {name} "):
            return stmt.replace("IF NOT EXISTS ", "", 1)
    raise KeyError(name)


def _migrate_1_to_2(c: sqlite3.Connection) -> None:
    """Put the calibration tables in the schema: create them, or rebuild the ones calibration
    made (same columns, no foreign keys) with every row copied, column by column."""
    for name in _REBUILT:
        row = c.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        ddl = _table_ddl(name)
        if row is None:
            c.execute(ddl)
            continue
        if " ".join(row[0].split()) == " ".join(ddl.split()):
            continue
        cols = [r[1] for r in c.execute(f"PRAGMA table_info({name})")]
        # the new table is created under its own name, so sqlite_master holds exactly ``ddl``
        c.execute(f"ALTER TABLE {name} RENAME TO _old_{name}")
        c.execute(ddl)
        col_list = ", ".join(cols)
        c.execute(f"INSERT INTO {name} ({col_list}) SELECT {col_list} FROM _old_{name}")
        c.execute(f"DROP TABLE _old_{name}")


#: version -> the step that upgrades a store of that version to the next.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}


@dataclass(frozen=True, slots=True)
class NodeStat:
    """Per-run time of one profiled node over the profiled runs (microseconds); one row of
    ``calibration_kernels``."""

    node_name: str
    op_type: str
    source: str | None
    median_us: float
    p10_us: float
    mean_us: float
    runs: int


@dataclass(frozen=True, slots=True)
class Timing:
    """Calling-thread CPU time per run (ms) and the 1-minute load average while measuring; one
    row of ``calibration_timing``."""

    cpu_median_ms: float
    cpu_p10_ms: float
    loadavg: float | None


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs`` joined with its model and machine."""

    id: int
    model_hash: str
    model_name: str
    model_path: str | None
    machine_hash: str
    runtime: str
    runtime_version: str
    threads: int | None
    batch: int
    dtype: str
    warmup: int
    repeats: int
    started_at: float
    finished_at: float
    status: str
    summary: dict[str, Any]


def default_db_path() -> Path:
    """``$ESTIMATOR_DB``, else ``$XDG_CACHE_HOME`` (or ~/.cache)/roofline-estimator/results.sqlite.

    One file per user, so runs from every project on this machine accumulate in one place.
    """
    env = os.environ.get("ESTIMATOR_DB")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "roofline-estimator" / "results.sqlite"


def _ours(folder: Path) -> bool:
    """The per-user store folder (``~/.cache/roofline-estimator``), which the docs' ``--db``
    paths live in and which a fresh machine does not have yet."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return os.path.abspath(folder) == os.path.abspath(Path(cache) / "roofline-estimator")


class ResultsStore:
    """Append-only store of measured runs; open one per process (connections are not shared)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if path is not None and not self.path.parent.is_dir() and not _ours(self.path.parent):
            # only the per-user store folder is created: a typo in --db made folders anywhere
            raise InputError(
                f"{self.path}: cannot open results store: folder {self.path.parent} does not "
                "exist (create it first)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InputError(f"{self.path}: cannot open results store: {exc}") from exc
        try:
            self._init_schema()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise InputError(f"{self.path}: cannot open results store: {exc}") from exc
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` takes the write lock up front, so waiting happens in the busy
        handler instead of failing later on a lock upgrade; any exception rolls everything back."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _init_schema(self) -> None:
        """Create the schema in a new file, or upgrade an older one in place: every step from
        its version to :data:`SCHEMA_VERSION` in one transaction, so a failure (or a Ctrl-C)
        leaves the file as it was. A file at the current version is not written to."""
        version = self.schema_version
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: results store has schema {version}, newer than this tool "
                f"({SCHEMA_VERSION}); upgrade roofline-estimator"
            )
        # A rebuilt table is dropped while other tables may still point at it: foreign keys are
        # checked after the steps instead (the pragma is a no-op inside a transaction).
        self._conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._transaction() as c:
                version = self.schema_version  # another process may have upgraded it meanwhile
                if version == SCHEMA_VERSION:
                    return
                if version == 0:  # a new file: the whole schema, then the steps after 1,
                    for stmt in _statements(_SCHEMA):  # which leave what it made as it is
                        c.execute(stmt)
                    version = 1
                while version < SCHEMA_VERSION:
                    _MIGRATIONS[version](c)
                    version += 1
                c.execute("DELETE FROM schema_version")
                c.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            self._conn.execute("PRAGMA foreign_keys = ON")

    # -- writing ---------------------------------------------------------------------------
    def record(self, m: Any) -> int:
        """Insert one :class:`~estimator.measure.api.Measurement` with its samples; its run id."""
        fp_hash = fingerprint_hash(m.fingerprint)
        machine_fp = {k: v for k, v in m.fingerprint.items() if k not in PER_RUN_KEYS}
        summary = json.dumps(m.summary_dict(), sort_keys=True, allow_nan=True)
        with self._transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO models(content_hash, name, path, created) VALUES (?,?,?,?)",
                (m.model_hash, m.model_name, m.model_path, time.time()),
            )
            model_id = c.execute(
                "SELECT id FROM models WHERE content_hash = ?", (m.model_hash,)
            ).fetchone()[0]
            c.execute(
                "INSERT OR IGNORE INTO machines(fingerprint_hash, fingerprint_json) VALUES (?,?)",
                (fp_hash, json.dumps(machine_fp, sort_keys=True)),
            )
            machine_id = c.execute(
                "SELECT id FROM machines WHERE fingerprint_hash = ?", (fp_hash,)
            ).fetchone()[0]
            cur = c.execute(
                "INSERT INTO runs(model_id, machine_id, runtime, runtime_version, threads, batch,"
                " dtype, warmup, repeats, started_at, finished_at, status, summary_json)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    model_id,
                    machine_id,
                    m.runtime,
                    m.runtime_version,
                    m.threads,
                    m.batch,
                    m.dtype,
                    m.warmup,
                    m.repeats,
                    m.started_at,
                    m.finished_at,
                    m.status,
                    summary,
                ),
            )
            run_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO samples(run_id, idx, latency_ms) VALUES (?,?,?)",
                ((run_id, i, float(v)) for i, v in enumerate(m.samples_ms)),
            )
            c.executemany(
                "INSERT INTO kernel_samples(run_id, node_name, op_type, mean_us, calls, source)"
                " VALUES (?,?,?,?,?,?)",
                (
                    (run_id, k.node_name, k.op_type, k.mean_us, k.calls, k.source)
                    for k in m.kernel_times
                ),
            )
        return run_id

    def record_calibration(
        self, run_id: int, nodes: Iterable[NodeStat], timing: Timing | None = None
    ) -> None:
        """Store calibration's per-node statistics (and CPU timing) of run ``run_id``, replacing
        what it had, in one transaction."""
        with self._transaction() as c:
            if timing is not None:
                c.execute(
                    "INSERT OR REPLACE INTO calibration_timing(run_id, cpu_median_ms, cpu_p10_ms,"
                    " loadavg) VALUES (?,?,?,?)",
                    (run_id, timing.cpu_median_ms, timing.cpu_p10_ms, timing.loadavg),
                )
            c.executemany(
                "INSERT OR REPLACE INTO calibration_kernels(run_id, node_name, op_type, source,"
                " median_us, p10_us, mean_us, runs) VALUES (?,?,?,?,?,?,?,?)",
                (
                    (
                        run_id,
                        s.node_name,
                        s.op_type,
                        s.source,
                        s.median_us,
                        s.p10_us,
                        s.mean_us,
                        s.runs,
                    )
                    for s in nodes
                ),
            )

    # -- reading ---------------------------------------------------------------------------
    def runs(
        self, model: str | None = None, runtime: str | None = None, machine: str | None = None
    ) -> list[RunRecord]:
        """Runs in id order. ``model`` matches name, path or content hash (or a hash prefix of 8+
        characters); ``machine`` matches a fingerprint hash or its prefix."""
        sql = (
            "SELECT r.id, mo.content_hash, mo.name, mo.path, ma.fingerprint_hash, r.runtime,"
            " r.runtime_version, r.threads, r.batch, r.dtype, r.warmup, r.repeats, r.started_at,"
            " r.finished_at, r.status, r.summary_json FROM runs r"
            " JOIN models mo ON mo.id = r.model_id JOIN machines ma ON ma.id = r.machine_id"
        )
        where: list[str] = []
        args: list[Any] = []
        if model is not None:
            where.append("(mo.name = ? OR mo.path = ? OR mo.content_hash LIKE ?)")
            args += [model, model, f"{model}%" if len(model) >= 8 else model]
        if runtime is not None:
            where.append("r.runtime = ?")
            args.append(runtime)
        if machine is not None:
            where.append("ma.fingerprint_hash LIKE ?")
            args.append(f"{machine}%")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn.execute(sql + " ORDER BY r.id", args).fetchall()
        return [_record(row) for row in rows]

    def samples(self, run_id: int) -> list[float]:
        rows = self._conn.execute(
            "SELECT latency_ms FROM samples WHERE run_id = ? ORDER BY idx", (run_id,)
        )
        return [float(r[0]) for r in rows]

    def kernel_samples(self, run_id: int) -> list[KernelTime]:
        rows = self._conn.execute(
            "SELECT node_name, op_type, mean_us, calls, source FROM kernel_samples"
            " WHERE run_id = ? ORDER BY mean_us DESC, node_name",
            (run_id,),
        )
        return [KernelTime(str(a), str(b), float(c), int(d), e) for a, b, c, d, e in rows]

    def calibration_nodes(self, run_id: int) -> list[NodeStat]:
        """Calibration's per-node statistics of a run, in node-name order (empty: none)."""
        rows = self._conn.execute(
            "SELECT node_name, op_type, source, median_us, p10_us, mean_us, runs"
            " FROM calibration_kernels WHERE run_id = ? ORDER BY node_name",
            (run_id,),
        )
        return [NodeStat(*row) for row in rows]

    def calibration_node_count(self, run_id: int) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM calibration_kernels WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0])

    def calibration_timing(self, run_id: int) -> Timing | None:
        row = self._conn.execute(
            "SELECT cpu_median_ms, cpu_p10_ms, loadavg FROM calibration_timing WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return Timing(*row) if row else None

    def machine(self, fingerprint_hash_: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT fingerprint_json FROM machines WHERE fingerprint_hash = ?",
            (fingerprint_hash_,),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def integrity_ok(self) -> bool:
        return bool(self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # -- export ----------------------------------------------------------------------------
    def export(self, path: str | Path, format: str = "csv") -> int:
        """Write every run to ``path``; returns the number of runs.

        csv: one row per run, run columns plus the flattened statistics (no raw samples).
        json: a list of runs, each with its summary, raw ``samples`` and ``kernels``.
        """
        if format not in ("csv", "json"):
            raise InputError(f"export format must be csv or json, got {format!r}")
        runs = self.runs()
        out = Path(path)
        if format == "json":
            payload = [
                {
                    **_run_columns(r),
                    "summary": r.summary,
                    "samples_ms": self.samples(r.id),
                    "kernels": [k.to_dict() for k in self.kernel_samples(r.id)],
                }
                for r in runs
            ]
            out.write_text(json.dumps(payload, indent=1, allow_nan=True))
            return len(runs)
        rows = [{**_run_columns(r), **(r.summary.get("stats") or {})} for r in runs]
        fields: list[str] = list(_run_columns_names())
        for row in rows:
            fields += [k for k in row if k not in fields]
        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return len(runs)


def _record(row: tuple[Any, ...]) -> RunRecord:
    cols = dict(zip(_run_columns_names(), row[:15], strict=True))
    return RunRecord(**cols, summary=json.loads(row[15]))


def _run_columns(r: RunRecord) -> dict[str, Any]:
    d = asdict(r)
    d.pop("summary")
    return d


def _run_columns_names() -> tuple[str, ...]:
    return tuple(f for f in RunRecord.__dataclass_fields__ if f != "summary")
