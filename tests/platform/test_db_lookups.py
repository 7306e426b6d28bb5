"""Short reads a client waits on (``Database.batch(..., lookup=True)``): on SQLite they run on
the event loop, on a read-only connection that never waits for a lock, and their results are
kept only until the next commit, by any connection: nothing a commit changes is ever read
stale (a revoked token, a removed member)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from shoal.platform.db import Database, User


class Reads:
    """A lookup of a user's email that counts the times it really read the database and
    where it ran."""

    def __init__(self) -> None:
        self.count = 0
        self.threads: set[str] = set()

    async def __call__(self, db: Database, username: str) -> str | None:
        self.count += 1
        self.threads.add(threading.current_thread().name)
        user: User | None = await db.user(username)
        return user.email if user else None


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = await Database.open(tmp_path / "p.db")
    await database.create_user("someone", "old@example.com", "hash")
    yield database
    await database.close()


async def test_lookups_run_on_the_loop_and_see_every_commit(db: Database, tmp_path: Path) -> None:
    reads = Reads()
    assert await db.batch(reads, "someone", lookup=True) == "old@example.com"
    assert reads.threads == {threading.current_thread().name}  # no trip to a worker thread
    assert await db.batch(reads, "someone", lookup=True) == "old@example.com"
    assert reads.count == 1  # kept: nothing was committed since
    # A commit through the platform's own connections...
    await db.create_user("other", "other@example.com", "hash")
    assert await db.batch(reads, "someone", lookup=True) == "old@example.com"
    assert reads.count == 2
    # ... and one by another connection (another process, `sqlite3` in a shell) are both seen.
    conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    conn.execute("UPDATE users SET email = 'new@example.com' WHERE username = 'someone'")
    conn.close()
    assert await db.batch(reads, "someone", lookup=True) == "new@example.com"
    assert reads.count == 3
    # Without lookup=True, a batch is a trip to a worker thread, read every time.
    assert await db.batch(reads, "someone") == "new@example.com"
    assert reads.count == 4 and any(t.startswith("shoal-db") for t in reads.threads)


async def test_a_lookup_never_waits_for_a_writer(db: Database, tmp_path: Path) -> None:
    """Another connection holds the write lock, mid-transaction: a lookup answers at once,
    with what was committed (the loop is never held up waiting for the lock)."""
    writer = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE users SET email = 'uncommitted@example.com'")
    try:
        reads = Reads()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await db.batch(reads, "someone", lookup=True) == "old@example.com"
        assert loop.time() - started < 1.0  # the busy timeout is 5 s
        assert reads.threads == {threading.current_thread().name}
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert await db.batch(reads, "someone", lookup=True) == "uncommitted@example.com"


async def test_lookups_of_an_in_memory_database_go_to_its_thread() -> None:
    db = await Database.open(":memory:")
    try:
        await db.create_user("someone", "old@example.com", "hash")
        reads = Reads()
        assert await db.batch(reads, "someone", lookup=True) == "old@example.com"
        assert all(t.startswith("shoal-db") for t in reads.threads)
    finally:
        await db.close()
