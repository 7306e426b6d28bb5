"""Datasets in an organization's own storage: connected datasets and the org's default storage.

* A **connected** dataset is an entry ``org/name`` whose data already lives at the user's
  ``s3://`` or ``gcs://`` URL; the entry names the creds key that reaches it. Removing the
  entry never touches the data.
* An org's **default storage** (``s3://bucket/prefix`` or ``gcs://bucket/prefix`` plus a creds
  key): new ``hub://org/name`` datasets are created at ``<url>/<name>`` and reached with that
  key; existing datasets stay where they are.

For both, ``/creds`` vends from the creds key (:mod:`.creds_managed`) instead of the platform's
own storage root. The columns and the table come with the managed-credentials migration
(:mod:`.creds_store`).
"""

from __future__ import annotations

import functools
import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .common import Platform
from .creds_managed import ManagedGrant, ManagedVendor
from .creds_store import CredsError, CredsKey, CredsStore
from .creds_vending import Grant
from .crypto import DecryptError
from .db import RANK, Database, DatasetRow, Org
from .grant_cache import usable


@dataclass(frozen=True)
class DefaultStorage:
    url: str
    creds_key: str
    updated_at: float


@dataclass(frozen=True)
class Link:
    """How a dataset entry reaches its data: the creds key (``None``: the platform's root)."""

    creds_key: str | None
    connected: bool


async def _link_of(db: Database, ds_id: int) -> Link:
    row = (
        await db.execute("SELECT creds_key, connected FROM datasets WHERE id = ?", (ds_id,))
    ).fetchone()
    return Link(row[0] if row else None, bool(row[1]) if row else False)


async def _set_link(db: Database, ds_id: int, creds_key: str | None, *, connected: bool) -> None:
    async with db.transaction() as c:
        await c.execute(
            "UPDATE datasets SET creds_key = ?, connected = ? WHERE id = ?",
            (creds_key, int(connected), ds_id),
        )


async def _default_storage(db: Database, org_id: int) -> DefaultStorage | None:
    row = (
        await db.execute(
            "SELECT url, creds_key, updated_at FROM org_storage WHERE org_id = ?", (org_id,)
        )
    ).fetchone()
    return DefaultStorage(str(row[0]), str(row[1]), float(row[2])) if row else None


async def _set_default_storage(
    db: Database, org_id: int, url: str | None, creds_key: str = ""
) -> None:
    async with db.transaction() as c:
        if url is None:
            await c.execute("DELETE FROM org_storage WHERE org_id = ?", (org_id,))
        else:
            await c.execute(
                "INSERT INTO org_storage VALUES (?,?,?,?) ON CONFLICT (org_id) DO UPDATE SET "
                "url = excluded.url, creds_key = excluded.creds_key, updated_at = excluded.updated_at",
                (org_id, url, creds_key, time.time()),
            )


async def link_of(p: Platform, ds_id: int) -> Link:
    return await p.db.batch(_link_of, ds_id)


async def set_link(p: Platform, ds_id: int, creds_key: str | None, *, connected: bool) -> None:
    await p.db.batch(functools.partial(_set_link, connected=connected), ds_id, creds_key)


async def default_storage(p: Platform, org_id: int) -> DefaultStorage | None:
    return await p.db.batch(_default_storage, org_id)


async def set_default_storage(
    p: Platform, org_id: int, url: str | None, creds_key: str = ""
) -> None:
    await p.db.batch(_set_default_storage, org_id, url, creds_key)


async def default_url(p: Platform, org: Org, name: str) -> str | None:
    """Where a new dataset ``org/name`` goes in the org's default storage, if it has one."""
    default = await default_storage(p, org.id)
    if default is None:
        return None
    for i in range(1000):
        url = posixpath.join(default.url, name if i == 0 else f"{name}~{i}")
        if not await p.db.url_in_use(url):
            return url
    return None


def _in_default(default: DefaultStorage | None, url: str) -> bool:
    return default is not None and url.startswith(default.url.rstrip("/") + "/")


