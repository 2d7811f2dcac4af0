"""The SQLite results store: round trip, concurrent writers, interrupted runs, export."""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from estimator.host import machine_fingerprint
from estimator.measure import Measurement, ResultsStore, default_db_path, measure
from estimator.measure.profile import KernelTime
from estimator.measure.stats import summarize
from estimator.measure.store import SCHEMA_VERSION

FP = machine_fingerprint()


def _measurement(seed: int, n: int = 25, status: str = "complete") -> Measurement:
    samples = np.random.default_rng(seed).lognormal(0.0, 0.2, size=n)
    return Measurement(
        samples_ms=samples,
        summary=summarize(samples, 2),
        fingerprint=FP,
        model_hash=hashlib.sha256(f"model{seed % 3}".encode()).hexdigest(),
        model_name=f"model{seed % 3}",
        model_path=None,
        runtime="onnxruntime",
        runtime_version="1.0",
        threads=2,
        batch=2,
        dtype="float32",
        warmup=5,
        started_at=1.0,
        finished_at=2.0,
        status=status,
        kernel_times=[KernelTime("conv0", "Conv", 12.5, n), KernelTime("relu0", "Relu", 1.5, n)],
    )


def _tiny_onnx(path: Path) -> Path:
    node = helper.make_node("Tanh", ["x"], ["y"], name="tanh0")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)
    return path


def test_round_trip(tmp_path: Path) -> None:
    m = _measurement(1)
    m.fingerprint = {**FP, "threads_used": 2}
    with ResultsStore(tmp_path / "r.sqlite") as store:
        rid = store.record(m)
        (run,) = store.runs()
        assert run.id == rid and run.status == "complete"
        assert run.model_name == "model1" and run.repeats == 25 and run.threads == 2
        assert store.samples(rid) == [float(v) for v in m.samples_ms]  # bit-identical floats
        assert store.kernel_samples(rid) == m.kernel_times
        assert run.summary["stats"]["p50_ms"] == pytest.approx(float(np.median(m.samples_ms)))
        assert store.machine(run.machine_hash) == json.loads(json.dumps(FP))  # no threads_used
        assert run.summary["fingerprint"]["threads_used"] == 2
        assert store.integrity_ok()


def test_queries_and_dedup(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "r.sqlite") as store:
        for seed in range(6):
            store.record(_measurement(seed))
        assert len(store.runs()) == 6
        assert [r.model_name for r in store.runs(model="model1")] == ["model1", "model1"]
        prefix = hashlib.sha256(b"model1").hexdigest()[:10]
        assert [r.model_name for r in store.runs(model=prefix)] == ["model1", "model1"]
        assert store.runs(runtime="torch") == []
        assert len(store.runs(machine=store.runs()[0].machine_hash[:8])) == 6
        conn = sqlite3.connect(store.path)
        assert conn.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 3
        assert conn.execute("SELECT COUNT(*) FROM machines").fetchone()[0] == 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _writer(path: str, offset: int) -> None:
    with ResultsStore(path) as store:
        for i in range(20):
            store.record(_measurement(offset + i))


def test_two_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    # fork: the writers only touch sqlite, and fork skips re-importing numpy/scipy per child
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, k * 100)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with ResultsStore(path) as store:
        runs = store.runs()
        assert len(runs) == 40
        assert all(len(store.samples(r.id)) == 25 for r in runs)
        assert store.integrity_ok()


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    bad = _measurement(3)
    bad.samples_ms[7] = np.nan  # NaN binds as NULL and violates NOT NULL mid-transaction
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.record(_measurement(1))
        with pytest.raises(sqlite3.IntegrityError):
            store.record(bad)
        assert len(store.runs()) == 1
        conn = sqlite3.connect(store.path)
        assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 25
        assert store.integrity_ok()


