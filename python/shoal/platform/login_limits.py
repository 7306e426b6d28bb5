"""Failed logins: throttled per (account, client address), with a backoff, and per address.

An attempt is counted when it starts, before the password is checked (an ``await`` on a
worker thread), so parallel attempts cannot all slip under the limit; a success takes its
attempt back and clears the pair's failures. Past ``per_pair`` failures of one account from
one address, each further attempt must wait ``backoff``, doubling with each failure (at most
``window``). The account itself is never locked: its owner, from another address, signs in
as usual. One address trying many accounts is stopped by ``per_ip`` attempts per ``window``.
"""

from __future__ import annotations

import collections
import time

__all__ = ["LoginLimiter"]

#: Past this many tracked keys (a flood of names or addresses), the oldest half is forgotten.
_MAX_KEYS = 100_000


class LoginLimiter:
    """Check-and-count in one step (:meth:`begin`), then :meth:`succeeded` on success."""

    def __init__(self, per_pair: int, per_ip: int, window: float, backoff: float) -> None:
        self.per_pair = per_pair
        self.per_ip = per_ip
        self.window = window
        self.backoff = backoff
        self._attempts: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str, now: float) -> collections.deque[float]:
        q = self._attempts.get(key)
        if q is None:
            return collections.deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._attempts[key]
        return q

    @staticmethod
    def _keys(username: str, ip: str) -> tuple[str, str]:
        return f"p:{username.lower()}\n{ip}", f"i:{ip}"

    def begin(self, username: str, ip: str) -> float:
        """Seconds ``username`` from ``ip`` must wait (nothing counted), or 0: the attempt is
        counted as a failure until :meth:`succeeded` says otherwise."""
        now = time.monotonic()
        pair_key, ip_key = self._keys(username, ip)
        pair, by_ip = self._recent(pair_key, now), self._recent(ip_key, now)
        wait = 0.0
        if len(pair) >= self.per_pair:
            delay = min(self.window, self.backoff * 2 ** (len(pair) - self.per_pair))
            wait = pair[-1] + delay - now
        if len(by_ip) >= self.per_ip:
            wait = max(wait, by_ip[-self.per_ip] + self.window - now)
        if wait > 0:
            return wait
        if len(self._attempts) > _MAX_KEYS:
            for key in list(self._attempts)[: len(self._attempts) // 2]:
                del self._attempts[key]
        for key in (pair_key, ip_key):
            self._attempts.setdefault(key, collections.deque()).append(now)
        return 0.0

    def succeeded(self, username: str, ip: str) -> None:
        """The attempt was right: forget the pair's failures and give the address its back."""
        pair_key, ip_key = self._keys(username, ip)
        self._attempts.pop(pair_key, None)
        q = self._attempts.get(ip_key)
        if q:
            q.pop()
