"""Connecting datasets in an org's own storage (``POST /api/dataset/connect``, as the
``deeplake`` 3.9.52 client calls it) and the org's default storage (``/api/org/{org}/storage``).
See :mod:`.connected` for what both mean."""

from __future__ import annotations

import posixpath
import re

from aiohttp import web

from .common import (
    caller,
    check_name,
    dataset_info,
    fail,
    find_org,
    get_str,
    json_body,
    log,
    platform,
    require_member,
)
from .connected import default_storage, set_default_storage, set_link
from .creds_store import CredsError
from .crypto import DecryptError
from .routes_creds import raise_creds, store_of
from .tokens import isoformat

routes = web.RouteTableDef()

_CLOUD = re.compile(r"^(s3|gcs|gs)://[a-z0-9][a-z0-9.\-_]{1,221}(/[^\s]*)?$")


def _location(value: str, what: str) -> str:
    """A cloud URL, normalised (``gs://`` → ``gcs://``, no trailing slash)."""
    value = value.strip().rstrip("/")
    if value.startswith("hub://"):
        fail(400, "bad_request", f"{what} must be an s3:// or gcs:// location, not a hub:// path")
    if not _CLOUD.match(value) or ".." in value.split("/"):
        fail(400, "bad_request", f"{what} must be an s3:// or gcs:// location, not {value[:80]!r}")
    if value.startswith("gs://"):
        value = "gcs://" + value[5:]
    return value


async def _check_key_fits(request: web.Request, org_id: int, key: str, url: str) -> None:
    try:
        kind = (await platform(request).db.run(store_of(request).get, org_id, key)).kind
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    if url.startswith("s3://") != kind.startswith("aws-"):
        fail(
            400,
            "wrong_kind",
            f"the creds key {key!r} is a {kind} key, which cannot open "
            f"{url.split('://')[0]}:// locations",
        )


@routes.post("/api/dataset/connect")
async def connect(request: web.Request) -> web.Response:
    """``{"src_path", "org_id", "ds_name", "creds_key"}``: an entry ``org/ds_name`` for the
    data at ``src_path`` (writers of the org). ``{"generated_id": "org/name"}``."""
    p = platform(request)
    who = caller(request)
    body = await json_body(request)
    src = _location(get_str(body, "src_path", limit=1024), "src_path")
    org = await find_org(p, get_str(body, "org_id", limit=64))
    key = check_name("creds key name", get_str(body, "creds_key", limit=64))
    name = get_str(body, "ds_name", required=False, limit=64) or posixpath.basename(src)
    name = check_name("dataset name", name)
    await require_member(p, who, org, "write")
    await _check_key_fits(request, org.id, key, src)
    if await p.db.dataset(org.id, name) is not None:
        fail(
            409,
            "conflict",
            f"a dataset {org.name}/{name} exists already; pick another ds_name",
        )
    if await p.db.url_in_use(src):
        fail(409, "conflict", f"{src[:200]} is connected to the platform already")
    row = await p.db.put_dataset(org.id, name, src, False)
    await set_link(p, row.id, key, connected=True)
    log.info(
        "dataset connected",
        extra={"fields": {"user": who.name, "org": org.name, "ds": name, "key": key}},
    )
    return web.json_response(
        {
            "generated_id": f"{org.name}/{name}",
            **dataset_info(row, await p.db.role(org.id, who.user.id) if who.user else None),
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
    url = _location(get_str(body, "url", limit=1024), "url")
    key = check_name("creds key name", get_str(body, "creds_key", limit=64))
    await require_member(p, who, org, "admin")
    await _check_key_fits(request, org.id, key, url)
    await set_default_storage(p, org.id, url, key)
    log.info(
        "default storage set",
        extra={"fields": {"user": who.name, "org": org.name, "key": key}},
    )
    return web.json_response({"url": url, "creds_key": key})


@routes.delete("/api/org/{org}/storage")
async def delete_storage(request: web.Request) -> web.Response:
    """Back to the platform's own root for new datasets (admins); existing ones stay."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    await require_member(p, who, org, "admin")
    await set_default_storage(p, org.id, None)
    return web.json_response({"url": None, "creds_key": None})
