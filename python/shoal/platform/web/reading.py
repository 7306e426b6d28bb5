"""Opening an org's dataset on the server for the web app, with the credentials a reader of it
gets from ``/creds`` (:func:`.connected.grant` for creds keys, the platform's vendor for its
own root), and what the pages show about it: tensors, sample count, size.

Opened datasets are kept a short while (the viewer asks for page after page), keyed by the
entry and its storage URL, and never past their credentials' expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from ...engine.dataset import DatasetEngine
from ...engine.tensor import TensorEngine
from ...errors import ShoalError
from ...storage import LocalStorage, Storage
from .. import connected
from ..common import Platform, fail, log
from ..creds_vending import Grant, VendingError
from ..db import DatasetRow, Org
from . import presign

_S3_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url")
#: How long an opened dataset is reused.
_KEEP_S = 20.0
_SIZE = re.compile(rb"<Size>(\d+)</Size>")
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")
_NEXT = re.compile(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>")


@dataclass
class Opened:
    row: DatasetRow
    grant: Grant
    engine: DatasetEngine
    at: float

    @property
    def s3(self) -> presign.S3Location | None:
        """Where the browser reads chunks itself (presigned); ``None``: through the platform."""
        url = self.grant.path or self.row.storage_url
        if self.grant.proxied or not url.startswith("s3://"):
            return None
        return presign.location(url, self.grant.creds, self.grant.expiration)


_opened: dict[tuple[int, str], Opened] = {}


async def grant_for(request: web.Request, p: Platform, org: Org, ds: DatasetRow) -> Grant:
    """Read credentials for ``ds``, exactly as ``/creds`` vends them to a reader."""
    managed = await connected.grant(request, p, org, ds, ds.storage_url, write=False, fresh=False)
    if managed is not None:
        return managed
    try:
        return await p.vendor.vend(ds.storage_url, write=False)
    except VendingError as exc:
        log.error("vending failed", extra={"fields": {"org": org.name, "error": str(exc)}})
        fail(502, "storage_unavailable", f"{exc}; try again later or tell the platform's admin")


async def _storage(p: Platform, grant: Grant, url: str) -> Storage:
    if grant.proxied:
        reader = await p.vendor.reader(url)
        assert reader is not None
        return reader
    if "://" not in url:
        return LocalStorage(url, read_only=True)
    location = url.split("://", 1)[1]
    if url.startswith("s3://"):
        from ...storage._s3 import open_storage as open_s3

        creds = {k: grant.creds[k] for k in _S3_KEYS if grant.creds.get(k)}
        if grant.creds.get("aws_region"):
            creds["aws_region"] = grant.creds["aws_region"]
        return await open_s3(location, read_only=True, creds=creds)
    from ...storage._gcs import GcsStorage

    creds = {k: grant.creds[k] for k in ("gcs_oauth_token", "endpoint_url") if grant.creds.get(k)}
    creds["expiration"] = grant.expiration
    return await GcsStorage.open(location, read_only=True, creds=creds)


async def open_dataset(request: web.Request, p: Platform, org: Org, ds: DatasetRow) -> Opened:
    """The dataset behind the entry, opened read-only (reused for a few seconds)."""
    key = (ds.id, ds.storage_url)
    now = time.time()
    found = _opened.get(key)
    if found is not None and now - found.at < _KEEP_S and found.grant.expiration - now > 120:
        return found
    grant = await grant_for(request, p, org, ds)
    try:
        storage = await _storage(p, grant, grant.path or ds.storage_url)
        engine = await DatasetEngine.open(storage, None, load_tensors=True)
    except ShoalError as exc:
        fail(502, "dataset_unreadable", f"{org.name}/{ds.name} cannot be read: {exc}")
    opened = Opened(ds, grant, engine, now)
    if len(_opened) > 256:
        _opened.clear()
    _opened[key] = opened
    return opened


def visible(engine: DatasetEngine) -> list[TensorEngine]:
    return [engine.loaded(engine.key_of(n)) for n in engine.visible_names()]


def tensor_summary(t: TensorEngine) -> dict[str, Any]:
    m = t.meta
    mn, mx = m.get("min_shape") or [], m.get("max_shape") or []
    shape = "—" if not mx else (str(tuple(mn)) if mn == mx else f"{tuple(mn)} to {tuple(mx)}")
    compression = m.get("sample_compression") or m.get("chunk_compression")
    kind = "sample" if m.get("sample_compression") else ("chunk" if compression else "")
    return {
        "name": t.name,
        "htype": t.htype
        + (" (link)" if m.get("is_link") else "")
        + (" (sequence)" if m.get("is_sequence") else ""),
        "dtype": m.get("dtype") or "—",
        "shape": shape,
        "compression": f"{compression} ({kind})" if compression else "none",
        "length": t.samples,
    }


async def size_of(opened: Opened) -> int | None:
    """Bytes the dataset's objects take (``None``: this storage cannot say cheaply)."""
    url = opened.grant.path or opened.row.storage_url
    if "://" not in url:
        return await asyncio.to_thread(_dir_size, url)
    loc = opened.s3
    if loc is None:
        return None
    total, token = 0, ""
    async with aiohttp.ClientSession() as http:
        for _ in range(100):  # 100 pages of 1000 objects: enough for a listing page
            query = {"list-type": "2", "prefix": loc.prefix}
            if token:
                query["continuation-token"] = token
            async with http.get(presign.presign(loc, "", query=query)) as resp:
                if resp.status != 200:
                    return None
                body = await resp.read()
            total += sum(int(s) for s in _SIZE.findall(body))
            nxt = _NEXT.search(body)
            if not _TRUNCATED.search(body) or nxt is None:
                return total
            token = nxt.group(1).decode()
    return None


def _dir_size(root: str) -> int:
    total = 0
    for base, _, files in os.walk(root):
        for f in files:
            with contextlib.suppress(OSError):  # removed while we walk
                total += os.stat(os.path.join(base, f)).st_size
    return total


async def summary(request: web.Request, p: Platform, org: Org, ds: DatasetRow) -> dict[str, Any]:
    """What the datasets list shows of one dataset; an unreadable one says why."""
    try:
        opened = await asyncio.wait_for(open_dataset(request, p, org, ds), 10)
        tensors = visible(opened.engine)
        size = await asyncio.wait_for(size_of(opened), 10)
    except Exception as exc:  # one bad dataset must not break the list
        message = exc.message if hasattr(exc, "message") else type(exc).__name__
        return {"error": str(message)[:300]}
    return {
        "tensors": [t.name for t in tensors],
        "samples": max((t.samples for t in tensors), default=0),
        "size": size,
    }
