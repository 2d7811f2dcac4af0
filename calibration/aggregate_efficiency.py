"""Thin wrapper of ``estimator.calibration.cli.aggregate_efficiency`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import aggregate_efficiency


def main(argv: Sequence[str] | None = None) -> int:
    return aggregate_efficiency(argv)


if __name__ == "__main__":
    sys.exit(main())
