"""One fuzz case's outcome: a result or the project's one-line input error, nothing else.

Every property test runs its case through :func:`check`, which classifies what happened
(``result``, ``input_error``, ``traceback``, ``hang``, ``wrong_exit``), counts it in
:data:`COUNTS`, and fails the test for the last three. ``tests/fuzz/conftest.py`` writes the
counts to ``$FUZZ_REPORT`` at the end of the session (the figures of ``make fuzz``).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hypothesis import HealthCheck, settings

from estimator.errors import InputError

#: Seconds one case may take before it counts as a hang (cases take milliseconds).
CASE_TIMEOUT_S = int(os.environ.get("FUZZ_CASE_TIMEOUT_S", "30"))

COUNTS: Counter[str] = Counter()
#: Per test: how many cases it ran (the report's table).
PER_TEST: Counter[str] = Counter()
STARTED = time.monotonic()

#: Examples per property test: the bounded run of ``make test`` sizes each test so the suite
#: runs >= 1,000 cases in well under a minute on one core; ``make fuzz`` sets FUZZ_EXAMPLES.
_LONG = int(os.environ.get("FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "fuzz-bounded",
    deadline=None,
    derandomize=True,  # the bounded run is reproducible: a failure names a case CI can replay
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("fuzz-bounded"),
    derandomize=False,
)


def fuzz_settings(bounded_examples: int, share: float) -> settings:
    """Settings of one property test: ``bounded_examples`` in ``make test``; in the long run
    (FUZZ_EXAMPLES=N), ``share`` of N."""
    if _LONG:
        return settings(settings.get_profile("fuzz-long"), max_examples=max(1, int(_LONG * share)))
    return settings(settings.get_profile("fuzz-bounded"), max_examples=bounded_examples)


class Hang(Exception):
    """A case ran past CASE_TIMEOUT_S."""


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise Hang()

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _record(test: str, kind: str) -> None:
    COUNTS[kind] += 1
    PER_TEST[test] += 1


def check(test: str, fn: Callable[[], Any], *, what: str = "") -> Any:
    """Run one in-process case: its value, or None if it was refused with a one-line
    InputError. A hang or any other exception fails the test (after being counted)."""
    try:
        with _alarm(CASE_TIMEOUT_S):
            value = fn()
    except Hang:
        _record(test, "hang")
        raise AssertionError(f"{test}: hang (> {CASE_TIMEOUT_S} s) on {what}") from None
    except InputError as exc:
        msg = str(exc)
        if "\n" in msg or not msg.strip():
            _record(test, "wrong_exit")
            raise AssertionError(f"{test}: input error not one line: {msg!r} on {what}") from exc
        _record(test, "input_error")
        return None
    except Exception:
        _record(test, "traceback")
        raise
    _record(test, "result")
    return value


def check_cli(
    test: str, main: Callable[[Sequence[str]], int | None], script: str, argv: Sequence[str]
) -> tuple[int, str]:
    """A console script's ``main(argv)`` in process: exit 0, or exit 2 with one stderr line
    ``SCRIPT: error: ...`` and no traceback. Anything else is a wrong exit (or a traceback)."""
    err = io.StringIO()
    try:
        with (
            _alarm(CASE_TIMEOUT_S),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            try:
                rc = main(list(argv))
            except SystemExit as exc:
                rc = exc.code  # type: ignore[assignment]
    except Hang:
        _record(test, "hang")
        raise AssertionError(f"{script} {list(argv)!r}: hang") from None
    except Exception:
        _record(test, "traceback")
        raise
    rc = 0 if rc is None else rc
    return _judge(test, script, argv, rc, err.getvalue())


def _judge(test: str, script: str, argv: Sequence[str], rc: object, stderr: str) -> tuple[int, str]:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if "Traceback" in stderr:
        _record(test, "traceback")
        raise AssertionError(f"{script} {list(argv)!r}: traceback\n{stderr[-3000:]}")
    if rc == 0:
        _record(test, "result")
        return 0, stderr
    one_line = len(lines) == 1 and lines[0].startswith(f"{script}: error: ")
    if rc != 2 or not one_line:
        _record(test, "wrong_exit")
        raise AssertionError(f"{script} {list(argv)!r}: exit {rc!r}, stderr {stderr[-2000:]!r}")
    _record(test, "input_error")
    return 2, stderr


def judge_process(test: str, script: str, argv: Sequence[str], rc: int, stderr: str) -> None:
    """The same verdict for a console script run as a separate process."""
    if rc in (-signal.SIGKILL, 124, 137):
        _record(test, "hang")
        raise AssertionError(f"{script} {list(argv)!r}: hang")
    _judge(test, script, argv, rc, stderr)
