"""Managed credentials ("creds keys") of organizations: their table, what each kind must hold,
and encryption at rest (:mod:`.crypto`).

Kinds and the JSON an admin stores:

* ``aws-keys``: the lowercase keys of a ``creds=`` dict: ``aws_access_key_id``,
  ``aws_secret_access_key`` (required), ``aws_session_token``, ``endpoint_url``,
  ``aws_region``, and ``role_arn`` (a role these keys may assume, so vended credentials can be
  scoped to one dataset's prefix);
* ``aws-role``: ``role_arn`` (required), ``external_id``, ``endpoint_url``, ``aws_region``;
  the platform assumes the role with its own credentials;
* ``gcs-key``: a service-account key file (``type: service_account``, ``client_email``,
  ``private_key``, ...), optionally with ``endpoint_url``.

The secret is stored only encrypted; what leaves this module for listings is
:class:`CredsKeyInfo` (name, kind, times, and the non-secret settings for admins).

The same migration adds what connected datasets and default storage need: a dataset's
``creds_key`` and ``connected`` flag, and an org's ``org_storage`` row.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .crypto import KeyRing

if TYPE_CHECKING:
    from .db import Database

KINDS = ("aws-keys", "aws-role", "gcs-key")

SCHEMA = """
    CREATE TABLE creds_keys (
        id INTEGER PRIMARY KEY,
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('aws-keys', 'aws-role', 'gcs-key')),
        key_id TEXT NOT NULL,
        secret BLOB NOT NULL,
        allow_static INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (org_id, name)
    );
    ALTER TABLE datasets ADD COLUMN creds_key TEXT;
    ALTER TABLE datasets ADD COLUMN connected INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE org_storage (
        org_id INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        creds_key TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
"""

_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    "aws-keys": (
        ("aws_access_key_id", "aws_secret_access_key"),
        ("aws_session_token", "endpoint_url", "aws_region", "role_arn"),
    ),
    "aws-role": (("role_arn",), ("external_id", "endpoint_url", "aws_region")),
    "gcs-key": (
        ("type", "client_email", "private_key"),
        (
            "project_id",
            "private_key_id",
            "client_id",
            "auth_uri",
            "token_uri",
            "auth_provider_x509_cert_url",
            "client_x509_cert_url",
            "universe_domain",
            "endpoint_url",
        ),
    ),
}
#: Settings shown to admins (they say where and how, not how to get in).
PUBLIC_FIELDS = ("endpoint_url", "aws_region", "role_arn", "client_email", "project_id")


class CredsError(Exception):
    """Bad managed-credentials input. ``status`` is the HTTP status it maps to; the message
    names the key and never holds a secret."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def check_secret(name: str, kind: str, secret: object) -> dict[str, Any]:
    """``secret`` as a dict fit for ``kind``; :class:`CredsError` naming the fields (never
    their values) otherwise."""
    if kind not in KINDS:
        raise CredsError(
            400,
            "bad_request",
            f"unknown kind {kind[:40]!r} for {name!r}; use one of {', '.join(KINDS)}",
        )
    if not isinstance(secret, dict):
        raise CredsError(400, "bad_request", f"the secret of {name!r} must be a JSON object")
    required, optional = _FIELDS[kind]
    missing = [k for k in required if not secret.get(k)]
    if missing:
        raise CredsError(
            400, "bad_request", f"the {kind} secret of {name!r} lacks {', '.join(missing)}"
        )
    unknown = sorted(k for k in secret if k not in required and k not in optional)
    if unknown:
        hint = " (the lowercase keys of a creds= dict)" if kind == "aws-keys" else ""
        raise CredsError(
            400,
            "bad_request",
            f"the {kind} secret of {name!r} has unknown fields {', '.join(repr(k[:40]) for k in unknown[:5])}; "
            f"allowed: {', '.join(required + optional)}{hint}",
        )
    bad = [k for k, v in secret.items() if not isinstance(v, str)]
    if bad:
        raise CredsError(
            400, "bad_request", f"the fields {', '.join(bad)} of {name!r} must be strings"
        )
    if kind == "gcs-key" and secret["type"] != "service_account":
        raise CredsError(
            400, "bad_request", f"{name!r}: a gcs-key must be a service-account key file"
        )
    if kind == "aws-role" and not secret["role_arn"].startswith("arn:"):
        raise CredsError(
            400, "bad_request", f"{name!r}: role_arn must be an ARN (arn:aws:iam::...)"
        )
    return dict(secret)


@dataclass(frozen=True)
class CredsKeyInfo:
    """What may be shown about a stored key (no secret)."""

    name: str
    kind: str
    created_at: float
    updated_at: float
    created_by: str
    allow_static: bool
    settings: dict[str, str] = field(default_factory=dict)

    def as_json(self, *, admin: bool) -> dict[str, Any]:
        from .tokens import isoformat

        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "created_at": isoformat(self.created_at),
        }
        if admin:
            out.update(
                updated_at=isoformat(self.updated_at),
                created_by=self.created_by,
                allow_static=self.allow_static,
                settings=self.settings,
            )
        return out


