"""Thin wrapper of the ``analyze-efficiency-distribution`` console script (run with --help).

The code is :mod:`estimator.cli.analyze_efficiency_distribution`.
"""

from __future__ import annotations

import sys

from estimator.cli.analyze_efficiency_distribution import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
