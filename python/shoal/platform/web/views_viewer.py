"""The dataset viewer: a tensor summary rendered on the server, and a paged grid of samples
that the browser draws itself (``/static/viewer.js``) from the page plan
(:mod:`.samples_plan`) and the chunk bytes it reads.

* ``GET /o/{org}/d/{ds}``: the page;
* ``GET /o/{org}/d/{ds}/samples?start=N``: the plan of a page of 48 samples (JSON);
* ``GET /o/{org}/d/{ds}/object?key=K``: one object of the dataset, for storage the browser
  cannot read directly (a local root, GCS, a store read through the platform).

All three check that the signed-in user may read the dataset, exactly as ``/creds`` does.
"""

from __future__ import annotations

import json

from aiohttp import web

from ...errors import NotFoundError, StorageError
from ..common import check_name, fail, find_org, platform
from ..routes_datasets import access
from ..routes_objects import check_key
from ..tokens import isoformat
from . import reading, samples_plan, session
from .app_keys import CONNECT_SRC
from .forms import page

routes = web.RouteTableDef()


async def _open(request: web.Request) -> reading.Opened:
    p = platform(request)
    who = session.require_user(request)
    org = await find_org(p, request.match_info["org"])
    name = check_name("dataset name", request.match_info["ds"])
    ds = await p.db.dataset(org.id, name)
    await access(p, who, org, ds)
    if ds is None:
        fail(404, "dataset_not_found", f"there is no dataset {org.name}/{name}")
    return await reading.open_dataset(request, p, org, ds)


def cors_rule(origin: str) -> str:
    """The CORS configuration a bucket needs for the viewer on ``origin``."""
    rule = {
        "CORSRules": [
            {
                "AllowedOrigins": [origin],
                "AllowedMethods": ["GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Content-Length"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }
    return json.dumps(rule, indent=2)


@routes.get("/o/{org}/d/{ds}")
async def viewer(request: web.Request) -> web.Response:
    opened = await _open(request)
    tensors = [reading.tensor_summary(t) for t in reading.visible(opened.engine)]
    loc = opened.s3
    url = opened.grant.path or opened.row.storage_url
    bucket = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    if loc is not None:
        request[CONNECT_SRC] = [loc.origin]
    origin = session.origin(request)
    description = opened.engine.info.get("description")
    ctx = {
        "org": opened.row.org,
        "name": opened.row.name,
        "path": opened.row.storage_url,
        "updated_at": isoformat(opened.row.updated_at),
        "description": str(description) if description is not None else None,
        "tensors": tensors,
        "total": max((t["length"] for t in tensors), default=0),
        "direct": loc is not None,
        "bucket": bucket,
        "endpoint": loc.origin if loc is not None else "",
        "origin": origin,
        "cors_rule": cors_rule(origin),
        "page_size": samples_plan.PAGE,
    }
    return page(request, "viewer.html", ctx)


@routes.get("/o/{org}/d/{ds}/samples")
async def samples(request: web.Request) -> web.Response:
    opened = await _open(request)
    raw = request.query.get("start", "0")
    if not raw.isdigit() or len(raw) > 18:
        fail(400, "bad_request", "'start' must be a sample index (a non-negative integer)")
    body = await samples_plan.plan(opened, opened.row.org, opened.row.name, int(raw))
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@routes.get("/o/{org}/d/{ds}/object")
async def read_object(request: web.Request) -> web.Response:
    key = check_key(request.query.get("key", ""))
    opened = await _open(request)
    try:
        data = await opened.engine.storage.get(key)
    except (FileNotFoundError, NotFoundError):
        fail(404, "object_not_found", f"the dataset has no object {key[:200]!r}")
    except StorageError as exc:
        fail(502, "storage_unavailable", f"the storage failed: {type(exc).__name__}")
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"Cache-Control": "private, max-age=60"},
    )