@dataclass(frozen=True)
class CredsKey:
    """A stored key with its decrypted secret (server-side only; the repr hides it)."""

    org_id: int
    name: str
    kind: str
    allow_static: bool
    updated_at: float
    secret: dict[str, Any] = field(repr=False)


def _aad(org_id: int, name: str, kind: str) -> bytes:
    return f"shoal-creds\0{org_id}\0{name}\0{kind}".encode()


class CredsStore:
    """The ``creds_keys`` rows of one database, encrypted under ``ring``."""

    def __init__(self, db: Database, ring: KeyRing) -> None:
        self.db = db
        self.ring = ring

    def _encrypt(
        self, org_id: int, name: str, kind: str, secret: dict[str, Any]
    ) -> tuple[str, bytes]:
        return self.ring.encrypt(json.dumps(secret).encode(), _aad(org_id, name, kind))

    async def _add_in(
        self,
        db: Database,
        org_id: int,
        name: str,
        kind: str,
        secret: dict[str, Any],
        *,
        by: str,
        allow_static: bool,
    ) -> CredsKeyInfo:
        secret = check_secret(name, kind, secret)
        key_id, blob = self._encrypt(org_id, name, kind, secret)
        now = time.time()
        async with db.transaction() as c:
            if (
                await c.execute(
                    "SELECT 1 FROM creds_keys WHERE org_id = ? AND name = ?", (org_id, name)
                )
            ).fetchone():
                raise CredsError(
                    409,
                    "conflict",
                    f"the creds key {name!r} exists; replace its secret with `shoal creds rotate` "
                    "or remove it first",
                )
            await c.execute(
                "INSERT INTO creds_keys (org_id, name, kind, key_id, secret, allow_static, "
                "created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (org_id, name, kind, key_id, blob, int(allow_static), by, now, now),
            )
        info = await self._info_in(db, org_id, name)
        assert info is not None
        return info

    async def _rotate_in(
        self,
        db: Database,
        org_id: int,
        name: str,
        secret: dict[str, Any],
        *,
        allow_static: bool | None,
    ) -> CredsKeyInfo:
        """Replace the secret (same kind) and, if given, the static opt-in."""
        current = await self._get_in(db, org_id, name)
        secret = check_secret(name, current.kind, secret)
        key_id, blob = self._encrypt(org_id, name, current.kind, secret)
        static = current.allow_static if allow_static is None else allow_static
        async with db.transaction() as c:
            await c.execute(
                "UPDATE creds_keys SET key_id = ?, secret = ?, allow_static = ?, updated_at = ? "
                "WHERE org_id = ? AND name = ?",
                (key_id, blob, int(static), time.time(), org_id, name),
            )
        info = await self._info_in(db, org_id, name)
        assert info is not None
        return info

    async def _remove_in(self, db: Database, org_id: int, name: str) -> None:
        await self._get_in(db, org_id, name)
        async with db.transaction() as c:
            used = [
                str(r[0])
                for r in (
                    await c.execute(
                        "SELECT name FROM datasets WHERE org_id = ? AND creds_key = ? ORDER BY name",
                        (org_id, name),
                    )
                ).fetchall()
            ]
            default = (
                await c.execute(
                    "SELECT 1 FROM org_storage WHERE org_id = ? AND creds_key = ?", (org_id, name)
                )
            ).fetchone()
            if used or default:
                what = ", ".join(used[:5]) + ("..." if len(used) > 5 else "")
                raise CredsError(
                    409,
                    "conflict",
                    f"the creds key {name!r} is in use ("
                    + (f"datasets: {what}" if used else "the org's default storage")
                    + "); disconnect those first",
                )
            await c.execute("DELETE FROM creds_keys WHERE org_id = ? AND name = ?", (org_id, name))

    async def _row_in(self, db: Database, org_id: int, name: str) -> Any:
        async with db.read() as c:
            return (
                await c.execute(
                    "SELECT * FROM creds_keys WHERE org_id = ? AND name = ?", (org_id, name)
                )
            ).fetchone()

    async def _get_in(self, db: Database, org_id: int, name: str) -> CredsKey:
        """The key with its secret; :class:`CredsError` (404) naming it if there is none."""
        row = await self._row_in(db, org_id, name)
        if row is None:
            raise CredsError(
                404,
                "creds_key_not_found",
                f"there is no creds key {name!r} in this organization; see `shoal creds list`",
            )
        secret = json.loads(
            self.ring.decrypt(row["key_id"], bytes(row["secret"]), _aad(org_id, name, row["kind"]))
        )
        return CredsKey(
            org_id,
            name,
            str(row["kind"]),
            bool(row["allow_static"]),
            float(row["updated_at"]),
            secret,
        )

    async def _info_in(self, db: Database, org_id: int, name: str) -> CredsKeyInfo | None:
        row = await self._row_in(db, org_id, name)
        if row is None:
            return None
        key = await self._get_in(db, org_id, name)
        return self._info(row, {k: key.secret[k] for k in PUBLIC_FIELDS if key.secret.get(k)})

    @staticmethod
    def _info(row: Any, settings: dict[str, str]) -> CredsKeyInfo:
        return CredsKeyInfo(
            name=str(row["name"]),
            kind=str(row["kind"]),
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            created_by=str(row["created_by"]),
            allow_static=bool(row["allow_static"]),
            settings=settings,
        )

    async def _list_in(self, db: Database, org_id: int) -> list[CredsKeyInfo]:
        async with db.read() as c:
            rows = (
                await c.execute(
                    "SELECT * FROM creds_keys WHERE org_id = ? ORDER BY name", (org_id,)
                )
            ).fetchall()
        return [self._info(r, {}) for r in rows]

    async def _reencrypt_in(self, db: Database) -> int:
        """Re-encrypt every key not under the ring's current key (after a key rotation)."""
        count = 0
        async with db.transaction() as c:
            rows = (
                await c.execute(
                    "SELECT id, org_id, name, kind, key_id, secret FROM creds_keys WHERE key_id != ?",
                    (self.ring.current,),
                )
            ).fetchall()
            for r in rows:
                aad = _aad(int(r["org_id"]), str(r["name"]), str(r["kind"]))
                plain = self.ring.decrypt(str(r["key_id"]), bytes(r["secret"]), aad)
                key_id, blob = self.ring.encrypt(plain, aad)
                await c.execute(
                    "UPDATE creds_keys SET key_id = ?, secret = ? WHERE id = ?",
                    (key_id, blob, r["id"]),
                )
                count += 1
        return count

    # -- entry points: each one batch (on SQLite, one trip to the database's threads) -------
    async def add(
        self,
        org_id: int,
        name: str,
        kind: str,
        secret: dict[str, Any],
        *,
        by: str,
        allow_static: bool,
    ) -> CredsKeyInfo:
        add = functools.partial(self._add_in, by=by, allow_static=allow_static)
        return await self.db.batch(add, org_id, name, kind, secret)

    async def rotate(
        self, org_id: int, name: str, secret: dict[str, Any], *, allow_static: bool | None
    ) -> CredsKeyInfo:
        """Replace the secret (same kind) and, if given, the static opt-in."""
        rotate = functools.partial(self._rotate_in, allow_static=allow_static)
        return await self.db.batch(rotate, org_id, name, secret)

    async def remove(self, org_id: int, name: str) -> None:
        await self.db.batch(self._remove_in, org_id, name)

    async def get(self, org_id: int, name: str, *, db: Database | None = None) -> CredsKey:
        """The key with its secret; :class:`CredsError` (404) naming it if there is none.
        ``db``: the database as a batch already running sees it."""
        if db is not None:
            return await self._get_in(db, org_id, name)
        return await self.db.batch(self._get_in, org_id, name)

    async def info(self, org_id: int, name: str) -> CredsKeyInfo | None:
        return await self.db.batch(self._info_in, org_id, name)

    async def list(self, org_id: int) -> list[CredsKeyInfo]:
        return await self.db.batch(self._list_in, org_id)

    async def reencrypt(self) -> int:
        """Re-encrypt every key not under the ring's current key (after a key rotation)."""
        return await self.db.batch(self._reencrypt_in)
