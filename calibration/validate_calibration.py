"""Thin wrapper of ``estimator.calibration.cli.validate_calibration`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import validate_calibration


def main(argv: Sequence[str] | None = None) -> int:
    return validate_calibration(argv)


if __name__ == "__main__":
    sys.exit(main())