@dataclass(frozen=True)
class CredsContext:
    """What a ``/creds`` answer is decided from, read in one batch of lookups:
    the org, the dataset entry, the caller's role, how the entry reaches its data, and its
    creds key (with the secret: it is used only once the caller's access is checked)."""

    org: Org | None
    ds: DatasetRow | None
    role: str | None
    link: Link
    key: CredsKey | None = field(default=None, repr=False)
    key_error: CredsError | DecryptError | None = None
    #: Whether the grant may write, and the grant the key's vendor has cached for the entry
    #: with when it was issued (fresh enough or not: the lookup does not read the clock).
    cached: tuple[bool, tuple[ManagedGrant, float]] | None = field(default=None, repr=False)


async def creds_context(
    db: Database,
    user_id: int | None,
    store: CredsStore,
    vendor: ManagedVendor,
    org_name: str,
    ds_name: str,
    mode: str | None,
) -> CredsContext:
    """Runs in one batch with the token's own lookups, and only reads (see
    :func:`.common.authenticated_run`); what it returns depends on the database alone, never
    the clock (it may be handed out again while the database is unchanged). ``user_id`` is
    the caller's. ``mode`` is the
    access asked for (``None``: fresh credentials, so no cached grant is looked up); the
    handler uses a cached grant only after checking the caller's access, and only for the
    access it grants."""
    org = await db.org(org_name)
    if org is None:
        return CredsContext(None, None, None, Link(None, False))
    ds = await db.dataset(org.id, ds_name)
    role = await db.role(org.id, user_id) if user_id is not None else None
    link = await _link_of(db, ds.id) if ds is not None else Link(None, False)
    if ds is None or not link.creds_key:
        return CredsContext(org, ds, role, link)
    try:
        key = await store.get(org.id, link.creds_key, db=db)
    except (CredsError, DecryptError) as exc:  # raised where the key is used, after access
        return CredsContext(org, ds, role, link, key_error=exc)
    if mode is None:
        return CredsContext(org, ds, role, link, key)
    write = mode != "r" and RANK.get(role, 0) >= RANK["write"]
    cached = await vendor.cached(key, ds.storage_url, write=write, db=db)
    return CredsContext(
        org, ds, role, link, key, cached=(write, cached) if cached is not None else None
    )


async def grant(
    request: web.Request,
    p: Platform,
    org: Org,
    ds: DatasetRow | None,
    url: str,
    *,
    write: bool,
    fresh: bool,
    ctx: CredsContext | None = None,
) -> ManagedGrant | None:
    """Credentials from the creds key behind ``ds`` (or behind the org's default storage for
    a dataset not created yet); ``None`` when the platform's own root serves it. ``ctx``:
    the entry's link and key, already read."""
    from .routes_creds import vend_from_key

    key: str | None
    if ds is not None:
        link = ctx.link if ctx is not None else await link_of(p, ds.id)
        key = link.creds_key
    else:
        default = await default_storage(p, org.id)
        key = default.creds_key if default is not None and _in_default(default, url) else None
    if not key:
        return None
    if ctx is not None and ds is not None and ctx.cached is not None and not fresh:
        cached_write, entry = ctx.cached
        found = usable(entry, time.time())
        if cached_write == write and found is not None:
            return ManagedGrant(
                url, found.creds, found.expiration, creds_key=found.creds_key, scoped=found.scoped
            )
    known = (ctx.key, ctx.key_error) if ctx is not None and ds is not None else None
    found = await vend_from_key(request, org, key, url, write=write, fresh=fresh, known=known)
    return ManagedGrant(
        url, found.creds, found.expiration, creds_key=found.creds_key, scoped=found.scoped
    )


async def answer_extra(
    p: Platform, grant: Grant, ds: DatasetRow | None, link: Link | None = None
) -> dict[str, Any]:
    """What a ``/creds`` answer adds for a dataset reached with a creds key (``link``: the
    entry's, already read)."""
    if not isinstance(grant, ManagedGrant):
        return {}
    if ds is not None and link is None:
        link = await link_of(p, ds.id)
    return {
        "creds_key": grant.creds_key,
        "scoped": grant.scoped,
        "connected": bool(ds is not None and link is not None and link.connected),
    }


async def after_create(p: Platform, org: Org, row: DatasetRow) -> None:
    """A dataset just created in the org's default storage is reached with its key."""
    default = await default_storage(p, org.id)
    if _in_default(default, row.storage_url) and (await link_of(p, row.id)).creds_key is None:
        assert default is not None
        await set_link(p, row.id, default.creds_key, connected=False)
