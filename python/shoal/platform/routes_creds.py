"""Managed credentials of an organization over HTTP: add, list, show, rotate, remove, and
vend short-lived credentials from them (:mod:`.creds_managed`).

Admins of the org add, rotate, remove and show keys (``show`` gives the non-secret settings,
never the secret); every member lists the names and kinds. A stored secret never leaves the
server through these endpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from . import creds_actions
from .common import (
    Caller,
    Platform,
    caller,
    check_name,
    fail,
    find_org,
    get_bool,
    get_str,
    json_body,
    log,
    platform,
    require_member,
)
from .creds_actions import CREDS, raise_creds, store_of
from .creds_managed import ManagedGrant, ManagedVendor, StaticNotAllowed
from .creds_store import CredsError, CredsKey, CredsStore
from .creds_vending import VendingError
from .crypto import DecryptError, load_ring
from .db import Org
from .grant_cache import GrantCache

routes = web.RouteTableDef()

MANAGED = web.AppKey("shoal_managed_vendor", ManagedVendor)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the credentials store once the database is open; re-encrypt under a new key."""
    from .common import STATE

    p = app[STATE]
    ring = load_ring(p.config.creds_encryption_keys, p.config.data_dir)
    store = CredsStore(p.db, ring)
    moved = await store.reencrypt()
    if moved:
        log.info("creds keys re-encrypted", extra={"fields": {"count": moved}})
    app[CREDS] = store
    app[MANAGED] = ManagedVendor(p.config)
    app[MANAGED].cache = GrantCache(p.db, ring)
    yield
    await app[MANAGED].close()


async def _org_and_key(request: web.Request) -> tuple[Platform, Caller, Org, str]:
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    key = check_name("creds key name", request.match_info.get("key", "") or "-")
    return p, who, org, key


def _secret(body: dict[str, Any], name: str) -> dict[str, Any]:
    secret = body.get("secret")
    if not isinstance(secret, dict):
        fail(400, "bad_request", f"'secret' must be a JSON object holding the secret of {name!r}")
    return secret


@routes.get("/api/org/{org}/creds")
async def list_keys(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    role = await require_member(p, who, org)
    keys = await store_of(request).list(org.id)
    return web.json_response({"creds_keys": [k.as_json(admin=role == "admin") for k in keys]})


@routes.post("/api/org/{org}/creds")
async def add_key(request: web.Request) -> web.Response:
    """``{"name", "kind", "secret": {...}, "allow_static": false}`` (admins)."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    body = await json_body(request)
    name = check_name("creds key name", get_str(body, "name", limit=64))
    await require_member(p, who, org, "admin")
    kind = get_str(body, "kind", limit=40)
    allow_static = bool(get_bool(body, "allow_static", False))
    info = await creds_actions.add_key(
        request, who, org, name, kind, _secret(body, name), allow_static=allow_static
    )
    return web.json_response(info.as_json(admin=True), status=201)


@routes.get("/api/org/{org}/creds/{key}")
async def show_key(request: web.Request) -> web.Response:
    p, who, org, name = await _org_and_key(request)
    await require_member(p, who, org, "admin")
    try:
        info = await store_of(request).info(org.id, name)
    except DecryptError as exc:
        raise_creds(exc)
    if info is None:
        fail(404, "creds_key_not_found", f"there is no creds key {name!r} in {org.name!r}")
    return web.json_response(info.as_json(admin=True))


@routes.put("/api/org/{org}/creds/{key}")
async def rotate_key(request: web.Request) -> web.Response:
    """``{"secret": {...}, "allow_static": bool}`` (admins): a new secret of the same kind."""
    p, who, org, name = await _org_and_key(request)
    body = await json_body(request)
    await require_member(p, who, org, "admin")
    allow_static = get_bool(body, "allow_static")
    info = await creds_actions.rotate_key(
        request, who, org, name, _secret(body, name), allow_static=allow_static
    )
    return web.json_response(info.as_json(admin=True))


@routes.delete("/api/org/{org}/creds/{key}")
async def remove_key(request: web.Request) -> web.Response:
    _, who, org, name = await _org_and_key(request)
    await creds_actions.remove_key(request, who, org, name)
    return web.json_response({"removed": name})


async def vend_from_key(
    request: web.Request,
    org: Org,
    name: str,
    url: str | None,
    *,
    write: bool,
    fresh: bool,
    known: tuple[CredsKey | None, CredsError | DecryptError | None] | None = None,
) -> ManagedGrant:
    """Credentials from the org's creds key ``name`` for ``url``; errors name the key.
    ``known``: the key (or the error reading it), already read from the database."""
    try:
        if known is None:
            key = await store_of(request).get(org.id, name)
        elif known[0] is not None:
            key = known[0]
        else:
            assert known[1] is not None, "a key that was not read has the error that says why"
            raise known[1].with_traceback(None)  # kept with the lookup: raised again
        return await request.app[MANAGED].vend(key, url, write=write, fresh=fresh)
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    except StaticNotAllowed as exc:
        fail(403, "static_not_allowed", str(exc))
    except VendingError as exc:
        log.error(
            "managed vending failed",
            extra={"fields": {"org": org.name, "key": name, "error": str(exc)}},
        )
        fail(502, "storage_unavailable", str(exc))


@routes.get("/api/org/{org}/storage/name")
async def managed_creds(request: web.Request) -> web.Response:
    """``?query=KEY[&path=s3://bucket/prefix][&mode=r|w]`` (deeplake-compatible): short-lived
    credentials from the key, for any member; limited to ``path`` when given, read-only for
    readers or with ``mode=r``."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    name = check_name("creds key name", request.query.get("query", "") or "-")
    path = request.query.get("path") or None
    mode = request.query.get("mode") or "w"
    if mode not in ("r", "w", "a"):
        fail(400, "bad_request", f"mode must be 'r', 'w' or 'a', not {mode[:10]!r}")
    if path is not None and (
        not path.startswith(("s3://", "gcs://", "gs://")) or len(path) > 1024 or ".." in path
    ):
        fail(400, "bad_request", "path must be an s3:// or gcs:// location")
    role = await require_member(p, who, org)
    write = mode != "r" and role in ("write", "admin")
    fresh = request.query.get("no_cache", "").lower() in ("true", "1", "yes")
    grant = await vend_from_key(request, org, name, path, write=write, fresh=fresh)
    return web.json_response(
        {
            "creds": grant.creds,
            "creds_key": name,
            "expiration": grant.expiration,
            "mode": "a" if write else "r",
            "scoped": grant.scoped,
            **({"path": path} if path else {}),
        }
    )
