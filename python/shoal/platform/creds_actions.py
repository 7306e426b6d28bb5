"""Managed credentials, connected datasets and default storage as the JSON API and the web app
both change them: add, rotate and remove creds keys (admins), connect a dataset in the org's
own bucket (writers), set or clear the org's default storage (admins).

Errors are :class:`.common.ApiError` with the API's statuses and messages; no message holds a
secret.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, NoReturn

from aiohttp import web

from .common import Caller, check_name, fail, find_org, log, platform, require_member
from .connected import set_default_storage, set_link
from .creds_store import KINDS, CredsError, CredsKeyInfo, CredsStore
from .crypto import DecryptError
from .db import DatasetRow, Org

CREDS = web.AppKey("shoal_creds_store", CredsStore)

_CLOUD = re.compile(r"^(s3|gcs|gs)://[a-z0-9][a-z0-9.\-_]{1,221}(/[^\s]*)?$")


def store_of(request: web.Request) -> CredsStore:
    return request.app[CREDS]


def raise_creds(exc: CredsError | DecryptError) -> NoReturn:
    if isinstance(exc, DecryptError):
        log.error("creds key decryption failed", extra={"fields": {"error": str(exc)}})
        fail(500, "creds_unreadable", f"{exc}; tell the platform's admin")
    fail(exc.status, exc.kind, exc.message)


def location(value: str, what: str) -> str:
    """A cloud URL, normalised (``gs://`` → ``gcs://``, no trailing slash)."""
    value = value.strip().rstrip("/")
    if value.startswith("hub://"):
        fail(400, "bad_request", f"{what} must be an s3:// or gcs:// location, not a hub:// path")
    if not _CLOUD.match(value) or ".." in value.split("/"):
        fail(400, "bad_request", f"{what} must be an s3:// or gcs:// location, not {value[:80]!r}")
    if value.startswith("gs://"):
        value = "gcs://" + value[5:]
    return value


async def add_key(
    request: web.Request,
    who: Caller,
    org: Org,
    name: str,
    kind: str,
    secret: dict[str, Any],
    *,
    allow_static: bool,
) -> CredsKeyInfo:
    p = platform(request)
    check_name("creds key name", name)
    await require_member(p, who, org, "admin")
    if kind not in KINDS:
        fail(
            400, "bad_request", f"unknown kind {kind!r} for {name!r}; use one of {', '.join(KINDS)}"
        )
    assert who.user is not None
    try:
        info = await store_of(request).add(
            org.id,
            name,
            kind,
            secret,
            by=who.user.username,
            allow_static=allow_static,
        )
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    log.info(
        "creds key added",
        extra={"fields": {"user": who.name, "org": org.name, "key": name, "kind": kind}},
    )
    return info


async def rotate_key(
    request: web.Request,
    who: Caller,
    org: Org,
    name: str,
    secret: dict[str, Any],
    *,
    allow_static: bool | None,
) -> CredsKeyInfo:
    p = platform(request)
    await require_member(p, who, org, "admin")
    try:
        info = await store_of(request).rotate(org.id, name, secret, allow_static=allow_static)
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    log.info(
        "creds key rotated", extra={"fields": {"user": who.name, "org": org.name, "key": name}}
    )
    return info


async def remove_key(request: web.Request, who: Caller, org: Org, name: str) -> None:
    p = platform(request)
    await require_member(p, who, org, "admin")
    try:
        await store_of(request).remove(org.id, name)
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    log.info(
        "creds key removed", extra={"fields": {"user": who.name, "org": org.name, "key": name}}
    )


async def check_key_fits(request: web.Request, org_id: int, key: str, url: str) -> None:
    try:
        kind = (await store_of(request).get(org_id, key)).kind
    except (CredsError, DecryptError) as exc:
        raise_creds(exc)
    if url.startswith("s3://") != kind.startswith("aws-"):
        fail(
            400,
            "wrong_kind",
            f"the creds key {key!r} is a {kind} key, which cannot open "
            f"{url.split('://')[0]}:// locations",
        )


async def connect(
    request: web.Request, who: Caller, org_name: str, src: str, key: str, name: str
) -> DatasetRow:
    """An entry ``org/name`` (``name`` empty: the source's last part) for the data at ``src``,
    reached with the creds key ``key`` (writers of the org)."""
    p = platform(request)
    src = location(src, "src_path")
    org = await find_org(p, org_name)
    key = check_name("creds key name", key)
    name = check_name("dataset name", name or posixpath.basename(src))
    await require_member(p, who, org, "write")
    await check_key_fits(request, org.id, key, src)
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
    return row


async def set_default(
    request: web.Request, who: Caller, org: Org, url: str | None, key: str = ""
) -> str | None:
    """Where new ``hub://org/...`` datasets go (admins); ``None``: the platform's own root."""
    p = platform(request)
    if url is None:
        await require_member(p, who, org, "admin")
        await set_default_storage(p, org.id, None)
        log.info("default storage cleared", extra={"fields": {"user": who.name, "org": org.name}})
        return None
    url = location(url, "url")
    key = check_name("creds key name", key)
    await require_member(p, who, org, "admin")
    await check_key_fits(request, org.id, key, url)
    await set_default_storage(p, org.id, url, key)
    log.info(
        "default storage set",
        extra={"fields": {"user": who.name, "org": org.name, "key": key}},
    )
    return url
