"""What the platform's two databases share: the one async interface :class:`.db.Database`
calls (:class:`Backend`), query results, and the few differences between their SQL.

:class:`.db.Database` writes its queries once, in SQLite's dialect with ``?`` placeholders.
:mod:`.db_sqlite` runs them on worker threads (sqlite3 has no async API);
:mod:`.db_postgres` runs them on the event loop through psycopg's async API, after these
rewrites:

* placeholders ``?`` become ``%s`` (no query has a literal ``?`` or ``%``);
* migration scripts go through :func:`pg_schema`: ``INTEGER PRIMARY KEY`` ids become
  ``SERIAL``, ``REAL`` timestamps ``DOUBLE PRECISION``, ``BLOB`` ``BYTEA``, ``WITHOUT ROWID``
  is dropped, and ``COLLATE NOCASE`` names a case-insensitive ICU collation made once;
* the schema version lives in a one-row table instead of ``PRAGMA user_version``;
* a write transaction takes one transaction-scoped advisory lock, so writers take turns as
  they do on SQLite (``BEGIN IMMEDIATE``): the check-then-write methods (is a name free?
  then insert) hold across every replica on the same database.

Rows support ``row["name"]``, ``row[0]`` and ``dict(row)`` on both.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..errors import DatabaseUnavailableError

__all__ = [
    "LOCK_TIMEOUT_MS",
    "NOT_HERE",
    "WRITE_LOCK",
    "Backend",
    "Connection",
    "Result",
    "is_postgres",
    "pg_schema",
    "redact_url",
    "unavailable_errors",
]

#: Every write transaction on PostgreSQL holds this advisory lock (one writer at a time).
WRITE_LOCK = 0x5_0A1
#: How long a statement waits for a lock (the write lock, a row) before failing (a 503).
LOCK_TIMEOUT_MS = 5000
#: A read that could not run on the event loop (SQLite's ``read_here``): it takes a trip.
NOT_HERE: Any = object()


class Result:
    """The rows of one statement, read in full (no cursor stays open across an ``await``)."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return list(self.rows)


class Connection(Protocol):
    """A connection inside one transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result: ...


class Backend(Protocol):
    """One database, as :class:`.db.Database` uses it. Every method is a coroutine on the
    server's event loop; none blocks it."""

    postgres: bool
    #: Whether work reaches the database in trips (SQLite's worker threads, see
    #: :meth:`.db.Database.batch`) rather than statement by statement.
    batches: bool
    #: What logs and messages may show (a URL's password hidden).
    where: str

    def transaction(
        self, *, write: bool = True, track_outcome: bool = True
    ) -> AbstractAsyncContextManager[Connection]:
        """One transaction: a write one (writers take turns; with ``track_outcome``, its outcome
        stays knowable if the connection is lost while committing) or a read-only one."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        """One statement outside any transaction (a read)."""
        ...

    def schema(self, script: str) -> list[str]:
        """The statements of a migration script, in this database's dialect."""
        ...

    async def schema_version(self, c: Connection) -> int: ...

    async def set_schema_version(self, c: Connection, version: int) -> None: ...

    async def journal_mode(self) -> str: ...

    async def writable(self, timeout: float) -> str:
        """``"ok"``, or why a write cannot begin now (on a connection of its own)."""
        ...

    async def close(self) -> None: ...


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@functools.cache
def unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean the database is busy, unreachable or read-only right now (a 503)."""
    errors: list[type[BaseException]] = [sqlite3.OperationalError, DatabaseUnavailableError]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors += [psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction]
    return tuple(errors)


# -- PostgreSQL's dialect --------------------------------------------------------------------
_PG_TYPES = [
    (re.compile(r"\bid INTEGER PRIMARY KEY\b"), "id SERIAL PRIMARY KEY"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
    (re.compile(r"\bCOLLATE NOCASE\b"), "COLLATE shoal_nocase"),
]
#: Case-insensitive, accent-sensitive comparison (SQLite's NOCASE folds ASCII case only).
_NOCASE = (
    "CREATE COLLATION IF NOT EXISTS shoal_nocase "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
)


def pg_schema(script: str) -> list[str]:
    """The statements of a migration script (SQLite dialect), for PostgreSQL."""
    for pattern, replacement in _PG_TYPES:
        script = pattern.sub(replacement, script)
    statements = [s for s in script.split(";") if s.strip()]
    if any("shoal_nocase" in s for s in statements):
        statements.insert(0, _NOCASE)
    return statements


def sqlite_schema(script: str) -> list[str]:
    return [s for s in script.split(";") if s.strip()]


class Row(tuple[Any, ...]):
    """A PostgreSQL result row: by position, by column name, and ``dict(row)``."""

    _names: tuple[str, ...]

    def keys(self) -> tuple[str, ...]:
        return self._names

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)


def row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._names = names
        return row

    return make
