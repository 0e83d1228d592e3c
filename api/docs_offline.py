"""/docs (Swagger UI) and /redoc with their scripts and styles served by the application itself.

FastAPI's own pages load them from a CDN and are blank offline; the assets here come from the
``fastapi-offline`` package (Swagger UI and ReDoc builds shipped in its wheel), mounted under
``/static/docs``. Nothing the pages load leaves the server: ReDoc's bundle shows Redocly's logo
from their CDN in its menu, so it is served with that address pointed at the local favicon, and
Swagger UI's online validator badge is off.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DOCS_URL", "install_offline_docs"]

STATIC_DOCS_URL = "/static/docs"
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def install_offline_docs(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc from local assets (the app must have been
    made with ``docs_url=None, redoc_url=None``)."""
    assets = files("fastapi_offline") / "static"
    redoc_js = (assets / "redoc.standalone.js").read_bytes()
    redoc_js = redoc_js.replace(_REDOC_LOGO.encode(), f"{STATIC_DOCS_URL}/favicon.png".encode())

    # before the mount, so that this route answers for the patched file
    @app.get(f"{STATIC_DOCS_URL}/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(
            redoc_js,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(STATIC_DOCS_URL, StaticFiles(directory=str(assets)), name="static-docs")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{STATIC_DOCS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_DOCS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_DOCS_URL}/favicon.png",
            # no badge from the online validator
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_DOCS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_DOCS_URL}/favicon.png",
            with_google_fonts=False,
        )
