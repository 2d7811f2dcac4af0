"""Thin wrapper of ``estimator.calibration.cli.analyze_efficiency_distribution``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import analyze_efficiency_distribution


def main(argv: Sequence[str] | None = None) -> int:
    return analyze_efficiency_distribution(argv)


if __name__ == "__main__":
    sys.exit(main())
