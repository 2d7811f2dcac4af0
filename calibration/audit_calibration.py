"""Thin wrapper of the ``audit-calibration`` console script (run with --help).

The code is :mod:`estimator.cli.audit_calibration`.
"""

from __future__ import annotations

import sys

from estimator.cli.audit_calibration import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
