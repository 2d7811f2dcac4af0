"""What every console script shares: the parser, argument types and the error boundary.

The error boundary is the one place where a user's mistake (an :class:`InputError`) becomes one
line on stderr and exit status 2, and where ``--debug`` brings the traceback back.
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from estimator.errors import EstimatorError, InputError
from estimator.safe_read import check_regular

USAGE_EXIT = 2


#: Largest integer a size flag takes (--batch, a dim of --input-shape, --threads, --repeats):
#: ONNX dims are int64 and onnxruntime sizes are 32-bit on some paths; nothing real is bigger.
MAX_INT_ARG = 2**31 - 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: <problem> (see prog --help)``, exit 2.

    The stock parser prints a multi-line usage block before the error; every console script
    promises one line naming the problem.
    """

    def error(self, message: str) -> NoReturn:
        problem = " ".join(message.split())
        self.exit(USAGE_EXIT, f"{self.prog}: error: {problem} (see {self.prog} --help)\n")


def _shown(text: str) -> str:
    """``text`` quoted, shortened when it is long (a 5,000-digit number stays one short line)."""
    return repr(text) if len(text) <= 24 else f"{text[:20]!r}... ({len(text)} characters)"


def _int_arg(text: str, lo: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}") from None
    if value < lo:
        raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}")
    if value > MAX_INT_ARG:
        raise argparse.ArgumentTypeError(f"expected {what} up to {MAX_INT_ARG}, got {_shown(text)}")
    return value


def positive_int(text: str) -> int:
    """An integer in [1, MAX_INT_ARG]."""
    return _int_arg(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """An integer in [0, MAX_INT_ARG]."""
    return _int_arg(text, 0, "a non-negative integer")


def _float_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (``nan`` and ``inf`` are refused)."""
    return _float_arg(text)


def positive_float(text: str) -> float:
    """A finite number > 0 (``nan``, ``inf`` and ``1e999`` are refused: a loop would never end)."""
    value = _float_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float_arg(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A finite number in [0, 1] (a share, a probability)."""
    value = _float_arg(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def name_arg(text: str) -> str:
    """A non-empty name (``--hw ''`` must not quietly mean "no device")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a name, got an empty string")
    return text.strip()


def existing_file(text: str) -> Path:
    """A path to a regular file: a FIFO, a device or a folder is refused before anything opens
    it (``open`` on a FIFO blocks forever)."""
    try:
        check_regular(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


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
    if any(d > MAX_INT_ARG for d in shape):
        raise argparse.ArgumentTypeError(f"dims of {name!r} must be at most {MAX_INT_ARG}")
    return name, shape


def run_guarded(
    body: Callable[[], int], *, debug: bool, prog: str, keeps_measurements: bool = False
) -> int:
    """Run ``body`` and turn expected failures into one line and an exit status.

    ``prog: error: ...`` on stderr and exit 2 for an :class:`InputError`, 1 for any other
    :class:`EstimatorError` (``debug`` prints the traceback first); exit 2 as well for an
    ``OSError`` on a named path (the path and the reason) and for ``MemoryError``; Ctrl-C exits
    130 with ``prog: interrupted`` (``keeps_measurements``: a script that stores each
    measurement as it goes says that those so far are kept).
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
    except OSError as exc:
        # A path the user named that cannot be read or written (a folder where a file belongs,
        # a missing parent, /proc, a full disk): one line naming the path, as for an InputError.
        if exc.filename is None or isinstance(exc, BrokenPipeError):
            raise
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_os_error_line(exc)}", file=sys.stderr)
        return USAGE_EXIT
    except MemoryError:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: out of memory (are the sizes asked for too large?)", file=sys.stderr)
        return USAGE_EXIT
    except BrokenPipeError:
        return 0


def wants_debug(argv: Sequence[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args


def _os_error_line(exc: OSError) -> str:
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return _one_line(OSError(f"{' -> '.join(names)}: {exc.strerror or type(exc).__name__}"))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
