"""Thin wrapper of ``estimator.calibration.cli.calibrate_hardware`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import calibrate_hardware


def main(argv: Sequence[str] | None = None) -> int:
    return calibrate_hardware(argv)


if __name__ == "__main__":
    sys.exit(main())
