"""Thin wrapper of ``estimator.calibration.cli.measure_efficiency`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import measure_efficiency


def main(argv: Sequence[str] | None = None) -> int:
    return measure_efficiency(argv)


if __name__ == "__main__":
    sys.exit(main())
