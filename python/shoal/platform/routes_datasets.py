"""Dataset entries and their credentials: the endpoints the ``deeplake`` 3.9.52 client calls
(``/creds``, ``/api/dataset/create``, ``DELETE /api/dataset/..``, ``PUT .../dataset/..``,
``/api/event``) plus info and listing.

An entry maps ``org/name`` to a storage URL under the platform's root. ``/creds`` answers
for datasets that have no entry yet too (a client asks before it creates one), with the URL
the dataset will get; ``/api/dataset/create`` then records it. Renaming changes only the
entry: the data stays where it is, and a new dataset under the old name gets a fresh URL.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import connected, tokens
from .common import (
    ASK,
    Caller,
    Platform,
    authenticated_run,
    caller,
    check_name,
    checks_its_token,
    dataset_info,
    fail,
    find_org,
    get_bool,
    get_str,
    json_body,
    log,
    org_found,
    platform,
    require_member,
)
from .creds_actions import store_of
from .creds_vending import VendingError
from .db import RANK, Conflict, DatasetRow, Org
from .routes_creds import MANAGED

routes = web.RouteTableDef()


async def access(
    p: Platform,
    who: Caller,
    org: Org,
    ds: DatasetRow | None,
    need: str = "read",
    *,
    role: str | None = ASK,
) -> str:
    """The caller's role for ``ds`` in ``org`` ("public" for a non-member reading a public
    dataset), which must reach ``need``. ``role``: the caller's role in ``org``, when
    already read from the database."""
    if role == ASK:
        role = await p.db.role(org.id, who.user.id) if who.user else None
    if role is None and ds is not None and ds.public and need == "read":
        return "public"
    if role is None and who.user is None:
        fail(
            401,
            "not_authenticated",
            f"{org.name}/{ds.name if ds else '...'} is private or does not exist; sign in with "
            "`shoal login` (or pass token=..., or set SHOAL_TOKEN)",
        )
    return await require_member(p, who, org, need, role=role)


def _tag(org: str, ds: str) -> tuple[str, str]:
    return check_name("organization name", org), check_name("dataset name", ds)


async def _allocate(p: Platform, org: Org, name: str) -> str:
    in_default = await connected.default_url(p, org, name)
    if in_default is not None:
        return in_default
    for i in range(1000):
        url = p.vendor.dataset_url(org.name, name, i)
        if not await p.db.url_in_use(url):
            return url
    fail(409, "conflict", f"no free storage location for {org.name}/{name}")


@routes.get("/api/org/{org}/ds/{ds}/creds")
@checks_its_token
async def creds(request: web.Request) -> web.Response:
    """Storage URL and short-lived credentials. ``mode``: ``r`` asks for read access, ``w``/``a``
    (or none) for write access when the caller has it; the answer's ``mode`` is ``a`` (may
    write) or ``r``. ``no_cache=true`` asks for freshly issued credentials."""
    p = platform(request)
    org_name, name = _tag(request.match_info["org"], request.match_info["ds"])
    mode = request.query.get("mode") or ""
    fresh = request.query.get("no_cache", "").lower() in ("true", "1", "yes")
    # The token and everything the answer is decided from, in one batch of reads (on SQLite
    # on the event loop): a hub:// open waits on this request, and a trip to the database's
    # threads would cost two thread switches.
    ctx = await authenticated_run(
        request,
        connected.creds_context,
        store_of(request),
        request.app[MANAGED],
        org_name,
        name,
        None if fresh else mode,
    )
    who = caller(request, required=False)
    if mode not in ("", "r", "w", "a", "None"):
        fail(400, "bad_request", f"mode must be 'r', 'w' or 'a', not {mode[:10]!r}")
    org, ds = org_found(ctx.org, org_name), ctx.ds
    role = await access(p, who, org, ds, role=ctx.role)
    write = mode != "r" and RANK.get(role, 0) >= RANK["write"]
    url = ds.storage_url if ds else await _allocate(p, org, name)
    managed = await connected.grant(request, p, org, ds, url, write=write, fresh=fresh, ctx=ctx)
    try:
        grant = managed or await p.vendor.vend(url, write=write, fresh=fresh)
    except VendingError as exc:
        log.error(
            "vending failed", extra={"fields": {"org": org.name, "ds": name, "error": str(exc)}}
        )
        fail(502, "storage_unavailable", f"{exc}; try again later or tell the platform's admin")
    return web.json_response(
        {
            "path": grant.path,
            "creds": grant.creds,
            "mode": "a" if write else "r",
            "expiration": grant.expiration,
            **({"read_via": "platform"} if grant.proxied else {}),
            "repository": None,
            "registered": ds is not None,
            "public": bool(ds and ds.public),
            "role": role,
            "user": who.name,
            **(await connected.answer_extra(p, grant, ds, ctx.link)),
        }
    )


@routes.post("/api/dataset/create")
async def create(request: web.Request) -> web.Response:
    """``{"tag": "org/name", "public": false, "rewrite": true, "meta": {...}}``."""
    p = platform(request)
    who = caller(request)
    body = await json_body(request)
    tag = get_str(body, "tag", limit=200)
    parts = tag.split("/")
    if len(parts) != 2:
        fail(400, "bad_request", f"'tag' must be 'org/name', not {tag[:80]!r}")
    org_name, name = _tag(*parts)
    asked = get_bool(body, "public")
    rewrite = bool(get_bool(body, "rewrite", True))
    org = await find_org(p, org_name)
    ds = await p.db.dataset(org.id, name)
    # Visibility is the admins' call: making a dataset public, and changing an existing one's
    # either way. Without "public", an existing dataset keeps its visibility.
    public = bool(asked) if ds is None or asked is not None else ds.public
    changes = public if ds is None else public != ds.public
    await access(p, who, org, ds, "admin" if changes else "write")
    if ds is not None and not rewrite:
        fail(
            409,
            "conflict",
            f"the dataset {org.name}/{name} exists; pass rewrite=true to replace it",
        )
    url = ds.storage_url if ds else await _allocate(p, org, name)
    row = await p.db.put_dataset(org.id, name, url, public)
    await connected.after_create(p, org, row)
    log.info("dataset created", extra={"fields": {"user": who.name, "org": org.name, "ds": name}})
    return web.json_response(
        dataset_info(row, await p.db.role(org.id, who.user.id) if who.user else None)
    )


@routes.delete("/api/dataset/{org}/{ds}")
async def delete(request: web.Request) -> web.Response:
    """Remove the entry (the client deletes the data first, with its write credentials)."""
    p = platform(request)
    org_name, name = _tag(request.match_info["org"], request.match_info["ds"])
    who = caller(request)
    org = await find_org(p, org_name)
    ds = await p.db.dataset(org.id, name)
    await access(p, who, org, ds, "write")
    if ds is None:
        fail(404, "dataset_not_found", f"there is no dataset {org.name}/{name}")
    await p.db.delete_dataset(ds.id)
    log.info("dataset deleted", extra={"fields": {"user": who.name, "org": org.name, "ds": name}})
    return web.json_response({"deleted": f"{org.name}/{name}"})


@routes.put("/api/org/{org}/dataset/{ds}")
async def update(request: web.Request) -> web.Response:
    """``{"public": bool}`` (admins) and/or ``{"basename": "new-name"}`` (writers)."""
    p = platform(request)
    org_name, name = _tag(request.match_info["org"], request.match_info["ds"])
    who = caller(request)
    body = await json_body(request)
    public = get_bool(body, "public")
    basename = get_str(body, "basename", required=False, limit=200) or None
    if public is None and basename is None:
        fail(400, "bad_request", "send 'public' (true/false) and/or 'basename' (a new name)")
    org = await find_org(p, org_name)
    if basename is not None:
        basename = _basename(basename, org)
    ds = await p.db.dataset(org.id, name)
    await access(p, who, org, ds, "admin" if public is not None else "write")
    if ds is None:
        fail(404, "dataset_not_found", f"there is no dataset {org.name}/{name}")
    try:
        row = await p.db.update_dataset(ds, public=public, name=basename)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    changes: dict[str, Any] = {"public": public, "basename": basename}
    log.info(
        "dataset updated",
        extra={"fields": {"user": who.name, "org": org.name, "ds": name, **changes}},
    )
    return web.json_response(
        dataset_info(row, await p.db.role(org.id, who.user.id) if who.user else None)
    )


def _basename(value: str, org: Org) -> str:
    """A new name, also given as ``org/name`` or ``hub://org/name`` in the same org (deeplake
    3.9.52's ``ds.rename("hub://org/new")`` sends the whole path)."""
    if "/" in value:
        rest = value.removeprefix("hub://")
        parent, _, value = rest.rpartition("/")
        if parent.lower() != org.name.lower():
            fail(
                400,
                "bad_request",
                f"a dataset cannot move to another organization ({parent[:64]!r})",
            )
    return check_name("dataset name", value)


