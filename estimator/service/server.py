"""Run the app under uvicorn: one process, or ``workers`` processes sharing the port.

Worker processes import :func:`app_from_env`, which rebuilds the configuration from
:data:`~estimator.service.config.CONFIG_ENV`; ``ESTIMATOR_REGISTRY`` gets the server's registry
first, so every library call (estimates, ``/v1/hardware``, fits) sees the devices written there.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from estimator.service.config import CONFIG_ENV, ServiceConfig


def app_from_env() -> FastAPI:
    from estimator.service.app import create_app

    return create_app(ServiceConfig.from_env())


def serve(config: ServiceConfig, *, host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    if config.registry:
        rest = os.environ.get("ESTIMATOR_REGISTRY", "")
        os.environ["ESTIMATOR_REGISTRY"] = os.pathsep.join(p for p in (config.registry, rest) if p)
    os.environ[CONFIG_ENV] = config.to_env()
    config.read_token()  # a bad token file fails here, once, not in every worker
    uvicorn.run(
        "estimator.service.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
