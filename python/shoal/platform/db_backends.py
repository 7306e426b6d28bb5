"""Connections to the platform's database, SQLite or PostgreSQL, and the few differences
between their SQL.

:class:`.db.Database` writes its queries once, in SQLite's dialect with ``?`` placeholders;
a PostgreSQL connection (psycopg 3) is wrapped so the same text runs there:

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import PlatformConfigError

__all__ = [
    "PgConnection",
    "is_postgres",
    "pg_schema",
    "redact_url",
    "sqlite_connect",
    "unavailable_errors",
]

#: Every write transaction on PostgreSQL holds this advisory lock (one writer at a time).
WRITE_LOCK = 0x5_0A1
#: How long a statement waits for a lock (the write lock, a row) before failing.
LOCK_TIMEOUT_MS = 5000


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
    errors: list[type[BaseException]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors += [psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction]
    return tuple(errors)


# -- SQLite ----------------------------------------------------------------------------------
def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        conn.close()
        raise
    return conn


# -- PostgreSQL ------------------------------------------------------------------------------
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


class _Row(tuple[Any, ...]):
    """A result row: by position, by column name, and ``dict(row)``."""

    _names: tuple[str, ...]

    def keys(self) -> tuple[str, ...]:
        return self._names

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())

    def make(values: Sequence[Any]) -> _Row:
        row = _Row(values)
        row._names = names
        return row

    return make


class PgConnection:
    """One psycopg connection (autocommit between explicit transactions) speaking the
    SQLite-dialect queries of :class:`.db.Database`."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        try:
            import psycopg
        except ImportError:
            raise PlatformConfigError(
                "database_url names PostgreSQL but psycopg is not installed; "
                "pip install 'shoal[postgres]'"
            ) from None
        self._errors = psycopg.Error
        try:
            self.raw = psycopg.connect(
                url,
                autocommit=True,
                row_factory=_row_factory,
                connect_timeout=max(1, int(connect_timeout)),
                application_name="shoal",
                # As SQLite's busy_timeout: a lock held elsewhere fails the wait (a 503)
                # instead of stalling the request for good.
                options=f"-c lock_timeout={LOCK_TIMEOUT_MS}",
            )
        except psycopg.OperationalError as exc:
            # The message can quote the URL's host and user, never its password.
            raise psycopg.OperationalError(
                f"cannot connect to PostgreSQL at {redact_url(url)}: "
                + str(exc).replace(url, redact_url(url)).strip().splitlines()[0]
            ) from None

    @property
    def broken(self) -> bool:
        return bool(self.raw.broken or self.raw.closed)

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        return self.raw.execute(sql.replace("?", "%s"), tuple(params))

    def execute_script(self, statements: list[str]) -> None:
        for statement in statements:
            self.raw.execute(statement)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[PgConnection]:
        with self.raw.transaction():
            if write:
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield self

    def close(self) -> None:
        self.raw.close()


def pg_writable(url: str, timeout: float = 0.5) -> str:
    """``"ok"``, or why a write transaction cannot run on the PostgreSQL at ``url`` within
    ``timeout`` seconds (unreachable, read-only, the write lock held elsewhere)."""
    try:
        conn = PgConnection(url, connect_timeout=2.0)
    except Exception as exc:
        return f"cannot open: {str(exc).replace(url, redact_url(url))}"
    try:
        with conn.raw.transaction():
            conn.raw.execute(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            conn.raw.execute("SELECT txid_current()")  # fails on a read-only server
    except conn._errors as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "lock timeout" in text:
            text = "database is locked: the write lock is held elsewhere"
        return f"not writable: {text}"
    finally:
        conn.close()
    return "ok"


def sqlite_writable(path: str, timeout: float = 0.5) -> str:
    """``"ok"``, or why a write transaction cannot begin on ``path`` within ``timeout``
    seconds (a lock held elsewhere, a read-only file, a missing directory)."""
    try:  # mode=rw: a missing file is reported, not created
        uri = Path(path).absolute().as_uri() + "?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return f"not writable: {exc}"
    finally:
        conn.close()
    return "ok"
