"""Thin wrapper of the ``probe-hardware`` console script (run with --help).

The code is :mod:`estimator.cli.probe_hardware`.
"""

from __future__ import annotations

import sys

from estimator.cli.probe_hardware import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
