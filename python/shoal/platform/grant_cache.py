"""The vended-credentials cache, shared by every replica through the database.

Vending costs a call to a store's STS (or Google's), so a grant is reused until half its
lifetime is gone. The cache lives in the ``vended_grants`` table: replicas behind one load
balancer share it (one STS call per dataset and access, not one per replica), and a grant
refreshed by one replica is what the others hand out.

A grant holds live credentials, so a row holds them only encrypted (AES-GCM under the
creds key ring, :mod:`.crypto`), with the row's key bound into the tag; the key itself is a
hash of what identifies the grant. A row that does not decrypt (a replica with another key
ring, a key rotated away) is a miss. Expired rows are deleted as new grants come in.

Without a database (a vendor used on its own), the cache is a dict in this process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .crypto import DecryptError, KeyRing

if TYPE_CHECKING:
    from .creds_vending import Grant
    from .db import Database

__all__ = ["SCHEMA", "GrantCache", "usable"]

SCHEMA = """
    CREATE TABLE vended_grants (
        cache_key TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        sealed BLOB NOT NULL,
        issued_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX vended_grants_by_expiry ON vended_grants(expires_at)
"""

G = TypeVar("G", bound="Grant")

#: Past this many grants in a process's own cache (no database), it starts over.
_MAX_LOCAL = 10_000


def _fresh(issued: float, expires: float, now: float) -> bool:
    return expires - now > (expires - issued) / 2


def _aad(cache_key: str) -> bytes:
    return f"shoal-grant\0{cache_key}".encode()


async def _get(db: Database, ring: KeyRing, cache_key: str) -> tuple[dict[str, Any], float] | None:
    row = (
        await db.execute(
            "SELECT key_id, sealed, issued_at FROM vended_grants WHERE cache_key = ?", (cache_key,)
        )
    ).fetchone()
    if row is None:
        return None
    try:
        plain = ring.decrypt(str(row[0]), bytes(row[1]), _aad(cache_key))
    except DecryptError:
        return None
    fields: dict[str, Any] = json.loads(plain)
    return fields, float(row[2])


async def _put(
    db: Database,
    ring: KeyRing,
    cache_key: str,
    fields: dict[str, Any],
    issued: float,
    expires: float,
) -> None:
    key_id, sealed = ring.encrypt(json.dumps(fields).encode(), _aad(cache_key))
    async with db.transaction() as c:
        await c.execute("DELETE FROM vended_grants WHERE expires_at <= ?", (issued,))
        await c.execute(
            "INSERT INTO vended_grants VALUES (?,?,?,?,?) ON CONFLICT (cache_key) DO UPDATE SET "
            "key_id = excluded.key_id, sealed = excluded.sealed, "
            "issued_at = excluded.issued_at, expires_at = excluded.expires_at",
            (cache_key, key_id, sealed, issued, expires),
        )


def _entry(found: tuple[Any, float] | None, kind: type[G]) -> tuple[G, float] | None:
    """A cached grant of ``kind`` and when it was issued."""
    if found is None:
        return None
    grant, issued = found
    if isinstance(grant, dict):
        grant = kind(**grant)
    return (grant, issued) if isinstance(grant, kind) else None


def usable(entry: tuple[G, float] | None, now: float) -> G | None:
    """The grant of a cached ``(grant, issued)`` entry if it has more than half its life
    left at ``now``."""
    if entry is not None and _fresh(entry[1], entry[0].expiration, now):
        return entry[0]
    return None


def _usable(found: tuple[Any, float] | None, kind: type[G], now: float) -> G | None:
    """A cached grant of ``kind`` with more than half its life left."""
    return usable(_entry(found, kind), now)


class GrantCache:
    """Grants by what identifies them (a tuple of plain values), in the database if given."""

    def __init__(self, db: Database | None = None, ring: KeyRing | None = None) -> None:
        self.db, self.ring = db, ring
        self._local: dict[str, tuple[Any, float]] = {}

    @staticmethod
    def _key(parts: tuple[Any, ...]) -> str:
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()

    async def get_or_vend(
        self,
        parts: tuple[Any, ...],
        kind: type[G],
        vend: Callable[[], Awaitable[G]],
        *,
        fresh: bool = False,
    ) -> G:
        """The cached grant for ``parts`` while it has more than half its life left (unless
        ``fresh``), else a new one from ``vend()``, cached."""
        cache_key = self._key(parts)
        now = time.time()
        if not fresh:
            found = _usable(await self._lookup(cache_key), kind, now)
            if found is not None:
                return found
        grant = await vend()
        await self._store(cache_key, grant, now)
        return grant

    async def peek(
        self, parts: tuple[Any, ...], kind: type[G], db: Database
    ) -> tuple[G, float] | None:
        """The cached grant for ``parts`` and when it was issued, fresh or not (what the
        database holds: see :func:`usable`); reads ``db``: the database as a batch sees it
        (with the request's other lookups)."""
        cache_key = self._key(parts)
        if self.db is None or self.ring is None:
            found = self._local.get(cache_key)
        else:
            found = await _get(db, self.ring, cache_key)
        return _entry(found, kind)

    async def _lookup(self, cache_key: str) -> tuple[Any, float] | None:
        if self.db is None or self.ring is None:
            return self._local.get(cache_key)
        return await self.db.batch(_get, self.ring, cache_key, lookup=True)

    async def _store(self, cache_key: str, grant: Grant, issued: float) -> None:
        if self.db is None or self.ring is None:
            if len(self._local) > _MAX_LOCAL:
                self._local.clear()
            self._local[cache_key] = (grant, issued)
            return
        fields = dataclasses.asdict(grant)
        await self.db.batch(_put, self.ring, cache_key, fields, issued, grant.expiration)
