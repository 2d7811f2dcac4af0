"""The bearer token that guards registry writes, compared in constant time."""

from __future__ import annotations

import hmac

from estimator.service.errors import ServiceError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="estimator registry"'}


def require_token(authorization: str | None, token: str | None, *, can_write: bool) -> None:
    """Return if ``authorization`` carries the server's token; else 401 (no credentials) or 403
    (wrong token, or this server accepts no writes)."""
    if not can_write or token is None:
        raise ServiceError(
            403,
            "writes_disabled",
            "this server does not change its registry (start it with --registry DIR and "
            "--token-file FILE)",
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ServiceError(
            401, "unauthorized", "registry writes need 'Authorization: Bearer <token>'", _CHALLENGE
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ServiceError(403, "forbidden", "the bearer token is not this server's")
