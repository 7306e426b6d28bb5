"""Failed logins: throttled per (account, client address), with a backoff, and per address.

An attempt is counted when it starts, before the password is checked (an ``await``), so parallel attempts cannot all slip under the limit; a success takes its
attempt back and clears the pair's failures. Past ``per_pair`` failures of one account from
one address, each further attempt must wait ``backoff``, doubling with each failure (at most
``window``). The account itself is never locked: its owner, from another address, signs in
as usual. One address trying many accounts is stopped by ``per_ip`` attempts per ``window``.

The attempts live in the database (``login_attempts``), checked and counted in one write
transaction, so every replica on one PostgreSQL counts the same attempts. A row holds a hash
of its (account, address) or address key, never the typed name (it may be a password typed
into the wrong field), and the wall-clock time (replicas share it; monotonic clocks are
per-host). Rows older than ``window`` are deleted as attempts come in.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Database

__all__ = ["SCHEMA", "LoginLimiter"]

SCHEMA = """
    CREATE TABLE login_attempts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX login_attempts_by_key ON login_attempts(key, at);
    CREATE INDEX login_attempts_by_time ON login_attempts(at);
"""


class LoginLimiter:
    """Check-and-count in one step (:meth:`begin`), then :meth:`succeeded` on success."""

    def __init__(
        self, db: Database, per_pair: int, per_ip: int, window: float, backoff: float
    ) -> None:
        self.db = db
        self.per_pair = per_pair
        self.per_ip = per_ip
        self.window = window
        self.backoff = backoff

    @staticmethod
    def _keys(username: str, ip: str) -> tuple[str, str]:
        def digest(text: str) -> str:
            return hashlib.sha256(text.encode()).hexdigest()[:32]

        return digest(f"p:{username.lower()}\n{ip}"), digest(f"i:{ip}")

    async def begin(self, username: str, ip: str) -> float:
        """Seconds ``username`` from ``ip`` must wait (nothing counted), or 0: the attempt is
        counted as a failure until :meth:`succeeded` says otherwise."""
        return await self.db.batch(self._begin, username, ip)

    async def _begin(self, db: Database, username: str, ip: str) -> float:
        now = time.time()
        pair_key, ip_key = self._keys(username, ip)
        async with db.transaction() as c:
            await c.execute("DELETE FROM login_attempts WHERE at <= ?", (now - self.window,))
            count, last = (
                await c.execute(
                    "SELECT count(*), max(at) FROM login_attempts WHERE key = ?", (pair_key,)
                )
            ).fetchone()
            wait = 0.0
            if count >= self.per_pair:
                delay = min(self.window, self.backoff * 2 ** (count - self.per_pair))
                wait = float(last) + delay - now
            # The per_ip-th latest attempt of the address: when it leaves the window.
            nth = (
                await c.execute(
                    "SELECT at FROM login_attempts WHERE key = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                    (ip_key, self.per_ip - 1),
                )
            ).fetchone()
            if nth is not None:
                wait = max(wait, float(nth[0]) + self.window - now)
            if wait > 0:
                return wait
            for key in (pair_key, ip_key):
                await c.execute("INSERT INTO login_attempts (key, at) VALUES (?, ?)", (key, now))
        return 0.0

    async def succeeded(self, username: str, ip: str) -> None:
        """The attempt was right: forget the pair's failures and give the address its back."""
        await self.db.batch(self._succeeded, username, ip)

    async def _succeeded(self, db: Database, username: str, ip: str) -> None:
        pair_key, ip_key = self._keys(username, ip)
        async with db.transaction() as c:
            await c.execute("DELETE FROM login_attempts WHERE key = ?", (pair_key,))
            await c.execute(
                "DELETE FROM login_attempts WHERE id = (SELECT id FROM login_attempts "
                "WHERE key = ? ORDER BY at DESC, id DESC LIMIT 1)",
                (ip_key,),
            )
