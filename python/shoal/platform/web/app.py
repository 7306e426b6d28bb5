"""Wiring the web app into the platform: templates, static files, routes, and the middleware
every page goes through (session, CSRF, errors as pages, security headers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..common import CALLER, ApiError, log
from . import session, views_account, views_creds, views_orgs, views_viewer
from .app_keys import CONNECT_SRC
from .forms import page

_HERE = Path(__file__).parent

_TITLES = {
    400: "That did not work",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    429: "Too many attempts",
}


def _csp(request: web.Request) -> str:
    connect = " ".join(["'self'", *request.get(CONNECT_SRC, [])])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    h = response.headers
    h["Content-Security-Policy"] = _csp(request)
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        # Pages hold one-time tokens and private listings: never cached or kept in history.
        h.setdefault("Cache-Control", "no-store")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    title = _TITLES.get(status, "Something went wrong")
    ctx = {"status": status, "title": title, "message": message}
    return page(request, "error.html", ctx, status=status)


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        response: web.StreamResponse = await handler(request)
        return response
    who = await session.load(request)
    request[session.WEB_CALLER] = who
    if who.user is not None:
        request[CALLER] = who  # for the access log line
    try:
        if request.method == "POST":
            await session.check_csrf(request)
        response = await handler(request)
    except ApiError as exc:
        response = error_page(request, exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect: answered as a plain response, cookies and all
            response = web.Response(status=exc.status, headers=exc.headers)
            for name, morsel in exc.cookies.items():
                response.cookies[name] = morsel
        else:
            message = {
                404: f"there is no page at {request.path}",
                405: f"{request.method} is not allowed on {request.path}",
            }.get(exc.status, exc.reason)
            response = error_page(request, exc.status, message)
    except Exception:
        log.exception("unhandled error", extra={"fields": {"path": request.path}})
        response = error_page(request, 500, "internal server error; see the server log")
    _secure_headers(request, response)
    session.set_csrf_cookie(request, response)
    return response


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    app.router.add_static("/static/", str(_HERE / "static"), name="static")
    app.add_routes(views_account.routes)
    app.add_routes(views_orgs.routes)
    app.add_routes(views_viewer.routes)
    app.add_routes(views_creds.routes)
