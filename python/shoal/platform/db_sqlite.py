"""The platform's SQLite database (the embedded default), behind the async
:class:`.db_backends.Backend` interface.

sqlite3 has no async API, so every statement runs on a small pool of worker threads, never
on the event loop: a write that waits for a lock held elsewhere (another process, a backup;
``busy_timeout``) stalls only its own request, while health checks, reads and everything else
go on. A transaction holds one of a few connections from its ``BEGIN`` to its end; each of its
statements is one hop to a worker thread (any thread: a connection is used by one transaction
at a time).

WAL lets readers (other connections, a backup, ``sqlite3`` in a shell) work while one writer
writes, and ``synchronous=NORMAL`` is durable across process crashes (a power cut may lose
the last transactions, never corrupt the file). A commit happens in this process, so its
outcome is always known: no write receipts here (see :mod:`.db_postgres`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from .data_dir import private_db_files
from .db_backends import LOCK_TIMEOUT_MS, Result, sqlite_schema

__all__ = ["WORKERS", "SqliteBackend", "sqlite_connect", "sqlite_writable"]

T = TypeVar("T")

#: Worker threads and connections. Writers take turns; readers run alongside.
WORKERS = 4


def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=LOCK_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
    except BaseException:
        conn.close()
        raise
    return conn


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


def _run(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Result:
    cur = conn.execute(sql, tuple(params))
    rows = cur.fetchall()
    return Result(rows, cur.rowcount)


class _Conn:
    """One sqlite3 connection, its statements run on the backend's worker threads."""

    def __init__(self, backend: SqliteBackend, raw: sqlite3.Connection) -> None:
        self.backend, self.raw = backend, raw
        #: The statement running on a worker thread, if any (see :meth:`SqliteBackend._give`).
        self.running: Future[Any] | None = None

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        return await self.call(_run, self.raw, sql, params)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        # The thread's own future: done only once the statement is (a cancelled caller leaves
        # it running).
        self.running = self.backend.pool.submit(fn, *args)
        result: T = await asyncio.wrap_future(self.running)
        self.running = None
        return result


class SqliteBackend:
    postgres = False

    def __init__(self, path: str, workers: int = WORKERS) -> None:
        self.path = self.where = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            private_db_files(path)
        # An in-memory database lives in its one connection.
        self.size = 1 if path == ":memory:" else workers
        self.pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="shoal-db")
        self._idle: list[_Conn] = []
        self._all: list[_Conn] = []
        self._slots = asyncio.Semaphore(self.size)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Conn]:
        async with self._slots:
            if self._idle:
                conn = self._idle.pop()
            else:
                conn = _Conn(self, await asyncio.wrap_future(self.pool.submit(self._open)))
                self._all.append(conn)
            try:
                yield conn
            finally:
                self._give(conn)

    def _open(self) -> sqlite3.Connection:
        return sqlite_connect(self.path)

    def _give(self, conn: _Conn) -> None:
        running = conn.running
        if running is None and (self.path == ":memory:" or not conn.raw.in_transaction):
            self._idle.append(conn)
            return
        # A statement still runs on a worker thread (its caller was cancelled), or a roll-back
        # failed: the connection is closed once it is done, never handed to another
        # transaction meanwhile.
        self._all.remove(conn)
        if running is None:
            self.pool.submit(conn.raw.close)
        else:
            running.add_done_callback(lambda _: self.pool.submit(conn.raw.close))

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = True, receipt: bool = True
    ) -> AsyncIterator[_Conn]:
        """``BEGIN IMMEDIATE`` (writers take turns) or ``BEGIN`` (a snapshot that never waits
        for writers); rolled back on an exception, and a read-only one always."""
        async with self._connection() as conn:
            await conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.running is None:
                    with contextlib.suppress(sqlite3.Error):
                        await asyncio.shield(conn.execute("ROLLBACK"))
                raise
            await conn.execute("COMMIT" if write else "ROLLBACK")

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        async with self._connection() as conn:
            return await conn.execute(sql, params)

    def schema(self, script: str) -> list[str]:
        return sqlite_schema(script)

    async def schema_version(self, c: Any) -> int:
        return int((await c.execute("PRAGMA user_version")).fetchone()[0])

    async def set_schema_version(self, c: Any, version: int) -> None:
        await c.execute(f"PRAGMA user_version = {int(version)}")

    async def journal_mode(self) -> str:
        return str((await self.execute("PRAGMA journal_mode")).fetchone()[0])

    async def writable(self, timeout: float) -> str:
        if self.path == ":memory:":
            return "ok"
        # Its own connection on its own thread: answers while the workers wait for a lock.
        return await asyncio.to_thread(sqlite_writable, self.path, timeout)

    async def close(self) -> None:
        conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            self.pool.submit(conn.raw.close)
        await asyncio.to_thread(self.pool.shutdown, True)

    def close_now(self) -> None:
        """:meth:`close` outside any event loop."""
        conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            self.pool.submit(conn.raw.close)
        self.pool.shutdown(wait=True)
