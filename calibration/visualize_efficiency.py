"""Thin wrapper of ``estimator.calibration.cli.visualize_efficiency`` (run with --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from estimator.calibration.cli import visualize_efficiency


def main(argv: Sequence[str] | None = None) -> int:
    return visualize_efficiency(argv)


if __name__ == "__main__":
    sys.exit(main())
