"""What a server instance is allowed to do: limits, caches, the registry and its token.

One frozen value built by ``estimate-server`` from its flags. With ``--workers N`` every worker
process rebuilds it from the environment variable :data:`CONFIG_ENV` (the token itself is never
put there: each worker reads the token file).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from estimator.errors import InputError
from estimator.safe_read import read_regular

#: Environment variable that carries the configuration to uvicorn's worker processes.
CONFIG_ENV = "ESTIMATOR_SERVICE_CONFIG"
_MIB = 1 << 20
#: A token file is a line of text; anything bigger is not one.
_MAX_TOKEN_FILE = 4096
#: Shortest token accepted: a short secret is guessable by anyone who can reach the server.
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    #: Registry folder the server reads first and writes calibrations into (None: read the
    #: usual registries, writes refused).
    registry: str | None = None
    #: Largest request body accepted; bigger ones are answered 413 before they are read.
    max_upload_bytes: int = 256 * _MIB
    #: File holding the bearer token that allows registry writes (None: writes refused).
    token_file: str | None = None
    #: Memory cap of the parsed-model cache (approximate retained bytes of the parsed graphs).
    cache_bytes: int = 512 * _MIB
    #: Most models the parsed-model cache holds, whatever their size.
    cache_entries: int = 256
    #: Wall-clock limit of one parse or estimate; past it the request is answered 503.
    time_limit_s: float = 30.0
    #: Most nodes a model may have (counted in the upload before parsing, and after).
    max_nodes: int = 100_000
    #: Most models (arch strings + model references) in one batch request.
    max_batch: int = 100_000
    #: Most devices in one request.
    max_devices: int = 32
    #: Largest batch size and largest input dimension a request may ask for.
    max_batch_size: int = 4096
    max_dim: int = 1 << 20
    #: Threads that parse uploads and estimate (requests wait for a free one).
    workers_threads: int = 2
    #: Origins allowed by CORS; empty: CORS off (no CORS headers are sent).
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServiceConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            return cls()
        data = json.loads(raw)
        data["cors_origins"] = tuple(data.get("cors_origins", ()))
        return cls(**data)

    def read_token(self) -> str | None:
        """The registry-write token from ``token_file`` (stripped), or None without one."""
        if self.token_file is None:
            return None
        data = read_regular(self.token_file, what="token file", limit=_MAX_TOKEN_FILE)
        try:
            token = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(f"{self.token_file}: token file is not UTF-8 text") from None
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise InputError(
                f"{self.token_file}: the token must be one word of at least {MIN_TOKEN_CHARS} "
                "characters"
            )
        return token

    def write_root(self) -> Path | None:
        return None if self.registry is None else Path(self.registry)
