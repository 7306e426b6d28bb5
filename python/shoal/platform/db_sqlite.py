"""The platform's SQLite database (the embedded default), behind the async
:class:`.db_backends.Backend` interface.

sqlite3 has no async API, so the database's work runs on a few worker threads, each with its
own connection, never on the event loop: a write that waits for a lock held elsewhere
(another process, a backup; ``busy_timeout``) stalls only its own request, while health
checks, reads and everything else go on.

A trip to a worker thread costs two thread switches, so it carries a whole unit of work, not
one statement: :meth:`SqliteBackend.run` runs a coroutine function of the database (one of
:class:`.db.Database`'s methods, or a function given to :meth:`.db.Database.batch`) on a worker
thread, against :class:`InlineSqlite`, whose statements run there and then. The coroutine never
waits on anything but the database, so it is driven to its end without an event loop
(:func:`drive`): the queries are the same coroutines that run on PostgreSQL's event loop.

Short reads a client waits on (a token check, a ``hub://`` open's ``/creds`` lookups) skip the
trip: :meth:`SqliteBackend.read_here` runs them on the calling thread (the event loop) on a
read-only connection of that thread's own, which never waits. In WAL mode a reader does not
wait for writers; should SQLite still say busy (a lock held elsewhere, a WAL being recovered,
a file not in WAL mode), the read goes to a worker thread as any other work. Their results
depend on the database alone, so they are kept, and handed out again until anything at all
is committed to the database, by any connection or process: ``PRAGMA data_version``, one
cheap check per read, says so. A revoked token, a rotated key or a removed member is seen
by the next request.

WAL lets readers (other connections, a backup, ``sqlite3`` in a shell) work while one writer
writes, and ``synchronous=NORMAL`` is durable across process crashes (a power cut may lose
the last transactions, never corrupt the file). A commit happens in this process, so its
outcome is always known: nothing to find out after a lost connection (see :mod:`.db_postgres`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from .data_dir import private_db_files
from .db_backends import LOCK_TIMEOUT_MS, NOT_HERE, Result, sqlite_schema

__all__ = ["WORKERS", "InlineSqlite", "SqliteBackend", "drive", "sqlite_connect", "sqlite_writable"]

T = TypeVar("T")

#: Worker threads, each with its connection. Writers take turns; readers run alongside.
WORKERS = 4
#: SQLite's primary result codes saying another connection holds what a statement needs.
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
#: Past this many results kept for one state of the database, the reader starts over.
_MAX_KEPT = 4096


class _Reader:
    """One thread's read-only connection, and the reads' results kept for the state of the
    database ``PRAGMA data_version`` said last."""

    __slots__ = ("conn", "db", "kept", "version")

    def __init__(self, conn: sqlite3.Connection, db: Any) -> None:
        self.conn, self.db = conn, db
        self.version: int | None = None
        self.kept: dict[Any, Any] = {}

    def unchanged(self) -> None:
        """Forget the kept results if anything was committed since they were read."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.version, self.kept = version, {}


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


def _reader_connect(path: str) -> sqlite3.Connection | None:
    """A connection for reads that must never wait: no busy timeout, no writes, and only on a
    database in WAL mode (``None`` otherwise: there a reader can wait for a writer)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA query_only=ON")
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    except BaseException:
        conn.close()
        raise
    if mode != "wal":
        conn.close()
        return None
    return conn


def sqlite_writable(path: str, timeout: float = 0.5) -> str:
    """``"ok"``, or why a write transaction cannot begin on ``path`` within ``timeout``
    seconds (a lock held elsewhere, a read-only file, a missing directory)."""
    if path == ":memory:":
        return "ok"
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


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on this thread, without an event loop: it must never wait on
    anything but :class:`InlineSqlite`, whose coroutines finish without suspending."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("a database function waited on something other than the database")


class InlineSqlite:
    """One worker thread's connection, its statements run on the calling thread."""

    postgres = False
    #: Statements run here and now (no trip to take).
    batches = False

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn, self.path, self.where = conn, path, path

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        cur = self.conn.execute(sql, tuple(params))
        return Result(cur.fetchall(), cur.rowcount)

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = True, track_outcome: bool = True
    ) -> AsyncIterator[InlineSqlite]:
        """``BEGIN IMMEDIATE`` (writers take turns) or ``BEGIN`` (a snapshot that never waits
        for writers); rolled back on an exception, and a read-only one always."""
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT" if write else "ROLLBACK")

    def schema(self, script: str) -> list[str]:
        return sqlite_schema(script)

    async def schema_version(self, c: Any) -> int:
        return int((await c.execute("PRAGMA user_version")).fetchone()[0])

    async def set_schema_version(self, c: Any, version: int) -> None:
        await c.execute(f"PRAGMA user_version = {int(version)}")

    async def journal_mode(self) -> str:
        return str((await self.execute("PRAGMA journal_mode")).fetchone()[0])

    async def writable(self, timeout: float) -> str:
        return sqlite_writable(self.path, timeout)

    async def close(self) -> None:
        return None