_CHILD = """
import signal
import sys
from pathlib import Path
# Ctrl-C reaching a measuring process is what is under test, not how the test runner was started:
# a runner started as a background job of a non-interactive shell (``make test &``, some CI
# agents) passes SIGINT down ignored, Python keeps an inherited SIG_IGN, and the SIGINT below
# would never become KeyboardInterrupt (the loop then ran all its repeats: status 'complete').
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
from estimator.measure import ResultsStore, measure
marker = Path(sys.argv[3])
def mark(i, ms):
    if i == 50:
        marker.write_text("started")
m = measure(sys.argv[1], threads=1, warmup=0, repeats=10_000_000, on_sample=mark)
print(ResultsStore(sys.argv[2]).record(m), m.status, m.repeats, flush=True)
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_sigint_mid_measurement_keeps_interrupted_run(tmp_path: Path, inherited: str) -> None:
    # 'ignored': the child starts with SIGINT ignored, as under a runner started in the background
    model = _tiny_onnx(tmp_path / "t.onnx")
    db, marker = tmp_path / "i.sqlite", tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(model), str(db), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        preexec_fn=_ignore_sigint if inherited == "ignored" else None,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    try:  # generous: on a loaded 2-core machine the child may wait long for a core
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"measurement did not stop within 120 s of SIGINT; stderr: {err[-2000:]}")
    assert proc.returncode == 0, err
    run_id, status, n = out.split()
    assert status == "interrupted" and int(n) > 50
    with ResultsStore(db) as store:
        (run,) = store.runs()
        assert run.id == int(run_id) and run.status == "interrupted"
        assert run.repeats == int(n) == len(store.samples(run.id))
        assert store.integrity_ok()


def test_export_csv_and_json(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "r.sqlite") as store:
        ids = [store.record(_measurement(s)) for s in range(3)]
        assert store.export(tmp_path / "o.csv", "csv") == 3
        assert store.export(tmp_path / "o.json", "json") == 3
        samples0 = store.samples(ids[0])
    rows = list(csv.DictReader((tmp_path / "o.csv").open()))
    assert [int(r["id"]) for r in rows] == ids
    assert float(rows[0]["p50_ms"]) == pytest.approx(float(np.median(samples0)))
    data = json.loads((tmp_path / "o.json").read_text())
    assert data[0]["samples_ms"] == samples0
    assert data[0]["kernels"][0]["node_name"] == "conv0"


def test_default_path_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESTIMATOR_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_db_path() == tmp_path / "cache" / "roofline-estimator" / "results.sqlite"
    monkeypatch.setenv("ESTIMATOR_DB", str(tmp_path / "x.sqlite"))
    assert default_db_path() == tmp_path / "x.sqlite"


def test_real_measurement_recorded(tmp_path: Path) -> None:
    m = measure(_tiny_onnx(tmp_path / "t.onnx"), warmup=1, repeats=20, profile=True)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        rid = store.record(m)
        assert store.samples(rid) == m.samples_ms.tolist()
        assert [k.node_name for k in store.kernel_samples(rid)] == ["tanh0"]


def test_documented_schema_matches_code() -> None:
    import re

    from estimator.measure.store import _SCHEMA

    doc = (Path(__file__).resolve().parents[2] / "docs/design/measurement.md").read_text()
    sql = doc.split("```sql", 1)[1].split("```", 1)[0]

    def norm(text: str) -> list[str]:
        text = re.sub(r"--[^\n]*", "", text).replace("IF NOT EXISTS ", "")
        return [" ".join(s.split()).replace("( ", "(").replace(" )", ")") for s in
                text.split(";") if s.strip()]  # fmt: skip

    assert norm(sql) == norm(_SCHEMA)


def test_an_explicit_db_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """--db with a typo created the folders it named, anywhere (issue 15)."""
    from estimator.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        ResultsStore(tmp_path / "no" / "such" / "store.sqlite")
    assert not (tmp_path / "no").exists()
    with ResultsStore(tmp_path / "store.sqlite"):
        pass
