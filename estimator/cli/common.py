"""What every console script shares: argument types and the error boundary.

The error boundary is the one place where a user's mistake (an :class:`InputError`) becomes one
line on stderr and exit status 2, and where ``--debug`` brings the traceback back.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from estimator.errors import EstimatorError, InputError

USAGE_EXIT = 2


def parse_shape_binding(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse ``NAME=1x3x224x224`` (``,`` also separates dims) for ``--input-shape``."""
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not dims:
        raise argparse.ArgumentTypeError(f"expected NAME=1x3x224x224, got {text!r}")
    try:
        shape = tuple(int(d) for d in dims.replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"dims of {text!r} must be integers like 1x3x224x224"
        ) from None
    if any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"dims of {text!r} must be positive")
    return name, shape


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run_guarded(
    body: Callable[[], int], *, debug: bool, prog: str, keeps_measurements: bool = False
) -> int:
    """Run ``body`` and turn expected failures into one line and an exit status.

    ``prog: error: ...`` on stderr and exit 2 for an :class:`InputError`, 1 for any other
    :class:`EstimatorError` (``debug`` prints the traceback first); Ctrl-C exits 130 with
    ``prog: interrupted`` (``keeps_measurements``: a script that stores each measurement as it
    goes says that those so far are kept).
    """
    try:
        return body()
    except KeyboardInterrupt:
        kept = " (measurements so far are kept)" if keeps_measurements else ""
        print(f"{prog}: interrupted{kept}", file=sys.stderr)
        return 130
    except InputError as exc:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except EstimatorError as exc:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


def wants_debug(argv: Sequence[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
