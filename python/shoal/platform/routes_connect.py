"""Connecting datasets in an org's own storage (``POST /api/dataset/connect``, as the
``deeplake`` 3.9.52 client calls it) and the org's default storage (``/api/org/{org}/storage``).
See :mod:`.connected` for what both mean."""

from __future__ import annotations

from aiohttp import web

from . import creds_actions
from .common import (
    caller,
    dataset_info,
    find_org,
    get_str,
    json_body,
    platform,
    require_member,
)
from .connected import default_storage
from .tokens import isoformat

routes = web.RouteTableDef()


@routes.post("/api/dataset/connect")
async def connect(request: web.Request) -> web.Response:
    """``{"src_path", "org_id", "ds_name", "creds_key"}``: an entry ``org/ds_name`` for the
    data at ``src_path`` (writers of the org). ``{"generated_id": "org/name"}``."""
    p = platform(request)
    who = caller(request)
    body = await json_body(request)
    src = get_str(body, "src_path", limit=1024)
    org_name = get_str(body, "org_id", limit=64)
    key = get_str(body, "creds_key", limit=64)
    name = get_str(body, "ds_name", required=False, limit=64)
    row = await creds_actions.connect(request, who, org_name, src, key, name)
    return web.json_response(
        {
            "generated_id": f"{row.org}/{row.name}",
            **dataset_info(row, await p.db.role(row.org_id, who.user.id) if who.user else None),
            "creds_key": key,
        }
    )


@routes.get("/api/org/{org}/storage")
async def get_storage(request: web.Request) -> web.Response:
    """The org's default storage (members); ``{"url": null}`` when it has none."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    await require_member(p, who, org)
    default = await default_storage(p, org.id)
    if default is None:
        return web.json_response({"url": None, "creds_key": None})
    return web.json_response(
        {
            "url": default.url,
            "creds_key": default.creds_key,
            "updated_at": isoformat(default.updated_at),
        }
    )


@routes.put("/api/org/{org}/storage")
async def put_storage(request: web.Request) -> web.Response:
    """``{"url": "s3://bucket/prefix", "creds_key": "k"}`` (admins): where new datasets go."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    body = await json_body(request)
    url = get_str(body, "url", limit=1024)
    key = get_str(body, "creds_key", limit=64)
    url = await creds_actions.set_default(request, who, org, url, key) or ""
    return web.json_response({"url": url, "creds_key": key})


@routes.delete("/api/org/{org}/storage")
async def delete_storage(request: web.Request) -> web.Response:
    """Back to the platform's own root for new datasets (admins); existing ones stay."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    await creds_actions.set_default(request, who, org, None)
    return web.json_response({"url": None, "creds_key": None})
