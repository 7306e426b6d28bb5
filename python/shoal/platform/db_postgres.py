"""The platform's PostgreSQL database (several replicas on one database), behind the async
:class:`.db_backends.Backend` interface: psycopg 3's async API on the server's event loop,
with a small pool of connections of its own.

* Connections run in autocommit between explicit ``BEGIN``/``COMMIT``; a write transaction
  first takes the advisory write lock, so writers take turns across every replica.
  ``lock_timeout`` bounds every wait for a lock (a 503, as SQLite's ``busy_timeout``).
* A connection found dead (a server restart, a failover, a network cut) is dropped and the
  statement that found it starts again on a new one, if nothing had run on it yet; a
  transaction cut off half way fails (a 503: nothing of it was saved).
* **A lost COMMIT**: a connection lost while its ``COMMIT`` is on the way leaves the outcome
  unknown to this side: the change may have landed or not. So a write transaction learns its
  transaction id as it takes the write lock (``txid_current()``, in the same statement: no
  extra round trip). When ``COMMIT`` fails on a lost connection, a new connection ends the old
  session if the server still runs it (``pg_terminate_backend``, waiting for it to go: it can
  then neither commit later nor hold the write lock) and asks PostgreSQL what became of that
  transaction (``txid_status``, made for this): committed, and the caller carries on as if
  ``COMMIT`` had answered; aborted, and the caller gets
  :class:`~shoal.errors.DatabaseUnavailableError` with ``saved=False`` (retrying is safe).
  Only if that check fails too is the outcome reported unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from ..errors import DatabaseUnavailableError, PlatformConfigError
from .db_backends import LOCK_TIMEOUT_MS, WRITE_LOCK, Result, pg_schema, redact_url, row_factory

__all__ = ["POOL_SIZE", "PostgresBackend"]

#: Connections per process. Writers take turns on the write lock; readers run alongside.
POOL_SIZE = 8


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise PlatformConfigError(
            "database_url names PostgreSQL but psycopg is not installed; "
            "pip install 'shoal[postgres]'"
        ) from None
    return psycopg


class _Conn:
    """One ``AsyncConnection`` and the identity of its server session (pid and start time:
    a pid alone may be reused by a later session)."""

    def __init__(self, raw: Any, pid: int, started: Any, fresh: bool = True) -> None:
        self.raw, self.pid, self.started = raw, pid, started
        #: Not yet used: a failure on it is not a stale connection.
        self.fresh = fresh

    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        cur = await self.raw.execute(sql.replace("?", "%s"), tuple(params))
        rows = await cur.fetchall() if cur.description is not None else []
        return Result(rows, cur.rowcount)

    @property
    def usable(self) -> bool:
        raw = self.raw
        if raw.closed or raw.broken:
            return False
        return bool(raw.info.transaction_status == _psycopg().pq.TransactionStatus.IDLE)


class PostgresBackend:
    postgres = True
    batches = False

    def __init__(self, url: str, size: int = POOL_SIZE) -> None:
        self.psycopg = _psycopg()
        self.url = url
        self.where = redact_url(url)
        self.size = size
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(size)

    # -- connections -----------------------------------------------------------------------
    async def _connect(self, *, connect_timeout: float = 10.0) -> _Conn:
        psycopg = self.psycopg
        try:
            raw = await psycopg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                row_factory=row_factory,
                connect_timeout=max(1, int(connect_timeout)),
                application_name="shoal",
                # As SQLite's busy_timeout: a lock held elsewhere fails the wait (a 503)
                # instead of stalling the request for good.
                options=f"-c lock_timeout={LOCK_TIMEOUT_MS}",
            )
        except psycopg.OperationalError as exc:
            # The message can quote the URL's host and user, never its password.
            raise psycopg.OperationalError(
                f"cannot connect to PostgreSQL at {self.where}: "
                + str(exc).replace(self.url, self.where).strip().splitlines()[0]
            ) from None
        try:
            cur = await raw.execute(
                "SELECT backend_start FROM pg_stat_activity WHERE pid = %s", (raw.info.backend_pid,)
            )
            row = await cur.fetchone()
        except BaseException:
            await raw.close()
            raise
        return _Conn(raw, raw.info.backend_pid, row[0] if row else None)

    async def _acquire(self) -> _Conn:
        await self._slots.acquire()
        try:
            if self._idle:
                conn = self._idle.pop()
                conn.fresh = False
                return conn
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def _release(self, conn: _Conn, *, keep: bool = True) -> None:
        try:
            if keep and conn.usable:
                self._idle.append(conn)
            else:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.raw.close())
        finally:
            self._slots.release()

    async def _first(self, sql: str, params: Sequence[Any] = ()) -> tuple[_Conn, Result]:
        """A connection with ``sql`` run on it. An idle connection the server dropped since
        its last use is replaced, and ``sql`` runs again on the next (nothing of it ran)."""
        for _ in range(self.size + 1):
            conn = await self._acquire()
            try:
                return conn, await conn.execute(sql, params)
            except self.psycopg.OperationalError:
                stale = not conn.fresh and conn.raw.broken
                await self._release(conn, keep=False)
                if not stale:
                    raise
            except BaseException:
                await self._release(conn, keep=False)
                raise
        raise AssertionError("unreachable: a fresh connection ends the loop")

    # -- statements and transactions -------------------------------------------------------
    async def execute(self, sql: str, params: Sequence[Any] = (), /) -> Result:
        conn, result = await self._first(sql, params)
        await self._release(conn)
        return result

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = True, track_outcome: bool = True
    ) -> AsyncIterator[_Conn]:
        conn, _ = await self._first("BEGIN")
        done = False
        try:
            xid = None
            if write:
                # The write lock, and this transaction's id should its COMMIT go unanswered.
                locked = await conn.execute(
                    "SELECT pg_advisory_xact_lock(?), txid_current()", (WRITE_LOCK,)
                )
                xid = int(locked.fetchone()[1]) if track_outcome else None
            yield conn
            try:
                await conn.execute("COMMIT")
            except self.psycopg.OperationalError:
                if xid is None or not conn.raw.broken:
                    raise
                await self._settle(xid, conn)
            done = True
        finally:
            if not done and not conn.raw.broken:
                # An exception (a conflict, a lock timeout): roll back and keep the connection.
                # (Bounded: after a cancelled statement the connection may not answer; it is
                # then closed, not reused.)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(conn.execute("ROLLBACK")), 5)
            await self._release(conn)

    async def _settle(self, xid: int, lost: _Conn) -> None:
        """``lost`` was lost while committing transaction ``xid``: return if it committed,
        else raise saying it did not (or that nobody can tell)."""
        try:
            checker = await self._connect()
            try:
                # Its session may still be on the server (its COMMIT in flight, or never
                # arrived: idle in its transaction): end it, and wait until it is gone. A
                # session ended half way through its commit has committed whole or not at all.
                await checker.execute(
                    "SELECT pg_terminate_backend(pid, ?) FROM pg_stat_activity "
                    "WHERE pid = ? AND backend_start = ?",
                    (LOCK_TIMEOUT_MS, lost.pid, lost.started),
                )
                row = (await checker.execute("SELECT txid_status(?)", (xid,))).fetchone()
            finally:
                with contextlib.suppress(Exception):
                    await checker.raw.close()
        except Exception as exc:
            raise DatabaseUnavailableError(
                "the connection to the database was lost while saving this change, and whether "
                "it was saved could not be checked; look before trying again",
                saved=None,
            ) from exc
        status = row[0] if row is not None else None
        if status == "committed":
            return
        if status == "aborted":
            raise DatabaseUnavailableError(
                "the connection to the database was lost while saving this change; it was not "
                "saved: try again",
                saved=False,
            )
        raise DatabaseUnavailableError(
            "the connection to the database was lost while saving this change, and the "
            f"database cannot tell yet whether it was saved ({status}); look before trying again",
            saved=None,
        )

    # -- schema and health -----------------------------------------------------------------
    def schema(self, script: str) -> list[str]:
        return pg_schema(script)

    async def schema_version(self, c: Any) -> int:
        await c.execute("CREATE TABLE IF NOT EXISTS shoal_schema (version INTEGER NOT NULL)")
        row = (await c.execute("SELECT max(version) FROM shoal_schema")).fetchone()
        return int(row[0] or 0)

    async def set_schema_version(self, c: Any, version: int) -> None:
        await c.execute("INSERT INTO shoal_schema VALUES (?)", (version,))

    async def journal_mode(self) -> str:
        return "postgresql"

    async def writable(self, timeout: float = 0.5) -> str:
        """``"ok"``, or why a write transaction cannot run within ``timeout`` seconds
        (unreachable, read-only, the write lock held elsewhere). Its own connection: answers
        while the pool's wait for a lock."""
        try:
            conn = await self._connect(connect_timeout=2.0)
        except Exception as exc:
            return f"cannot open: {str(exc).replace(self.url, self.where)}"
        try:
            await conn.execute("BEGIN")
            await conn.execute(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            await conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            await conn.execute("SELECT txid_current()")  # fails on a read-only server
            await conn.execute("ROLLBACK")
        except self.psycopg.Error as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "lock timeout" in text:
                text = "database is locked: the write lock is held elsewhere"
            return f"not writable: {text}"
        finally:
            with contextlib.suppress(Exception):
                await conn.raw.close()
        return "ok"

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.raw.close()
