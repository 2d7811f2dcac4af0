"""Error types that separate the user's mistakes from our bugs.

Anything derived from :class:`InputError` is a problem with what the user gave us (a file, a flag,
a shape): the CLI prints its message as one line and exits with status 2, no traceback unless
``--debug``. Everything else is a bug and is allowed to raise.
"""

from __future__ import annotations


class EstimatorError(Exception):
    """Base class of every error the estimator raises on purpose."""


class InputError(EstimatorError):
    """A problem with user input; the message names the file, field or row."""

    exit_code = 2


class ModelLoadError(InputError):
    """The model file is missing, unreadable, not a model, or uses an unsupported opset."""


class UnboundDimError(InputError):
    """Symbolic dimensions remain and no ``--input-shape`` / ``--batch`` binds them."""


class UnsupportedOpError(InputError):
    """Raised in ``strict`` mode when the model contains ops the cost model does not know."""


class RegistryError(InputError):
    """A hardware registry file is missing, malformed, or fails its schema."""
