"""Property-based fuzzing of API v1 against its own OpenAPI document (schemathesis).

Schemathesis builds requests from the OpenAPI document, valid ones (positive: the schema's own
examples first, then generated values within every field's bounds) and invalid ones (negative:
wrong types, missing fields, values out of bounds, random multipart files and CSV text), a
bounded number per operation and mode, and they go to the session's real ``estimate-server``.
Every answer must be a deliberate one: never a 5xx, and every error is the one JSON shape
``{"error": {"code", "message"}}`` with a one-line message and no traceback. Examples are
derandomized, so a failure repeats on the next run; the session fixture (conftest.py) also
checks the server's log for unhandled errors.

The tests are parametrized here (one per operation and mode) rather than by schemathesis's pytest
plugin, whose items all get the same node id under pytest 9 and whose fixture loader does not run
there.
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
from hypothesis import HealthCheck, given, settings  # noqa: E402  (schemathesis brings it)

#: Examples per operation and mode: enough to reach every field's bounds and types, few enough
#: that the module runs in well under a minute on 2 cores.
MAX_EXAMPLES = 25
#: Per-request timeout: a fuzzed request is cheap (it is refused or names a small model).
TIMEOUT_S = 60.0
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _spec() -> dict[str, Any]:
    """The OpenAPI document, built from the app at collection time (collecting needs no server);
    test_the_fuzzed_document_is_the_servers checks that it is the document the server serves."""
    from estimator.service.app import create_app
    from estimator.service.config import ServiceConfig

    return create_app(ServiceConfig()).openapi()


SPEC = _spec()
OPERATIONS = [r.ok() for r in schemathesis.openapi.from_dict(SPEC).get_all_operations()]
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
#: (operation, mode): every operation with valid requests; those with a body with invalid ones too
#: (an operation without one, or with a free-text path parameter, has no invalid request).
CASES = [
    pytest.param(op, mode, id=f"{op.label}-{mode.value}")
    for op in OPERATIONS
    for mode in (POSITIVE, NEGATIVE)
    if mode is POSITIVE or "requestBody" in SPEC["paths"][op.path][op.method.lower()]
]
#: Methods no route of API v1 takes.
OTHER_METHODS = ["PUT", "PATCH", "DELETE"]


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


def test_the_fuzzed_document_is_the_servers(client: httpx.Client) -> None:
    served = client.get("/openapi.json").json()
    assert served == json.loads(json.dumps(SPEC))
    assert len(OPERATIONS) == sum(len(methods) for methods in SPEC["paths"].values()) >= 8
    assert sum(mode is NEGATIVE for _, mode in (c.values for c in CASES)) == 4  # the POSTs


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_api_answers_every_request_deliberately(operation: Any, mode: Any, server: Server) -> None:
    """Valid or invalid requests of one operation: never a 5xx, errors in the one shape."""
    strategies = [operation.as_strategy(generation_mode=mode)]
    if mode is POSITIVE:  # a request that works, first
        strategies = [*operation.get_strategies_from_examples(), *strategies]
    for strategy in strategies:

        @FUZZ_SETTINGS
        @given(case=strategy)
        def send(case: Any) -> None:
            check_answer(case.call(base_url=server.url, timeout=TIMEOUT_S))

        send()


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_other_methods_and_media_types_are_json_errors(client: httpx.Client, path: str) -> None:
    """What the document does not offer: another method (405), a body of a type no route reads
    (415) or none (415/422), in the same JSON shape."""
    url = path.replace("{hw_id}", "i7-12700K")
    methods = {m.upper() for m in SPEC["paths"][path]}
    for method in [*OTHER_METHODS, *sorted({"GET", "POST"} - methods)]:
        r = client.request(method, url)
        assert r.status_code == 405, (method, url, r.status_code)
        check_answer(schemathesis.Response.from_any(r))
    if "POST" in methods:
        for kind in ("text/plain", "application/xml", ""):
            headers = {"content-type": kind} if kind else {}
            r = client.post(url, content=b"<x/>", headers=headers)
            assert r.status_code in (415, 422), (kind, url, r.status_code, r.text)
            check_answer(schemathesis.Response.from_any(r))


def test_a_message_quoting_the_request_stays_one_line(client: httpx.Client) -> None:
    """What the fuzzer found first: an input name with a newline, quoted in a limit's message."""
    r = client.post(
        "/v1/estimate/batch",
        json={"archs": ["|x~0|"], "devices": ["i7-12700K"], "input_shapes": {"a\nb": []}},
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "limit" and "input_shapes.a b" in err["message"], err
