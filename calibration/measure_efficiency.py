"""Thin wrapper of the ``measure-efficiency`` console script (run with --help).

The code is :mod:`estimator.cli.measure_efficiency`.
"""

from __future__ import annotations

import sys

from estimator.cli.measure_efficiency import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
