"""The HTTP service: the estimator's public API over HTTP (``estimate-server``).

It parses requests, enforces limits and renders the library's own documents; every number comes
from the public API (:mod:`estimator`), so the service answers exactly what ``estimate-latency``
and the Python API answer. See docs/service.md.
"""

from estimator.service.app import create_app
from estimator.service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
