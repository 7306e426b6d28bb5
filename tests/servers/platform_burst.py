"""A burst of writes through a running platform, and the checks that its database is
consistent after the process was killed in the middle of it (``kill -9``).

:class:`Burst` runs threads that register users, sign in, create datasets and API tokens,
each remembering what the server acknowledged, until stopped or the server dies under them.
:func:`check_consistent` then reads the database directly (SQLite file or PostgreSQL) and
:func:`check_serves` asks the restarted server: every acknowledged write is there, every
write is whole (a user has its personal org and admin membership, no row points at a missing
one), and the server answers and takes new writes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shoal.platform.db import Database
from tests.servers.serve_process import ServeProcess, http

__all__ = ["Burst", "check_consistent", "check_serves", "kill_during_burst"]

PASSWORD = "correct horse battery"


@dataclass
class Acked:
    users: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)


class Burst:
    def __init__(self, url: str, prefix: str, threads: int = 6) -> None:
        self.url, self.prefix = url, prefix
        self.acked = Acked()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(threads)
        ]

    def start(self) -> Burst:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _run(self, t: int) -> None:
        i = 0
        try:
            while not self._stop.is_set():
                i += 1
                name = f"{self.prefix}t{t}n{i}"
                body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
                if http(self.url + "/api/user/register", "POST", body, timeout=10)[0] != 201:
                    continue
                with self._lock:
                    self.acked.users.append(name)
                creds = {"username": name, "password": PASSWORD}
                status, got = http(self.url + "/api/user/token", "POST", creds, timeout=10)
                if status != 200:
                    continue
                token = got["token"]
                for d in range(2):
                    tag = f"{name}/ds{d}"
                    made = http(
                        self.url + "/api/dataset/create", "POST", {"tag": tag}, token, timeout=10
                    )
                    if made[0] == 200:
                        with self._lock:
                            self.acked.datasets.append(tag)
                made = http(
                    self.url + "/api/user/tokens", "POST", {"name": "ci"}, token, timeout=10
                )
                if made[0] == 201:
                    with self._lock:
                        self.acked.tokens.append((name, "ci"))
        except OSError:
            return  # the server died under this thread: what it acknowledged is recorded


async def check_consistent(db: Database, acked: Acked) -> dict[str, int]:
    """Assert the database is whole and holds every acknowledged write; row counts."""
    if not db.postgres:
        assert (await db.execute("PRAGMA integrity_check")).fetchone()[0] == "ok"
        assert (await db.execute("PRAGMA foreign_key_check")).fetchall() == []

    async def q(sql: str) -> list[Any]:
        return (await db.execute(sql)).fetchall()

    async def none(sql: str) -> None:
        rows = await q(sql)
        assert rows == [], (sql, rows[:5])

    await none(
        "SELECT u.username FROM users u WHERE NOT EXISTS (SELECT 1 FROM orgs o "
        "JOIN members m ON m.org_id = o.id AND m.user_id = u.id AND m.role = 'admin' "
        "WHERE o.personal_user_id = u.id)"
    )
    await none(
        "SELECT o.name FROM orgs o WHERE NOT EXISTS "
        "(SELECT 1 FROM members m WHERE m.org_id = o.id AND m.role = 'admin')"
    )
    await none(
        "SELECT d.name FROM datasets d WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = d.org_id)"
    )
    await none(
        "SELECT t.jti FROM tokens t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)"
    )
    await none(
        "SELECT m.user_id FROM members m WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)"
    )
    users = {str(r[0]) for r in await q("SELECT username FROM users")}
    missing = [u for u in acked.users if u not in users]
    assert not missing, f"acknowledged users lost: {missing[:5]}"
    datasets = {
        f"{r[0]}/{r[1]}"
        for r in await q("SELECT o.name, d.name FROM datasets d JOIN orgs o ON o.id = d.org_id")
    }
    lost = [d for d in acked.datasets if d not in datasets]
    assert not lost, f"acknowledged datasets lost: {lost[:5]}"
    tokens = {
        (str(r[0]), str(r[1]))
        for r in await q(
            "SELECT u.username, t.name FROM tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.kind = 'api' AND t.revoked_at IS NULL"
        )
    }
    gone = [t for t in acked.tokens if t not in tokens]
    assert not gone, f"acknowledged API tokens lost: {gone[:5]}"
    return {"users": len(users), "datasets": len(datasets), "tokens": len(tokens)}


def check_serves(url: str, acked: Acked, probe: str) -> None:
    """The restarted server signs in an acknowledged user and takes new writes."""
    assert http(url + "/api/health")[0] == 200
    if acked.users:
        name = acked.users[-1]
        status, got = http(
            url + "/api/user/token", "POST", {"username": name, "password": PASSWORD}
        )
        assert status == 200, got
    body = {"username": probe, "email": f"{probe}@example.com", "password": PASSWORD}
    assert http(url + "/api/user/register", "POST", body)[0] == 201


def kill_during_burst(
    proc: ServeProcess, database: str, tag: str, delay: float
) -> tuple[Acked, dict[str, int]]:
    """Start ``proc``, run a burst, ``kill -9`` it ``delay`` seconds after the first dataset
    was acknowledged, and check the database it left: what the server acknowledged, and the
    row counts. The caller restarts it and probes with :func:`check_serves`."""
    proc.start()
    burst = Burst(proc.url, tag).start()
    deadline = time.monotonic() + 20
    while not burst.acked.datasets and time.monotonic() < deadline:
        time.sleep(0.01)  # the kill lands among writes, not before the first
    time.sleep(delay)
    proc.kill()
    burst.stop()

    async def check() -> dict[str, int]:
        db = await Database.open(database)
        try:
            return await check_consistent(db, burst.acked)
        finally:
            await db.close()

    return burst.acked, asyncio.run(check())
