"""Pages for an org's own storage: managed credentials (a form per kind; listed by name and
kind; rotated; removed; a secret is never shown back, not even after a failed form),
connecting a dataset, and the org's default storage. The changes go through
:mod:`..creds_actions`, as the JSON API's do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .. import connected, creds_actions
from ..common import ApiError, fail
from ..creds_store import KINDS
from ..db import Org
from ..tokens import isoformat
from . import session
from .forms import form_of, page, secret, see_other, text
from .views_orgs import org_for

routes = web.RouteTableDef()

#: Form fields per kind: (field, label, secret?, required?). Secrets are password inputs and
#: are never put back into a page.
FIELDS: dict[str, list[tuple[str, str, bool, bool]]] = {
    "aws-keys": [
        ("aws_access_key_id", "Access key id", False, True),
        ("aws_secret_access_key", "Secret access key", True, True),
        ("aws_session_token", "Session token (optional)", True, False),
        ("endpoint_url", "Endpoint URL (optional, for S3-compatible stores)", False, False),
        ("aws_region", "Region (optional)", False, False),
        (
            "role_arn",
            "Role to assume with these keys (optional; scopes what is handed out)",
            False,
            False,
        ),
    ],
    "aws-role": [
        ("role_arn", "Role ARN", False, True),
        ("external_id", "External id (optional)", True, False),
        ("endpoint_url", "Endpoint URL (optional)", False, False),
        ("aws_region", "Region (optional)", False, False),
    ],
    "gcs-key": [
        ("key_file", "Service-account key file (JSON)", True, True),
        ("endpoint_url", "Endpoint URL (optional)", False, False),
    ],
}
KIND_TITLES = {
    "aws-keys": "AWS access keys",
    "aws-role": "AWS role the platform assumes",
    "gcs-key": "Google Cloud service account",
}


def secret_of(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The secret a form for ``kind`` describes, as the creds store takes it."""
    out: dict[str, Any] = {}
    for name, label, hidden, required in FIELDS[kind]:
        value = (secret if hidden else text)(form, f"{kind}.{name}", limit=16_384, required=False)
        if required and not value:
            fail(400, "bad_request", f"fill in {label.split(' (')[0].lower()!r}")
        if value and name == "key_file":
            try:
                parsed = json.loads(value)
            except ValueError:
                fail(400, "bad_request", "the key file is not JSON; paste the whole file")
            if not isinstance(parsed, dict):
                fail(400, "bad_request", "the key file must be a JSON object")
            out.update(parsed)
        elif value:
            out[name] = value
    return out


def kept(kind: str, form: Mapping[str, Any]) -> dict[str, str]:
    """What a failed form shows again: the non-secret fields only."""
    return {
        f"{kind}.{name}": str(form.get(f"{kind}.{name}", ""))[:1024]
        for name, _, hidden, _ in FIELDS[kind]
        if not hidden
    }


async def _creds_page(
    request: web.Request,
    *,
    error: str | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
    name: str = "",
    failed_kind: str = "",
) -> web.Response:
    _, org, role = await org_for(request)
    store = creds_actions.store_of(request)
    listed = await store.list(org.id)
    if role == "admin":  # admins also see each key's settings (where and how, never a secret)
        found = [await store.info(org.id, k.name) for k in listed]
        listed = [f for f in found if f is not None]
    keys = [k.as_json(admin=role == "admin") for k in listed]
    ctx = {
        "org": org.name,
        "role": role,
        "keys": keys,
        "kinds": KINDS,
        "fields": FIELDS,
        "titles": KIND_TITLES,
        "error": error,
        "values": values or {},
        "name": name,
        "failed_kind": failed_kind,
    }
    return page(request, "creds.html", ctx, status=status)


@routes.get("/o/{org}/creds")
async def creds_page(request: web.Request) -> web.Response:
    return await _creds_page(request)


@routes.post("/o/{org}/creds")
async def add_key(request: web.Request) -> web.Response:
    who = session.require_user(request)
    _, org, _ = await org_for(request)
    form = await form_of(request)
    kind = text(form, "kind", limit=40)
    if kind not in FIELDS:
        fail(400, "bad_request", f"unknown kind {kind[:40]!r}; use one of {', '.join(KINDS)}")
    name = str(form.get("name", ""))[:64].strip()
    try:
        name = text(form, "name", limit=64)
        await creds_actions.add_key(
            request,
            who,
            org,
            name,
            kind,
            secret_of(kind, form),
            allow_static=form.get("allow_static") == "on",
        )
    except ApiError as exc:
        return await _creds_page(
            request,
            error=exc.message,
            status=exc.status,
            values=kept(kind, form),
            name=name,
            failed_kind=kind,
        )
    return see_other(f"/o/{org.name}/creds")


