"""The web page at ``/`` and the offline ``/docs``, in a real headless browser.

Debian's ``chromium`` (``make test`` installs it where it can: root and apt-get), driven by
Playwright through ``executable_path`` (Playwright's own browser builds are never downloaded).
The page runs against the session's real ``estimate-server``; what it shows is compared with what
``POST /v1/estimate`` answers for the same request. Without chromium the browser tests skip and
say why; the checks that need no browser run regardless.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._server import Server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tiny_convnet.onnx"
#: Screenshots land here (``/out/`` is ignored by git), or under $TEST_ARTIFACTS_DIR.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or REPO / "out" / "test-artifacts")
#: A small zoo network (fast to build) and two devices of different types.
MODEL = "squeezenet1_1"
DEVICES = ["i7-12700K", "h100"]
#: Flags for a root, offline, headless chromium (no background connections to the closed network).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def chromium_path() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


# ---------------------------------------------------------------- without a browser


def test_index_is_the_page_with_a_strict_csp(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert (
        "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    )
    assert '<option value="squeezenet1_1">' in r.text  # the zoo's names, filled in by the server
    assert '<option value="onnxruntime-cpu">' in r.text and "<!--" not in r.text
    # every asset the page names is served by this server, nothing from elsewhere
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(u.startswith(("/", "data:")) for u in refs), refs
    for u in refs:
        if u.startswith("/static/"):
            assert client.get(u).status_code == 200, u


def test_docs_assets_are_local(client: httpx.Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(u.startswith("/") for u in refs), refs
    for u in refs:
        a = client.get(u)
        assert a.status_code == 200 and len(a.content) > 1000, u
    assert "cdn." not in r.text


# ---------------------------------------------------------------- in chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        pytest.skip(
            "chromium not found (PATH or $CHROMIUM): the page's browser tests need Debian's "
            "chromium package; `make test` installs it when run as root with apt-get "
            "(apt-get install -y chromium)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    sync_playwright = sync_api.sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Page:
    """A fresh tab that records every request and every console error."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.server = server
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.page.set_default_timeout(60_000)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, path: str) -> Any:
        self.page.goto(self.server.url + path)
        return self.page

    def check_offline(self) -> None:
        foreign = [u for u in self.requests if not u.startswith(self.server.url + "/")]
        assert not foreign, f"the page fetched from outside the server: {foreign}"
        assert not self.errors, self.errors

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        return path


@pytest.fixture()
def tab(browser: Any, server: Server) -> Iterator[Page]:
    t = Page(browser, server)
    yield t
    t.page.close()


def _submit(page: Any, devices: list[str]) -> None:
    page.wait_for_selector("#devices[data-loaded]")
    for box in page.query_selector_all('#devices input[name="device"]'):
        box.uncheck()
    for d in devices:
        page.check(f'#devices input[value="{d}"]')
    page.click("#submit")
    # the status span is empty (zero-sized, 'hidden' to Playwright) after an error: wait for the
    # attribute, not for visibility
    page.wait_for_selector(
        '#status[data-phase="done"], #status[data-phase="error"]', state="attached"
    )
    assert page.get_attribute("#status", "data-phase") == "done", page.inner_text("#error")


def _check_results(page: Any, docs: list[dict[str, Any]]) -> None:
    """The summary, the kernel table and the charts show these documents, device by device."""
    rows = page.query_selector_all("#summary tbody tr")
    assert [r.get_attribute("data-device") for r in rows] == [d["hardware"] for d in docs]
    for row, doc in zip(rows, docs, strict=True):
        cell = row.query_selector("td.latency")
        assert float(cell.get_attribute("data-latency-ms")) == doc["latency_ms"]
        shown = float(cell.inner_text().removesuffix(" ms"))
        assert math.isclose(shown, doc["latency_ms"], rel_tol=5e-4), (shown, doc["latency_ms"])
        ci = row.query_selector("td.ci")
        assert float(ci.get_attribute("data-ci95-low-ms")) == doc["ci95_low_ms"]
        assert float(ci.get_attribute("data-ci95-high-ms")) == doc["ci95_high_ms"]
    page.select_option("#top-n", "all")
    for i, doc in enumerate(docs):
        if len(docs) > 1:
            page.click(f'#device-tabs button[data-device="{doc["hardware"]}"]')
        kernels = doc["kernels"]
        trs = page.query_selector_all("#kernels tbody tr")
        assert len(trs) == len(kernels), (doc["hardware"], len(trs), len(kernels))
        assert sorted(t.get_attribute("data-kernel") for t in trs) == sorted(
            k["name"] for k in kernels
        )
        times = [float(t.get_attribute("data-time-ms")) for t in trs]
        assert times == sorted((k["time_ms"] for k in kernels), reverse=True), i  # slowest first
        drawable = [k for k in kernels if k["flops"] > 0 and k["bytes"] > 0 and k["time_ms"] > 0]
        assert len(page.query_selector_all("#roofline circle")) == len(drawable)
        cats = page.query_selector_all("#categories g[data-category]")
        by_cat: dict[str, float] = {}
        for k in kernels:
            by_cat[k["category"]] = by_cat.get(k["category"], 0.0) + k["time_ms"]
        assert {c.get_attribute("data-category") for c in cats} == set(by_cat)
        for c in cats:
            got = float(c.get_attribute("data-time-ms"))
            assert math.isclose(got, by_cat[c.get_attribute("data-category")], rel_tol=1e-9)


