"""Reads through the platform, for stores whose read grants carry no credentials.

With ``s3_vending = "static"`` (a store without STS) the only keys the server has are its
own, long-lived and unscoped: they must never reach a reader or an anonymous caller. Their
``/creds`` answer says ``"read_via": "platform"`` instead, and they read the dataset's
objects here; the server fetches them with its keys, after the same access check as
``/creds``. Only registered datasets are served, and only keys inside the dataset.

* ``GET /api/org/{org}/ds/{ds}/object?key=K[&start=S][&end=E]``: the object's bytes (or bytes
  ``[S, E)``), 404 ``object_not_found`` when missing;
* ``GET /api/org/{org}/ds/{ds}/object?key=K&stat=1``: ``{"exists": bool}``;
* ``GET /api/org/{org}/ds/{ds}/keys?prefix=P``: ``{"keys": [...]}``, sorted.
"""

from __future__ import annotations

from aiohttp import web

from ..errors import StorageError
from ..storage._base import Storage
from .common import caller, fail, find_org, platform
from .routes_datasets import access

routes = web.RouteTableDef()

_MAX_KEY = 1024


async def _reader(request: web.Request) -> Storage:
    p = platform(request)
    org = await find_org(p, request.match_info["org"])
    name = request.match_info["ds"]
    ds = await p.db.dataset(org.id, name)
    await access(p, caller(request, required=False), org, ds)
    if ds is None:
        fail(404, "dataset_not_found", f"there is no dataset {org.name}/{name}")
    store = await p.vendor.reader(ds.storage_url)
    if store is None:
        fail(
            404,
            "not_proxied",
            "this platform vends credentials for its storage; read with those (GET .../creds)",
        )
    return store


def _key(request: web.Request, name: str, *, required: bool) -> str:
    key = request.query.get(name, "")
    if required and not key:
        fail(400, "bad_request", f"the query parameter {name!r} is required")
    return check_key(key)


def check_key(key: str) -> str:
    """``key`` if it names an object inside a dataset (no absolute path, no ``..``, no
    control characters); 400 otherwise."""
    parts = key.split("/")
    if (
        len(key) > _MAX_KEY
        or key.startswith("/")
        or "\\" in key
        or any(part in (".", "..") for part in parts)
        or any(ord(c) < 32 for c in key)
    ):
        fail(400, "bad_request", f"{key[:80]!r} is not a key inside the dataset")
    return key


def _offset(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        fail(400, "bad_request", f"{name!r} must be a byte offset (a non-negative integer)")
    return int(raw)


@routes.get("/api/org/{org}/ds/{ds}/object")
async def read_object(request: web.Request) -> web.StreamResponse:
    key = _key(request, "key", required=True)
    start, end = _offset(request, "start"), _offset(request, "end")
    store = await _reader(request)
    if request.query.get("stat") in ("1", "true"):
        return web.json_response({"exists": await store.exists(key)})
    try:
        if start is None and end is None:
            data = await store.get(key)
        else:
            data = await store.get_range(key, start or 0, end)
    except FileNotFoundError:
        fail(404, "object_not_found", f"the dataset has no object {key[:200]!r}")
    except StorageError as exc:
        fail(502, "storage_unavailable", f"the storage failed: {type(exc).__name__}")
    return web.Response(body=data, content_type="application/octet-stream")


@routes.get("/api/org/{org}/ds/{ds}/keys")
async def list_keys(request: web.Request) -> web.Response:
    prefix = _key(request, "prefix", required=False)
    store = await _reader(request)
    try:
        keys = await store.list(prefix)
    except StorageError as exc:
        fail(502, "storage_unavailable", f"the storage failed: {type(exc).__name__}")
    return web.json_response({"keys": keys})