@routes.get("/api/org/{org}/dataset/{ds}")
async def info(request: web.Request) -> web.Response:
    p = platform(request)
    org_name, name = _tag(request.match_info["org"], request.match_info["ds"])
    who = caller(request, required=False)
    org = await find_org(p, org_name)
    ds = await p.db.dataset(org.id, name)
    role = await access(p, who, org, ds)
    if ds is None:
        fail(404, "dataset_not_found", f"there is no dataset {org.name}/{name}")
    return web.json_response(dataset_info(ds, role))


@routes.get("/api/org/{org}/datasets")
async def listing(request: web.Request) -> web.Response:
    """Members see every dataset of the org; others see its public ones."""
    p = platform(request)
    who = caller(request, required=False)
    org = await find_org(p, request.match_info["org"])
    role = await p.db.role(org.id, who.user.id) if who.user else None
    rows = await p.db.datasets(org.id, public_only=role is None)
    return web.json_response({"datasets": [dataset_info(r, role or "public") for r in rows]})


@routes.post("/api/event")
async def event(request: web.Request) -> web.Response:
    """Usage events from the ``deeplake`` client: accepted and logged at debug level."""
    body = await json_body(request)
    kind = body.get("event_name") or body.get("event_type") or body.get("name")
    log.debug("client event", extra={"fields": {"event": str(kind)[:64]}})
    return web.json_response({"received": True, "at": tokens.isoformat(time.time())})