class SqliteBackend(InlineSqlite):
    """The worker threads. Work reaches them through :meth:`run` only: a transaction cannot
    span trips to them."""

    batches = True

    def __init__(self, path: str, workers: int = WORKERS) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            private_db_files(path)
        self.path = self.where = path
        # An in-memory database lives in its one connection, on its one thread.
        self.pool = ThreadPoolExecutor(
            max_workers=1 if path == ":memory:" else workers, thread_name_prefix="shoal-db"
        )
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        #: Reads on the calling thread: an in-memory database lives on its worker thread only.
        self.reads_here = path != ":memory:"

    async def run(
        self,
        view: Callable[[InlineSqlite], Any],
        fn: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
    ) -> T:
        """``fn(view(here), *args)`` on a worker thread, ``here`` being its connection."""
        return await asyncio.wrap_future(self.pool.submit(self._on_thread, view, fn, args))

    def _on_thread(self, view: Callable[[InlineSqlite], Any], fn: Any, args: Any) -> Any:
        mine = getattr(self._local, "view", None)
        if mine is None:
            conn = sqlite_connect(self.path)
            with self._all_lock:
                self._all.append(conn)
            mine = self._local.view = view(InlineSqlite(conn, self.path))
        return drive(fn(mine, *args))

    def read_here(
        self,
        view: Callable[[InlineSqlite], Any],
        fn: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
    ) -> Any:
        """``fn(view(here), *args)`` on this thread (the event loop), ``here`` being this
        thread's read-only connection, when that needs no waiting; :data:`NOT_HERE` when the
        read must go to a worker thread instead (:meth:`run`). ``fn`` only reads, a few
        indexed lookups (it holds up the loop while it runs), and its result depends on the
        database and ``args`` alone: it is kept, and returned again, until the next commit."""
        if not self.reads_here or self._closed:
            return NOT_HERE
        try:
            reader: _Reader | None = getattr(self._local, "reader", None) or self._reader(view)
            if reader is None:
                return NOT_HERE
            reader.unchanged()
            key: Any = (fn, args)
            try:
                return reader.kept[key]
            except KeyError:
                pass
            except TypeError:  # an argument that cannot be a key: read every time
                key = None
            result = drive(fn(reader.db, *args))
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY:
                return NOT_HERE
            raise
        if key is not None:
            if len(reader.kept) >= _MAX_KEPT:
                reader.kept.clear()
            # Kept under the version read before the reads: a commit while they ran is a
            # new version, so the next read reads again.
            reader.kept[key] = result
        return result

    def _reader(self, view: Callable[[InlineSqlite], Any]) -> _Reader | None:
        conn = _reader_connect(self.path)
        if conn is None:
            self.reads_here = False
            return None
        with self._all_lock:
            if self._closed:
                conn.close()
                return None
            self._all.append(conn)
        reader = self._local.reader = _Reader(conn, view(InlineSqlite(conn, self.path)))
        return reader

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = True, track_outcome: bool = True
    ) -> AsyncIterator[InlineSqlite]:
        raise RuntimeError("on SQLite, run a transaction inside Database.batch")
        yield self  # pragma: no cover

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        raise RuntimeError("on SQLite, run statements inside Database.batch")

    async def writable(self, timeout: float) -> str:
        # Its own connection on its own thread: answers while the workers wait for a lock.
        return await asyncio.to_thread(sqlite_writable, self.path, timeout)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_now)

    def close_now(self) -> None:
        self._closed = True
        self.pool.shutdown(wait=True)
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
