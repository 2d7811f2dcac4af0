"""Property-based fuzzing of API v1 against its own OpenAPI document (schemathesis).

Schemathesis reads ``/openapi.json`` from the session's real ``estimate-server`` and sends
requests built from it, both valid and invalid ones (wrong types, missing fields, values out of
bounds, random multipart files and CSV text), a bounded number per operation. Every answer must
be a deliberate one: never a 5xx, and every error is the one JSON shape
``{"error": {"code", "message"}}`` with a one-line message and no traceback. The examples are
derandomized, so a failure repeats on the next run; the server's log is checked for unhandled
errors by the session fixture (conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ._server import Server

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install -e '.[dev]')"
)
from hypothesis import HealthCheck, settings  # noqa: E402  (schemathesis brings hypothesis)

#: Examples per operation and generation mode: enough to reach every field's bounds and types,
#: few enough that the whole module runs in well under a minute on 2 cores.
MAX_EXAMPLES = 25
#: Per-request timeout: a fuzzed request is cheap (it is refused or names a small model).
TIMEOUT_S = 60.0


def _spec() -> dict[str, Any]:
    """The OpenAPI document, built from the app at collection time (no server needed to
    collect): schemathesis's lazy fixture loader does not run under pytest 9, and
    test_the_fuzzed_document_is_the_servers checks it is the document the server serves."""
    from estimator.service.app import create_app
    from estimator.service.config import ServiceConfig

    return create_app(ServiceConfig()).openapi()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)


def test_the_fuzzed_document_is_the_servers(client: httpx.Client) -> None:
    served = client.get("/openapi.json").json()
    assert served == json.loads(json.dumps(SPEC))
    assert len([op for methods in SPEC["paths"].values() for op in methods]) >= 8


def check_answer(response: Any) -> None:
    """No 5xx; an error is ``{"error": {"code": str, "message": one line}}`` as JSON."""
    status = response.status_code
    where = f"{response.request.method} {response.request.url} -> {status}"
    assert status < 500, f"{where}: {response.text[:500]}"
    if status < 400:
        return
    kind = (response.headers.get("content-type") or [""])[0]  # lowercase name -> values
    assert kind.startswith("application/json"), (where, kind)
    doc = json.loads(response.text)
    assert set(doc) == {"error"}, (where, doc)
    err = doc["error"]
    assert set(err) == {"code", "message"}, (where, doc)
    assert isinstance(err["code"], str) and err["code"], (where, doc)
    assert isinstance(err["message"], str) and err["message"], (where, doc)
    assert "\n" not in err["message"] and "Traceback" not in err["message"], (where, doc)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_request_deliberately(case: Any, server: Server) -> None:
    check_answer(case.call(base_url=server.url, timeout=TIMEOUT_S))


def test_a_message_quoting_the_request_stays_one_line(client: httpx.Client) -> None:
    """What the fuzzer found first: an input name with a newline, quoted in a limit's message."""
    r = client.post(
        "/v1/estimate/batch",
        json={"archs": ["|x~0|"], "devices": ["i7-12700K"], "input_shapes": {"a\nb": []}},
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "limit" and "input_shapes.a b" in err["message"], err