@routes.post("/o/{org}/creds/{key}/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    who = session.require_user(request)
    _, org, _ = await org_for(request)
    name = request.match_info["key"]
    form = await form_of(request)
    try:
        current = await creds_actions.store_of(request).info(org.id, name)
        if current is None:
            fail(404, "creds_key_not_found", f"there is no creds key {name!r} in {org.name!r}")
        await creds_actions.rotate_key(
            request,
            who,
            org,
            name,
            secret_of(current.kind, form),
            allow_static=form.get("allow_static") == "on",
        )
    except ApiError as exc:
        return await _creds_page(request, error=exc.message, status=exc.status)
    return see_other(f"/o/{org.name}/creds")


@routes.post("/o/{org}/creds/{key}/remove")
async def remove_key(request: web.Request) -> web.Response:
    who = session.require_user(request)
    _, org, _ = await org_for(request)
    try:
        await creds_actions.remove_key(request, who, org, request.match_info["key"])
    except ApiError as exc:
        return await _creds_page(request, error=exc.message, status=exc.status)
    return see_other(f"/o/{org.name}/creds")


async def _key_names(request: web.Request, org: Org) -> list[dict[str, str]]:
    store = creds_actions.store_of(request)
    return [{"name": k.name, "kind": k.kind} for k in await store.list(org.id)]


async def _connect_page(
    request: web.Request, error: str | None = None, status: int = 200, **values: str
) -> web.Response:
    _, org, role = await org_for(request)
    ctx = {
        "org": org.name,
        "role": role,
        "keys": await _key_names(request, org),
        "error": error,
        "src": values.get("src", ""),
        "key": values.get("key", ""),
        "name": values.get("name", ""),
    }
    return page(request, "connect.html", ctx, status=status)


@routes.get("/o/{org}/connect")
async def connect_page(request: web.Request) -> web.Response:
    return await _connect_page(request)


@routes.post("/o/{org}/connect")
async def connect(request: web.Request) -> web.Response:
    who = session.require_user(request)
    _, org, _ = await org_for(request)
    form = await form_of(request)
    values = {k: str(form.get(k, ""))[:1024].strip() for k in ("src", "key", "name")}
    try:
        row = await creds_actions.connect(
            request,
            who,
            org.name,
            text(form, "src", limit=1024),
            text(form, "key", limit=64),
            text(form, "name", limit=64, required=False),
        )
    except ApiError as exc:
        return await _connect_page(request, exc.message, exc.status, **values)
    return see_other(f"/o/{org.name}/d/{row.name}")


async def _storage_page(
    request: web.Request, error: str | None = None, status: int = 200, **values: str
) -> web.Response:
    p, org, role = await org_for(request)
    default = await connected.default_storage(p, org.id)
    ctx = {
        "org": org.name,
        "role": role,
        "keys": await _key_names(request, org),
        "default": default,
        "updated_at": isoformat(default.updated_at) if default else "",
        "error": error,
        "url": values.get("url", default.url if default else ""),
        "key": values.get("key", default.creds_key if default else ""),
    }
    return page(request, "storage.html", ctx, status=status)


@routes.get("/o/{org}/storage")
async def storage_page(request: web.Request) -> web.Response:
    return await _storage_page(request)


@routes.post("/o/{org}/storage")
async def set_storage(request: web.Request) -> web.Response:
    who = session.require_user(request)
    _, org, _ = await org_for(request)
    form = await form_of(request)
    values = {k: str(form.get(k, ""))[:1024].strip() for k in ("url", "key")}
    try:
        if form.get("clear") == "1":
            await creds_actions.set_default(request, who, org, None)
        else:
            await creds_actions.set_default(
                request, who, org, text(form, "url", limit=1024), text(form, "key", limit=64)
            )
    except ApiError as exc:
        return await _storage_page(request, exc.message, exc.status, **values)
    return see_other(f"/o/{org.name}/storage")