def test_page_estimates_a_zoo_model_on_two_devices(
    tab: Page, server: Server, client: httpx.Client
) -> None:
    page = tab.open("/")
    page.select_option("#zoo-model", MODEL)
    _submit(page, DEVICES)
    api = client.post("/v1/estimate", json={"model": MODEL, "devices": DEVICES, "dtype": "fp32"})
    assert api.status_code == 200, api.text
    docs = api.json()
    _check_results(page, docs)

    # top-N: the N slowest kernels; a click on a column sorts by it, a second click reverses
    page.click(f'#device-tabs button[data-device="{DEVICES[0]}"]')
    page.select_option("#top-n", "10")
    slowest = sorted(docs[0]["kernels"], key=lambda k: -k["time_ms"])[:10]
    trs = page.query_selector_all("#kernels tbody tr")
    assert [t.get_attribute("data-kernel") for t in trs] == [k["name"] for k in slowest]
    page.click('#kernels th[data-key="name"]')
    names = [t.get_attribute("data-kernel") for t in page.query_selector_all("#kernels tbody tr")]
    assert names == sorted(names)  # code-point order, as app.js sorts text columns
    assert set(names) == {k["name"] for k in slowest}
    page.click('#kernels th[data-key="name"]')
    again = [t.get_attribute("data-kernel") for t in page.query_selector_all("#kernels tbody tr")]
    assert again == names[::-1]
    page.select_option("#top-n", "25")
    tab.screenshot("service-page-zoo.png")
    tab.check_offline()


def test_page_estimates_an_uploaded_onnx_file(
    tab: Page, server: Server, client: httpx.Client
) -> None:
    page = tab.open("/")
    page.check('input[name="source"][value="upload"]')
    page.set_input_files("#onnx-file", str(EXAMPLE))
    _submit(page, ["i7-12700K"])
    api = client.post(
        "/v1/estimate",
        files={"file": (EXAMPLE.name, EXAMPLE.read_bytes(), "application/octet-stream")},
        data={"devices": "i7-12700K", "dtype": "fp32"},
    )
    assert api.status_code == 200, api.text
    doc = api.json()
    assert doc["model"] == "tiny_convnet"
    _check_results(page, [doc])
    assert page.is_hidden("#device-tabs")  # one device: no tabs
    tab.screenshot("service-page-upload.png")
    tab.check_offline()


def test_page_shows_the_servers_error(tab: Page) -> None:
    page = tab.open("/")
    page.check('input[name="source"][value="arch"]')
    page.fill("#arch", "|not_an_op~0|")
    page.wait_for_selector("#devices[data-loaded]")
    page.click("#submit")
    page.wait_for_selector('#status[data-phase="error"]', state="attached")
    text = page.inner_text("#error")
    assert text.startswith("422 ") and "not_an_op" in text, text
    assert page.is_hidden("#results")
    tab.errors = [e for e in tab.errors if "422" not in e]  # the browser logs the failed fetch
    tab.check_offline()


def test_docs_render_offline(tab: Page, client: httpx.Client) -> None:
    page = tab.open("/docs")
    page.wait_for_selector(".opblock")
    spec = client.get("/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert len(page.query_selector_all(".opblock")) == operations
    tab.check_offline()
