"""The web page at ``/`` and an offline ``/docs``: files shipped in the package, no logic.

The page (``static/index.html``, ``app.js``, ``app.css``) is plain HTML/CSS/JS that calls API v1
from the browser (``GET /v1/hardware``, ``POST /v1/estimate``) and draws its charts as inline SVG,
so the page holds no estimator logic; the server only fills the zoo's model names and the runtimes
into the HTML. ``/docs`` is FastAPI's Swagger UI with its JavaScript and CSS served from the
``fastapi-offline`` package instead of a CDN, because the server may run where no CDN can be
reached. Neither page fetches anything from outside the server, and the page tells the browser so
with a Content-Security-Policy that allows only this origin.
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

#: The page's files (package data, see pyproject.toml).
STATIC = Path(__file__).with_name("static")
#: Where the page's files and Swagger UI's are served.
STATIC_URL = "/static"
SWAGGER_URL = "/docs-assets"
#: Only this origin: scripts, styles, images (and data: URLs), API calls, form posts.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def swagger_assets() -> Path:
    """The folder of Swagger UI's bundle and CSS inside the installed ``fastapi-offline``."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def _options(names: list[str]) -> str:
    return "\n".join(f'<option value="{html.escape(n)}">{html.escape(n)}</option>' for n in names)


@functools.cache
def index_html() -> str:
    """``static/index.html`` with the zoo's model names and the runtimes as the pickers'
    options (the names the library accepts; nothing else is filled in)."""
    from estimator import zoo
    from estimator.partition import runtime_names

    text = (STATIC / "index.html").read_text(encoding="utf-8")
    for mark, names in (("ZOO_OPTIONS", zoo.names()), ("RUNTIME_OPTIONS", runtime_names())):
        if f"<!--{mark}-->" not in text:
            raise RuntimeError(f"{STATIC / 'index.html'} has no <!--{mark}--> mark")
        text = text.replace(f"<!--{mark}-->", _options(list(names)))
    return text


def install(app: FastAPI, title: str) -> None:
    """Routes ``/``, ``/docs`` and the two static folders (create the app with docs_url=None)."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="static")
    app.mount(SWAGGER_URL, StaticFiles(directory=swagger_assets()), name="swagger-ui")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html(), headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API v1",
            swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
