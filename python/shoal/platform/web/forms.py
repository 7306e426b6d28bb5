"""Reading submitted forms and answering with a page: the same limits as the JSON API, and a
failed action shows its form again with the error above it (and what was typed, minus
secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..common import fail


async def form_of(request: web.Request) -> Mapping[str, Any]:
    return await request.post()


def text(form: Mapping[str, Any], name: str, *, limit: int = 1024, required: bool = True) -> str:
    """A form field as a string (stripped; passwords are taken as typed by :func:`secret`)."""
    value = form.get(name, "")
    if not isinstance(value, str):
        fail(400, "bad_request", f"{name!r} must be text")
    value = value.strip()
    if required and not value:
        fail(400, "bad_request", f"fill in {name.replace('_', ' ')!r}")
    if len(value) > limit:
        fail(400, "bad_request", f"{name!r} is too long (at most {limit} characters)")
    return value


def secret(form: Mapping[str, Any], name: str, *, limit: int = 1024, required: bool = True) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        fail(400, "bad_request", f"{name!r} must be text")
    if required and not value:
        fail(400, "bad_request", f"fill in {name.replace('_', ' ')!r}")
    if len(value) > limit:
        fail(400, "bad_request", f"{name!r} is too long (at most {limit} characters)")
    return value


def page(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """A rendered page; every template also gets the user and this browser's CSRF field."""
    from . import session

    base = {
        "user": session.current(request).user,
        "csrf_token": session.csrf_token(request),
        "csrf_field": session.CSRF_FIELD,
        "path": request.path,
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


def see_other(location: str) -> web.Response:
    """After a successful POST: go to a page (so reloading does not send the form again)."""
    return web.Response(status=303, headers={"Location": location})
