"""Hostile input never gives a traceback, a hang, or a wrong exit (issue 15).

Every case of :mod:`tests.cli._hostile` must end with exit status 2 and exactly one line on
stderr that names the problem, with no ``Traceback``. Cases run in one driver process per console
script, which calls the script's ``main(argv)`` for each (imports paid once) under an alarm, so a
case that would block (``open()`` on a FIFO) fails instead of hanging CI; the driver itself runs
under a subprocess timeout. Each console script is also run once as a user runs it, from the
virtualenv's ``bin``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli import _hostile

#: Seconds a case may take before it counts as a hang (real runs take well under one).
CASE_TIMEOUT_S = 60
SCRIPTS = sorted(
    {
        "estimate-latency",
        "measure-latency",
        "calibrate-hardware",
        "measure-efficiency",
        "aggregate-efficiency",
        "analyze-efficiency-distribution",
        "validate-calibration",
        "visualize-efficiency",
        "audit-calibration",
    }
)

_DRIVER = textwrap.dedent(
    """
    import contextlib, importlib, io, json, signal, sys

    class Hang(Exception):
        pass

    def alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    script, timeout, out = sys.argv[1], int(sys.argv[2]), sys.argv[4]
    cases = json.loads(sys.argv[3])
    main = importlib.import_module("estimator.cli." + script.replace("-", "_")).main
    results = {}
    for case_id, argv in cases:
        err = io.StringIO()
        signal.alarm(timeout)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    rc = main(argv)
                except SystemExit as exc:
                    rc = exc.code
        except Hang:
            rc = "hang"
        except BaseException as exc:
            import traceback
            err.write("Traceback (uncaught)\\n" + traceback.format_exc())
            rc = "exception"
        finally:
            signal.alarm(0)
        results[case_id] = {"rc": rc, "stderr": err.getvalue()}
    with open(out, "w") as fh:
        json.dump(results, fh)
    """
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[_hostile.Case]]:
    root = tmp_path_factory.mktemp("hostile")
    return root, _hostile.build(root)


@pytest.fixture(scope="module")
def results(hostile: tuple[Path, list[_hostile.Case]]) -> dict[str, dict[str, object]]:
    """Every case's exit status and stderr, one driver process per console script."""
    root, cases = hostile
    out: dict[str, dict[str, object]] = {}
    for script in sorted({c.script for c in cases}):
        mine = [(c.id, list(c.args)) for c in cases if c.script == script]
        log = root / f"{script}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _DRIVER,
                script,
                str(CASE_TIMEOUT_S),
                json.dumps(mine),
                str(log),
            ],
            capture_output=True,
            text=True,
            timeout=CASE_TIMEOUT_S * 3 + 60 * len(mine),
            cwd=root,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        for case_id, r in json.loads(log.read_text()).items():
            out[f"{script}:{case_id}"] = r
    return out


def _assert_one_line_error(rc: object, stderr: str, script: str, needle: str) -> None:
    assert rc == 2, f"exit {rc!r}, stderr: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr[-2000:]
    assert lines[0].startswith(f"{script}: error: "), lines[0]
    assert needle in lines[0], lines[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        import tempfile

        # Only the ids and scripts are needed to parametrize: build once into a scratch folder.
        with tempfile.TemporaryDirectory() as tmp:
            table = _hostile.build(Path(tmp))
        metafunc.parametrize("case", table, ids=[f"{c.script}:{c.id}" for c in table])


def test_hostile_case(case: _hostile.Case, results: dict[str, dict[str, object]]) -> None:
    r = results[f"{case.script}:{case.id}"]
    _assert_one_line_error(r["rc"], str(r["stderr"]), case.script, case.needle)


def test_every_console_script_has_cases(hostile: tuple[Path, list[_hostile.Case]]) -> None:
    assert {c.script for c in hostile[1]} == set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_console_script_as_a_user_runs_it(
    script: str, hostile: tuple[Path, list[_hostile.Case]]
) -> None:
    """The installed entry point itself, in a fresh process: its first hostile case."""
    root, cases = hostile
    case = next(c for c in cases if c.script == script)
    exe = Path(sys.executable).parent / script
    assert exe.is_file(), f"{exe}: console script not installed (pip install -e .)"
    proc = subprocess.run(
        [str(exe), *case.args], capture_output=True, text=True, timeout=CASE_TIMEOUT_S, cwd=root
    )
    _assert_one_line_error(proc.returncode, proc.stderr, script, case.needle)
