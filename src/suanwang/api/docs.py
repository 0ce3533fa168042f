"""The API documentation pages, served without any CDN, open or behind a token.

``/docs`` (Swagger UI), ``/redoc`` (ReDoc) and ``/openapi.json`` follow the ``docs`` setting:
``public`` serves them to anyone, ``token`` to any valid bearer token (any role), ``off`` not
at all. The pages' scripts, styles and icon come from the ``fastapi-offline`` package, served
under ``/docs-assets``, so the pages work on a machine with no way out to the Internet.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from suanwang.api.auth import ANY_ROLE, allow

DocsMode = Literal["public", "token", "off"]

ASSETS_PATH = "/docs-assets"
"""Where the documentation pages' scripts and styles are served (always without a token)."""

OPENAPI_PATH = "/openapi.json"


def assets_dir() -> Path:
    """Swagger UI and ReDoc as shipped in the ``fastapi_offline`` package."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, mode: DocsMode) -> None:
    """Add the documentation routes to ``app`` (created with every docs URL set to None)."""
    if mode == "off":
        return
    guard = [] if mode == "public" else [Depends(allow(*ANY_ROLE))]
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None,
        )

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
