"""Thin wrapper of the ``aggregate-efficiency`` console script (run with --help).

The code is :mod:`estimator.cli.aggregate_efficiency`.
"""

from __future__ import annotations

import sys

from estimator.cli.aggregate_efficiency import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
