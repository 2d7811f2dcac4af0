"""Thin wrapper of ``estimator.calibration.cli.audit_calibration`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import audit_calibration


def main(argv: Sequence[str] | None = None) -> int:
    return audit_calibration(argv)


if __name__ == "__main__":
    sys.exit(main())
