"""The platform's database: SQLite in WAL mode (the embedded default) or PostgreSQL (for
several replicas, ``database_url``), with numbered schema migrations.

Every method is a coroutine the server awaits on its event loop; none blocks it. Each is one
transaction. The queries are written once, in SQLite's dialect, and run on either database
through one async interface (:class:`.db_backends.Backend`): :mod:`.db_sqlite` runs them on a
few worker threads, one trip per method or :meth:`Database.batch` (a write waiting for a
lock held elsewhere stalls that request only), :mod:`.db_postgres` on the event loop through
psycopg's async API.

Migrations are SQL scripts in :data:`MIGRATIONS`, one list for both databases (written for
SQLite; :mod:`.db_backends` adapts them); ``PRAGMA user_version`` (a ``shoal_schema`` table on
PostgreSQL) records how many have run. The pending ones run in one write transaction, so a
failed upgrade leaves the previous schema intact, and replicas starting together take turns.
A database newer than this code is refused rather than misread.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..errors import PlatformConfigError
from .db_backends import NOT_HERE, Backend, Connection, Result, is_postgres
from .db_migrations import MIGRATIONS

__all__ = ["MIGRATIONS", "RANK", "ROLES", "Conflict", "Database", "DatasetRow", "Org", "TokenRow"]
__all__ += ["User"]

P = ParamSpec("P")
T = TypeVar("T")

ROLES = ("read", "write", "admin")
RANK = {None: 0, "read": 1, "write": 2, "admin": 3}


class Conflict(Exception):
    """A unique name is taken; the message says which."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    name: str
    personal_user_id: int | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    jti: str
    user_id: int
    kind: str
    name: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    #: The API token this one was created with (it dies with it), if any.
    parent_jti: str | None = None
    #: Whether this API token may create (shorter-lived) tokens.
    can_mint: bool = False


@dataclass(frozen=True, slots=True)
class DatasetRow:
    id: int
    org_id: int
    org: str
    name: str
    storage_url: str
    public: bool
    created_at: float
    updated_at: float


def backend_for(path: str) -> Backend:
    """The backend for a SQLite file (or ``:memory:``) or a ``postgresql://`` URL."""
    if is_postgres(path):
        from .db_postgres import PostgresBackend

        return PostgresBackend(path)
    from .db_sqlite import SqliteBackend

    return SqliteBackend(path)


