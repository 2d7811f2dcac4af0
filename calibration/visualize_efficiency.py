"""Thin wrapper of the ``visualize-efficiency`` console script (run with --help).

The code is :mod:`estimator.cli.visualize_efficiency`.
"""

from __future__ import annotations

import sys

from estimator.cli.visualize_efficiency import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
