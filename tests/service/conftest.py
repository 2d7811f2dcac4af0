"""One real server per test session (per xdist worker), started by the console script."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ._server import Server, start_server, stop_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("estimate-server"))
    yield s
    stop_server(s)
    assert "unhandled error" not in s.log.read_text()  # no 500 in the whole session


@pytest.fixture()
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c