def _one_trip(
    method: Callable[Concatenate[Database, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Database, P], Coroutine[Any, Any, T]]:
    """A method that runs whole in one :meth:`Database.batch`."""

    @functools.wraps(method)
    async def whole(self: Database, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if not self.backend.batches:
            return await method(self, *args, **kwargs)
        return await self.batch(functools.partial(method, **kwargs), *args)

    return whole


class Database:
    """The platform's tables, behind small async methods. Open with :meth:`open`.

    Functions that make several queries in one go take the database as their first argument
    and run through :meth:`batch`, not on their own: on SQLite a batch is one trip to a worker
    thread (a transaction cannot span trips), on PostgreSQL a plain call."""

    def __init__(self, backend: Backend, path: str) -> None:
        self.backend = backend
        self.path = path
        self.postgres = backend.postgres
        #: What logs and messages may show (a URL's password hidden).
        self.where = backend.where

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """The database at ``path``, migrated to this code's schema."""
        db = cls(backend_for(str(path)), str(path))
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
        return db

    # -- plumbing --------------------------------------------------------------------------
    async def batch(
        self, fn: Callable[..., Awaitable[T]], /, *args: Any, lookup: bool = False
    ) -> T:
        """``await fn(db, *args)``, ``db`` being this database as seen where the work runs:
        on SQLite, a worker thread's connection (``fn`` must await nothing but the
        database); on PostgreSQL, this very object. ``lookup``: ``fn`` is a few short indexed
        reads a client waits on, which on SQLite run on the event loop when that needs no
        waiting, saving a trip's two thread switches (:meth:`.db_sqlite.SqliteBackend.read_here`)."""
        if not self.backend.batches:
            return await fn(self, *args)
        path = self.path

        def view(inline: Any) -> Database:
            return Database(inline, path)

        if lookup:
            found: T = self.backend.read_here(view, fn, *args)  # type: ignore[attr-defined]
            if found is not NOT_HERE:
                return found
        result: T = await self.backend.run(view, fn, *args)  # type: ignore[attr-defined]
        return result

    @_one_trip
    async def schema_version(self) -> int:
        async with self.read() as c:
            return await self.backend.schema_version(c)

    @_one_trip
    async def journal_mode(self) -> str:
        return await self.backend.journal_mode()

    @_one_trip
    async def migrate(self) -> None:
        # SQLite: no write when none is pending (a read-only file still opens, and reports
        # unhealthy). PostgreSQL: under the write lock from the start, as replicas starting
        # together would race to create the version table.
        if not self.postgres and await self.schema_version() == len(MIGRATIONS):
            return
        async with self.backend.transaction(track_outcome=False) as c:
            version = await self.backend.schema_version(c)
            if version > len(MIGRATIONS):
                raise PlatformConfigError(
                    f"the database {self.where} has schema version {version}, newer than this "
                    f"shoal ({len(MIGRATIONS)}); upgrade shoal, or point data_dir elsewhere"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in self.backend.schema(script):
                    await c.execute(statement)
                await self.backend.set_schema_version(c, number)

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """One write transaction: writers take turns (SQLite's ``BEGIN IMMEDIATE``, an
        advisory lock on PostgreSQL); rolled back on an exception. Inside a method or a
        :meth:`batch` (on SQLite a transaction cannot span trips to its threads)."""
        return self.backend.transaction()

    def read(self) -> AbstractAsyncContextManager[Connection]:
        """One read-only transaction, that never waits for writers."""
        return self.backend.transaction(write=False)

    @_one_trip
    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Result:
        """One statement outside any transaction (a read)."""
        return await self.backend.execute(sql, params)

    @_one_trip
    async def ping(self) -> bool:
        return bool((await self.execute("SELECT 1")).fetchone()[0] == 1)

    async def writable(self, timeout: float = 0.5) -> str:
        """``"ok"``, or why a write cannot begin now. On a connection of its own, so it
        answers even while the others wait for a lock."""
        return await self.backend.writable(timeout)

    async def close(self) -> None:
        await self.backend.close()

    # -- users -----------------------------------------------------------------------------
    @_one_trip
    async def create_user(self, username: str, email: str, password_hash: str) -> User:
        """The user, their personal org (same name) and their admin membership, together."""
        now = time.time()
        async with self.transaction() as c:
            if (await c.execute("SELECT 1 FROM users WHERE username = ?", (username,))).fetchone():
                raise Conflict(f"the username {username!r} is taken; pick another")
            if (await c.execute("SELECT 1 FROM orgs WHERE name = ?", (username,))).fetchone():
                raise Conflict(f"the name {username!r} is taken by an organization; pick another")
            if (await c.execute("SELECT 1 FROM users WHERE email = ?", (email,))).fetchone():
                raise Conflict(
                    f"an account with the email {email!r} exists; sign in with `shoal login`"
                )
            uid = (
                await c.execute(
                    "INSERT INTO users (username, email, password_hash, created_at) VALUES (?,?,?,?) "
                    "RETURNING id",
                    (username, email, password_hash, now),
                )
            ).fetchone()[0]
            oid = (
                await c.execute(
                    "INSERT INTO orgs (name, personal_user_id, created_at) VALUES (?,?,?) RETURNING id",
                    (username, uid, now),
                )
            ).fetchone()[0]
            await c.execute("INSERT INTO members VALUES (?,?, 'admin')", (oid, uid))
        assert uid is not None
        return User(uid, username, email, password_hash, now)

    @_one_trip
    async def user(self, username: str) -> User | None:
        row = (await self.execute("SELECT * FROM users WHERE username = ?", (username,))).fetchone()
        return User(**dict(row)) if row else None

    @_one_trip
    async def user_by_id(self, uid: int) -> User | None:
        row = (await self.execute("SELECT * FROM users WHERE id = ?", (uid,))).fetchone()
        return User(**dict(row)) if row else None

    @_one_trip
    async def set_password_hash(self, uid: int, password_hash: str) -> None:
        async with self.transaction() as c:
            await c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, uid))

    # -- tokens ----------------------------------------------------------------------------
    @_one_trip
    async def add_token(
        self,
        jti: str,
        uid: int,
        kind: str,
        name: str,
        created_at: float,
        expires_at: float,
        *,
        parent_jti: str | None = None,
        can_mint: bool = False,
    ) -> None:
        async with self.transaction() as c:
            if (
                kind == "api"
                and (
                    await c.execute(
                        "SELECT 1 FROM tokens WHERE user_id = ? AND name = ? AND kind = 'api' "
                        "AND revoked_at IS NULL AND expires_at > ?",
                        (uid, name, created_at),
                    )
                ).fetchone()
            ):
                raise Conflict(
                    f"you already have an API token named {name!r}; revoke it first "
                    f"(`shoal token revoke {name}`) or pick another name"
                )
            # An expired token may keep its name no longer: retire it.
            await c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND name = ? AND kind = 'api' "
                "AND revoked_at IS NULL",
                (created_at, uid, name),
            )
            await c.execute(
                "INSERT INTO tokens (jti, user_id, kind, name, created_at, expires_at, "
                "parent_jti, can_mint) VALUES (?,?,?,?,?,?,?,?)",
                (jti, uid, kind, name, created_at, expires_at, parent_jti, int(can_mint)),
            )

    @staticmethod
    def _token(row: Any) -> TokenRow:
        values = dict(row)
        values["can_mint"] = bool(values["can_mint"])
        return TokenRow(**values)

    @_one_trip
    async def token(self, jti: str) -> TokenRow | None:
        row = (await self.execute("SELECT * FROM tokens WHERE jti = ?", (jti,))).fetchone()
        return self._token(row) if row else None

    @_one_trip
    async def api_tokens(self, uid: int) -> list[TokenRow]:
        rows = (
            await self.execute(
                "SELECT * FROM tokens WHERE user_id = ? AND kind = 'api' ORDER BY created_at",
                (uid,),
            )
        ).fetchall()
        return [self._token(r) for r in rows]

    @_one_trip
    async def revoke_token_named(self, uid: int, name: str) -> bool:
        async with self.transaction() as c:
            cur = await c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND name = ? AND kind = 'api' "
                "AND revoked_at IS NULL",
                (time.time(), uid, name),
            )
            return bool(cur.rowcount > 0)

    @_one_trip
    async def revoke_jti(self, jti: str) -> None:
        async with self.transaction() as c:
            await c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL",
                (time.time(), jti),
            )

    # -- orgs ------------------------------------------------------------------------------
    @_one_trip
    async def create_org(self, name: str, owner: int) -> Org:
        now = time.time()
        async with self.transaction() as c:
            if (await c.execute("SELECT 1 FROM orgs WHERE name = ?", (name,))).fetchone() or (
                await c.execute("SELECT 1 FROM users WHERE username = ?", (name,))
            ).fetchone():
                raise Conflict(f"the name {name!r} is taken; pick another")
            oid = (
                await c.execute(
                    "INSERT INTO orgs (name, created_at) VALUES (?, ?) RETURNING id", (name, now)
                )
            ).fetchone()[0]
            await c.execute("INSERT INTO members VALUES (?,?, 'admin')", (oid, owner))
        assert oid is not None
        return Org(oid, name, None)

    @_one_trip
    async def org(self, name: str) -> Org | None:
        row = (
            await self.execute(
                "SELECT id, name, personal_user_id FROM orgs WHERE name = ?", (name,)
            )
        ).fetchone()
        return Org(**dict(row)) if row else None

    @_one_trip
    async def role(self, org_id: int, uid: int) -> str | None:
        row = (
            await self.execute(
                "SELECT role FROM members WHERE org_id = ? AND user_id = ?", (org_id, uid)
            )
        ).fetchone()
        return str(row[0]) if row else None

    @_one_trip
    async def orgs_of(self, uid: int) -> list[tuple[Org, str]]:
        rows = (
            await self.execute(
                "SELECT o.id, o.name, o.personal_user_id, m.role FROM orgs o "
                "JOIN members m ON m.org_id = o.id WHERE m.user_id = ? ORDER BY o.name",
                (uid,),
            )
        ).fetchall()
        return [(Org(r["id"], r["name"], r["personal_user_id"]), str(r["role"])) for r in rows]

    @_one_trip
    async def members(self, org_id: int) -> list[tuple[str, str]]:
        rows = (
            await self.execute(
                "SELECT u.username, m.role FROM members m JOIN users u ON u.id = m.user_id "
                "WHERE m.org_id = ? ORDER BY u.username",
                (org_id,),
            )
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    @_one_trip
    async def set_member(self, org: Org, uid: int, role: str) -> None:
        async with self.transaction() as c:
            if org.personal_user_id == uid and role != "admin":
                raise Conflict("the owner of a personal organization stays its admin")
            await c.execute(
                "INSERT INTO members VALUES (?,?,?) "
                "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
                (org.id, uid, role),
            )
            await self._check_admin_left(c, org)

    @_one_trip
    async def remove_member(self, org: Org, uid: int) -> bool:
        async with self.transaction() as c:
            if org.personal_user_id == uid:
                raise Conflict("the owner of a personal organization cannot be removed from it")
            cur = await c.execute(
                "DELETE FROM members WHERE org_id = ? AND user_id = ?", (org.id, uid)
            )
            await self._check_admin_left(c, org)
            return bool(cur.rowcount > 0)

    @staticmethod
    async def _check_admin_left(c: Any, org: Org) -> None:
        if not (
            await c.execute("SELECT 1 FROM members WHERE org_id = ? AND role = 'admin'", (org.id,))
        ).fetchone():
            raise Conflict(f"organization {org.name!r} would have no admin left; add one first")

    # -- datasets --------------------------------------------------------------------------
    _DS = (
        "SELECT d.id, d.org_id, o.name AS org, d.name, d.storage_url, d.public, d.created_at, "
        "d.updated_at FROM datasets d JOIN orgs o ON o.id = d.org_id "
    )

    @staticmethod
    def _ds(row: Any) -> DatasetRow:
        values = dict(row)
        values["public"] = bool(values["public"])
        return DatasetRow(**values)

    @_one_trip
    async def dataset(self, org_id: int, name: str) -> DatasetRow | None:
        row = (
            await self.execute(self._DS + "WHERE d.org_id = ? AND d.name = ?", (org_id, name))
        ).fetchone()
        return self._ds(row) if row else None

    @_one_trip
    async def datasets(self, org_id: int, *, public_only: bool) -> list[DatasetRow]:
        where = "WHERE d.org_id = ?" + (" AND d.public = 1" if public_only else "")
        rows = (await self.execute(self._DS + where + " ORDER BY d.name", (org_id,))).fetchall()
        return [self._ds(r) for r in rows]

    @_one_trip
    async def url_in_use(self, url: str) -> bool:
        return (
            await self.execute("SELECT 1 FROM datasets WHERE storage_url = ?", (url,))
        ).fetchone() is not None

    @_one_trip
    async def put_dataset(self, org_id: int, name: str, url: str, public: bool) -> DatasetRow:
        """Create the entry, or (if it exists) mark it updated and set ``public``."""
        now = time.time()
        async with self.transaction() as c:
            await c.execute(
                "INSERT INTO datasets (org_id, name, storage_url, public, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (org_id, name) DO UPDATE SET "
                "public = excluded.public, updated_at = excluded.updated_at",
                (org_id, name, url, int(public), now, now),
            )
        found = await self.dataset(org_id, name)
        assert found is not None
        return found

    @_one_trip
    async def delete_dataset(self, ds_id: int) -> None:
        async with self.transaction() as c:
            await c.execute("DELETE FROM datasets WHERE id = ?", (ds_id,))

    @_one_trip
    async def update_dataset(
        self, ds: DatasetRow, *, public: bool | None = None, name: str | None = None
    ) -> DatasetRow:
        async with self.transaction() as c:
            if name is not None and name != ds.name:
                if (
                    await c.execute(
                        "SELECT 1 FROM datasets WHERE org_id = ? AND name = ?", (ds.org_id, name)
                    )
                ).fetchone():
                    raise Conflict(f"a dataset named {name!r} exists in {ds.org!r} already")
                await c.execute("UPDATE datasets SET name = ? WHERE id = ?", (name, ds.id))
            if public is not None:
                await c.execute("UPDATE datasets SET public = ? WHERE id = ?", (int(public), ds.id))
            await c.execute("UPDATE datasets SET updated_at = ? WHERE id = ?", (time.time(), ds.id))
        row = (await self.execute(self._DS + "WHERE d.id = ?", (ds.id,))).fetchone()
        return self._ds(row)
