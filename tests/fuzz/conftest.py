"""Fuzz suite settings and its report (``$FUZZ_REPORT``: the figures ``make fuzz`` records)."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.fuzz import _outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("FUZZ_REPORT")
    if not path or not _outcome.PER_TEST:
        return
    report = {
        "cases": sum(_outcome.PER_TEST.values()),
        "outcomes": dict(_outcome.COUNTS),
        "per_test": dict(sorted(_outcome.PER_TEST.items())),
        "wall_s": round(time.monotonic() - _outcome.STARTED, 1),
        "pytest_exit": int(exitstatus),
    }
    with open(path, "w") as fh:
        json.dump(report, fh, indent=2)
