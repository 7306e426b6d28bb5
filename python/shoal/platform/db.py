"""The platform's database: SQLite in WAL mode (the embedded default) or PostgreSQL (for
several replicas, ``database_url``), with numbered schema migrations.

One connection per thread that uses it: the server calls these methods on a few worker
threads (:mod:`.db_async`), never on its event loop, so a write waiting for a lock held
elsewhere (``busy_timeout``) stalls that request only. Each method is one transaction on its
thread's connection. WAL lets readers (other threads, a backup, ``sqlite3`` in a shell) work
while one writer writes, and
``synchronous=NORMAL`` is durable across process crashes (a power cut may lose the last
transactions, never corrupt the file).

Migrations are SQL scripts in :data:`MIGRATIONS`, one list for both databases (written for
SQLite; :mod:`.db_backends` adapts them); ``PRAGMA user_version`` (a ``shoal_schema`` table on
PostgreSQL) records how many have run. Each runs in one transaction, so a failed upgrade leaves the previous schema intact. A
database newer than this code is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PlatformConfigError
from .data_dir import private_db_files
from .db_backends import (
    PgConnection,
    is_postgres,
    pg_schema,
    pg_writable,
    redact_url,
    sqlite_connect,
    sqlite_writable,
)
from .db_migrations import MIGRATIONS

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


class Database:
    """The platform's tables, behind small methods. Thread-safe: each thread that calls them
    gets its own connection (an in-memory database has one, shared).

    ``path`` is a SQLite file (or ``:memory:``) or a ``postgresql://`` URL
    (:mod:`.db_backends` holds what differs between the two)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.postgres = is_postgres(self.path)
        #: What logs and messages may show (a URL's password hidden).
        self.where = redact_url(self.path) if self.postgres else self.path
        if self.path != ":memory:" and not self.postgres:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            private_db_files(self.path)
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._shared = self._connect() if self.path == ":memory:" else None
        try:
            self.migrate()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> Any:
        conn: Any = PgConnection(self.path) if self.postgres else sqlite_connect(self.path)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @property
    def _conn(self) -> Any:
        if self._shared is not None:
            return self._shared
        conn: Any = getattr(self._local, "conn", None)
        if conn is None or (self.postgres and conn.broken):
            # A PostgreSQL connection dies with a server restart or a network cut: the next
            # call on this thread gets a new one.
            if conn is not None:
                with self._all_lock, contextlib.suppress(ValueError):
                    self._all.remove(conn)
                conn.close()
            conn = self._local.conn = self._connect()
        return conn

    # -- plumbing --------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        if not self.postgres:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        self._conn.execute("CREATE TABLE IF NOT EXISTS shoal_schema (version INTEGER NOT NULL)")
        row = self._conn.execute("SELECT max(version) FROM shoal_schema").fetchone()
        return int(row[0] or 0)

    @property
    def journal_mode(self) -> str:
        if self.postgres:
            return "postgresql"
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    def migrate(self) -> None:
        if not self.postgres:
            self._migrate()
            return
        # Replicas starting together: one migrates, the others wait for the lock, then see
        # the new version (PostgreSQL's DDL is transactional).
        with self.transaction():
            self._migrate()

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise PlatformConfigError(
                f"the database {self.where} has schema version {version}, newer than this "
                f"shoal ({len(MIGRATIONS)}); upgrade shoal, or point data_dir elsewhere"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as c:
                if self.postgres:
                    c.execute_script(pg_schema(script))
                    c.execute("INSERT INTO shoal_schema VALUES (?)", (number,))
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction on this thread's connection: writers take turns (SQLite's
        ``BEGIN IMMEDIATE``, an advisory lock on PostgreSQL); rolled back on an exception."""
        conn = self._conn
        if self.postgres:
            with conn.transaction() as c:
                yield c
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Any]:
        """One read-only transaction: a consistent snapshot that never waits for writers."""
        conn = self._conn
        if self.postgres:
            with conn.transaction(write=False) as c:
                yield c
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")  # nothing to keep

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """One statement on this thread's connection, outside any transaction (a read)."""
        return self._conn.execute(sql, params)

    def ping(self) -> bool:
        return bool(self._conn.execute("SELECT 1").fetchone()[0] == 1)

    def writable(self, timeout: float = 0.5) -> str:
        """``"ok"``, or why a write cannot begin now. Opens its own connection, so it answers
        even while the workers wait for a lock."""
        if self.postgres:
            return pg_writable(self.path, timeout)
        return sqlite_writable(self.path, timeout)

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    # -- users -----------------------------------------------------------------------------
    def create_user(self, username: str, email: str, password_hash: str) -> User:
        """The user, their personal org (same name) and their admin membership, together."""
        now = time.time()
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise Conflict(f"the username {username!r} is taken; pick another")
            if c.execute("SELECT 1 FROM orgs WHERE name = ?", (username,)).fetchone():
                raise Conflict(f"the name {username!r} is taken by an organization; pick another")
            if c.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
                raise Conflict(
                    f"an account with the email {email!r} exists; sign in with `shoal login`"
                )
            uid = c.execute(
                "INSERT INTO users (username, email, password_hash, created_at) VALUES (?,?,?,?) "
                "RETURNING id",
                (username, email, password_hash, now),
            ).fetchone()[0]
            oid = c.execute(
                "INSERT INTO orgs (name, personal_user_id, created_at) VALUES (?,?,?) RETURNING id",
                (username, uid, now),
            ).fetchone()[0]
            c.execute("INSERT INTO members VALUES (?,?, 'admin')", (oid, uid))
        assert uid is not None
        return User(uid, username, email, password_hash, now)

    def user(self, username: str) -> User | None:
        row = self._conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        return User(**dict(row)) if row else None

    def user_by_id(self, uid: int) -> User | None:
        row = self._conn.execute("SELECT * FROM users WHERE id = ?", (uid,)).fetchone()
        return User(**dict(row)) if row else None

    def set_password_hash(self, uid: int, password_hash: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, uid))

    # -- tokens ----------------------------------------------------------------------------
    def add_token(
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
        with self.transaction() as c:
            if (
                kind == "api"
                and c.execute(
                    "SELECT 1 FROM tokens WHERE user_id = ? AND name = ? AND kind = 'api' "
                    "AND revoked_at IS NULL AND expires_at > ?",
                    (uid, name, created_at),
                ).fetchone()
            ):
                raise Conflict(
                    f"you already have an API token named {name!r}; revoke it first "
                    f"(`shoal token revoke {name}`) or pick another name"
                )
            # An expired token may keep its name no longer: retire it.
            c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND name = ? AND kind = 'api' "
                "AND revoked_at IS NULL",
                (created_at, uid, name),
            )
            c.execute(
                "INSERT INTO tokens (jti, user_id, kind, name, created_at, expires_at, "
                "parent_jti, can_mint) VALUES (?,?,?,?,?,?,?,?)",
                (jti, uid, kind, name, created_at, expires_at, parent_jti, int(can_mint)),
            )

    @staticmethod
    def _token(row: Any) -> TokenRow:
        values = dict(row)
        values["can_mint"] = bool(values["can_mint"])
        return TokenRow(**values)

    def token(self, jti: str) -> TokenRow | None:
        row = self._conn.execute("SELECT * FROM tokens WHERE jti = ?", (jti,)).fetchone()
        return self._token(row) if row else None

    def api_tokens(self, uid: int) -> list[TokenRow]:
        rows = self._conn.execute(
            "SELECT * FROM tokens WHERE user_id = ? AND kind = 'api' ORDER BY created_at",
            (uid,),
        ).fetchall()
        return [self._token(r) for r in rows]

    def revoke_token_named(self, uid: int, name: str) -> bool:
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND name = ? AND kind = 'api' "
                "AND revoked_at IS NULL",
                (time.time(), uid, name),
            )
            return bool(cur.rowcount > 0)

    def revoke_jti(self, jti: str) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL",
                (time.time(), jti),
            )

    # -- orgs ------------------------------------------------------------------------------
    def create_org(self, name: str, owner: int) -> Org:
        now = time.time()
        with self.transaction() as c:
            if (
                c.execute("SELECT 1 FROM orgs WHERE name = ?", (name,)).fetchone()
                or c.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone()
            ):
                raise Conflict(f"the name {name!r} is taken; pick another")
            oid = c.execute(
                "INSERT INTO orgs (name, created_at) VALUES (?, ?) RETURNING id", (name, now)
            ).fetchone()[0]
            c.execute("INSERT INTO members VALUES (?,?, 'admin')", (oid, owner))
        assert oid is not None
        return Org(oid, name, None)

    def org(self, name: str) -> Org | None:
        row = self._conn.execute(
            "SELECT id, name, personal_user_id FROM orgs WHERE name = ?", (name,)
        ).fetchone()
        return Org(**dict(row)) if row else None

    def role(self, org_id: int, uid: int) -> str | None:
        row = self._conn.execute(
            "SELECT role FROM members WHERE org_id = ? AND user_id = ?", (org_id, uid)
        ).fetchone()
        return str(row[0]) if row else None

    def orgs_of(self, uid: int) -> list[tuple[Org, str]]:
        rows = self._conn.execute(
            "SELECT o.id, o.name, o.personal_user_id, m.role FROM orgs o "
            "JOIN members m ON m.org_id = o.id WHERE m.user_id = ? ORDER BY o.name",
            (uid,),
        ).fetchall()
        return [(Org(r["id"], r["name"], r["personal_user_id"]), str(r["role"])) for r in rows]

    def members(self, org_id: int) -> list[tuple[str, str]]:
        rows = self._conn.execute(
            "SELECT u.username, m.role FROM members m JOIN users u ON u.id = m.user_id "
            "WHERE m.org_id = ? ORDER BY u.username",
            (org_id,),
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def set_member(self, org: Org, uid: int, role: str) -> None:
        with self.transaction() as c:
            if org.personal_user_id == uid and role != "admin":
                raise Conflict("the owner of a personal organization stays its admin")
            c.execute(
                "INSERT INTO members VALUES (?,?,?) "
                "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
                (org.id, uid, role),
            )
            self._check_admin_left(c, org)

    def remove_member(self, org: Org, uid: int) -> bool:
        with self.transaction() as c:
            if org.personal_user_id == uid:
                raise Conflict("the owner of a personal organization cannot be removed from it")
            cur = c.execute("DELETE FROM members WHERE org_id = ? AND user_id = ?", (org.id, uid))
            self._check_admin_left(c, org)
            return bool(cur.rowcount > 0)

    @staticmethod
    def _check_admin_left(c: Any, org: Org) -> None:
        if not c.execute(
            "SELECT 1 FROM members WHERE org_id = ? AND role = 'admin'", (org.id,)
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

    def dataset(self, org_id: int, name: str) -> DatasetRow | None:
        row = self._conn.execute(
            self._DS + "WHERE d.org_id = ? AND d.name = ?", (org_id, name)
        ).fetchone()
        return self._ds(row) if row else None

    def datasets(self, org_id: int, *, public_only: bool) -> list[DatasetRow]:
        where = "WHERE d.org_id = ?" + (" AND d.public = 1" if public_only else "")
        rows = self._conn.execute(self._DS + where + " ORDER BY d.name", (org_id,)).fetchall()
        return [self._ds(r) for r in rows]

    def url_in_use(self, url: str) -> bool:
        return (
            self._conn.execute("SELECT 1 FROM datasets WHERE storage_url = ?", (url,)).fetchone()
            is not None
        )

    def put_dataset(self, org_id: int, name: str, url: str, public: bool) -> DatasetRow:
        """Create the entry, or (if it exists) mark it updated and set ``public``."""
        now = time.time()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO datasets (org_id, name, storage_url, public, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (org_id, name) DO UPDATE SET "
                "public = excluded.public, updated_at = excluded.updated_at",
                (org_id, name, url, int(public), now, now),
            )
        found = self.dataset(org_id, name)
        assert found is not None
        return found

    def delete_dataset(self, ds_id: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM datasets WHERE id = ?", (ds_id,))

    def update_dataset(
        self, ds: DatasetRow, *, public: bool | None = None, name: str | None = None
    ) -> DatasetRow:
        with self.transaction() as c:
            if name is not None and name != ds.name:
                if c.execute(
                    "SELECT 1 FROM datasets WHERE org_id = ? AND name = ?", (ds.org_id, name)
                ).fetchone():
                    raise Conflict(f"a dataset named {name!r} exists in {ds.org!r} already")
                c.execute("UPDATE datasets SET name = ? WHERE id = ?", (name, ds.id))
            if public is not None:
                c.execute("UPDATE datasets SET public = ? WHERE id = ?", (int(public), ds.id))
            c.execute("UPDATE datasets SET updated_at = ? WHERE id = ?", (time.time(), ds.id))
        row = self._conn.execute(self._DS + "WHERE d.id = ?", (ds.id,)).fetchone()
        return self._ds(row)
