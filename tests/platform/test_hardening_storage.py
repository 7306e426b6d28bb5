"""The platform's own storage: files only the server's user can read, and a database that
is slow or locked never stalls the server (health says so instead)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.platform.db_backends import WRITE_LOCK

from .conftest import Running, StartPlatform, sqlite_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + json.dumps(getattr(record, "fields", {})))


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    logger = logging.getLogger("shoal.platform")
    handler = _Lines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_data_dir_and_database_are_private(start_platform: StartPlatform, tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    p = start_platform(data_dir=str(data))
    p.user()  # writes: the WAL and shared-memory files exist
    assert mode(data) == 0o700
    assert mode(data / "secret.key") == 0o600
    sqlite_only(p)
    for name in ("platform.db", "platform.db-wal", "platform.db-shm", "secret.key"):
        assert mode(data / name) == 0o600, name


def test_an_open_data_dir_is_tightened_with_a_warning(
    start_platform: StartPlatform, tmp_path: Path, log_lines: _Lines
) -> None:
    data = tmp_path / "open"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    db = data / "platform.db"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    p = start_platform(data_dir=str(data))
    sqlite_only(p)
    p.user()
    assert mode(data) == 0o700 and mode(db) == 0o600
    assert mode(data / "platform.db-wal") == 0o600
    warned = [line for line in log_lines.lines if "tightened permissions" in line]
    assert any(str(data) + '"' in line for line in warned) and any(
        str(db) in line for line in warned
    )


def _hold_write_lock(p: Running) -> Any:
    """A connection of another process holding the database's write lock (until closed):
    SQLite's, or the advisory lock writers take on PostgreSQL."""
    if p.config.database_url:
        import psycopg

        pg = psycopg.connect(p.config.database_url, autocommit=True)
        pg.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        return pg
    lock = sqlite3.connect(Path(p.config.data_dir) / "platform.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # closing rolls it back
    return lock


def test_a_locked_database_stalls_no_other_request(start_platform: StartPlatform) -> None:
    """A write lock held elsewhere (another process, a backup) past the busy timeout: the
    write waiting for it gets 503 after 5 s, and meanwhile health (503, saying why) and reads
    answer at once."""
    p = start_platform()
    user = p.user()
    lock = _hold_write_lock(p)
    waited: dict[str, tuple[int, object]] = {}
    body = {"username": "locked1", "email": "locked1@example.com", "password": "correct horse"}
    writer = threading.Thread(
        target=lambda: waited.update(reg=p.call("POST", "/api/user/register", body))
    )
    try:
        writer.start()
        time.sleep(0.5)  # the write is now waiting for the lock
        t0 = time.monotonic()
        status, health = p.call("GET", "/api/health")
        assert time.monotonic() - t0 < 2.0
        assert status == 503 and health["status"] == "degraded"
        assert "locked" in health["database"]
        t0 = time.monotonic()
        assert p.call("GET", "/api/user/profile", token=user.token)[0] == 200
        assert time.monotonic() - t0 < 2.0
        writer.join(timeout=15)
    finally:
        lock.close()
    status, answer = waited["reg"]
    assert status == 503, answer
    assert p.call("GET", "/api/health")[0] == 200
    assert p.call("POST", "/api/user/register", body)[0] == 201
