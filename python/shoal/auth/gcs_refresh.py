"""The access-token cache of one ``gcs://`` store: refreshed before expiry, one refresh in flight.

gcloud-aio-auth's ``Token`` caches too, but on whole seconds of wall-clock time, with up to
five retries spread over minutes and no way to share a refresh with callers that must not wait;
so shoal keeps its own cache and asks a :class:`~shoal.auth.gcs_tokens.TokenSource` for a token
only when this cache needs one.

A token is refreshed in the background once 75% of its lifetime is gone (at most 5 minutes
before expiry); only in the last 5% (at most a minute) does every caller wait, all of them for
the same refresh. The clock is an attribute (``clock``, ``time.monotonic`` by default) so tests
can move time forward instead of sleeping through token lifetimes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from ..errors import CredentialsError
from .gcs_tokens import Issued, TokenSource

__all__ = ["GcsAuth"]

log = logging.getLogger("shoal.auth.gcs")

#: After a failed background refresh, callers keep the current token this long before a
#: background refresh is tried again (a failing endpoint is not hammered by every request).
_QUIET_AFTER_FAILURE = 5.0


@dataclass(slots=True)
class _Held:
    value: str = field(repr=False)
    #: ``time.monotonic()`` when it was obtained, whatever ``clock`` is: :meth:`GcsAuth.invalidate`
    #: compares it with the start of a request the store timed with ``time.monotonic()``.
    acquired_at: float
    refresh_at: float  # from here on (on ``clock``), refresh in the background
    must_refresh_at: float  # from here on, every caller waits for the refresh

    @classmethod
    def of(cls, issued: Issued, now: float) -> _Held:
        acquired = time.monotonic()
        ttl = issued.expires_in
        if ttl <= 0:  # already expired (a vended token handed over late)
            return cls(issued.value, acquired, refresh_at=now, must_refresh_at=now)
        return cls(
            issued.value,
            acquired,
            refresh_at=now + ttl - min(300.0, ttl * 0.25),
            must_refresh_at=now + ttl - min(60.0, ttl * 0.05),
        )


class GcsAuth:
    """Access tokens for one provider: cached, refreshed before expiry, one refresh in flight.

    ``source`` is ``None`` for anonymous access. ``description`` says where credentials come
    from (for messages); it never holds a secret.
    """

    #: Seconds allowed for one token request.
    timeout: float = 30.0

    def __init__(
        self,
        source: TokenSource | None,
        description: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._http: aiohttp.ClientSession | None = None
        self.description = description or (source.description if source else "anonymous access")
        #: Seconds, for the refresh deadlines only; replace it to move time in tests.
        self.clock = clock
        self._held: _Held | None = None
        self._task: asyncio.Task[None] | None = None
        self._quiet_until = 0.0
        #: Number of tokens obtained so far (for tests and metrics).
        self.fetches = 0

    def bind(self, http: aiohttp.ClientSession) -> GcsAuth:
        """Use ``http`` (on the running loop) for token requests from now on. A refresh in
        flight on another loop (before a fork, say) is forgotten, not awaited."""
        self._http = http
        task = self._task
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            self._task = None
        return self

    def __repr__(self) -> str:
        return f"GcsAuth({self.description!r})"

    @property
    def anonymous(self) -> bool:
        return self._source is None

    @property
    def refreshable(self) -> bool:
        return self._source is not None and self._source.refreshable

    async def headers(self) -> dict[str, str]:
        """The ``Authorization`` header for a request (none when anonymous)."""
        if self._source is None:
            return {}
        return {"Authorization": f"Bearer {await self.token()}"}

    async def token(self) -> str:
        """A live access token: the cached one, or a fresh one (one request in flight)."""
        if self._source is None:
            raise CredentialsError(f"{self.description} has no access token")
        held = self._held
        now = self.clock()
        if held is not None:
            if now < held.refresh_at:
                return held.value
            if now < held.must_refresh_at:
                if now >= self._quiet_until:
                    self._refresh()
                return held.value
        await asyncio.shield(self._refresh())
        held = self._held
        if held is None:  # pragma: no cover - _fetch sets it or raises
            raise CredentialsError(f"no access token could be obtained from {self.description}")
        return held.value

    def valid_for(self) -> float:
        """Seconds the cached token will still be handed out without waiting for a refresh
        (0 when there is none)."""
        held = self._held
        return 0.0 if held is None else max(0.0, held.must_refresh_at - self.clock())

    def invalidate(self, older_than: float) -> bool:
        """Drop the token if it was obtained before ``older_than`` (a ``time.monotonic()``
        time): the store rejected it. Return whether asking the source again can help."""
        if self._held is not None and self._held.acquired_at < older_than:
            self._held = None
        return self.refreshable

    def preload(self, issued: Issued) -> None:
        """Start with ``issued`` (a token obtained while resolving the credentials)."""
        self._held = _Held.of(issued, self.clock())
        self.fetches += 1

    def _refresh(self) -> asyncio.Task[None]:
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._fetch())
            task.add_done_callback(self._refresh_done)
            self._task = task
        return task

    async def _fetch(self) -> None:
        assert self._source is not None
        if self._http is None:
            raise RuntimeError("GcsAuth.bind() was not called")
        issued = await self._source.fetch(self._http, self.timeout)
        self._held = _Held.of(issued, self.clock())
        self.fetches += 1
        log.debug(
            "new access token from %s (expires in %.0f s)", self.description, issued.expires_in
        )

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so a failed background refresh never warns
        if exc is not None:
            now = self.clock()
            self._quiet_until = now + _QUIET_AFTER_FAILURE
            if self._held is not None and now < self._held.must_refresh_at:
                log.warning("refreshing the access token from %s failed: %s", self.description, exc)

    async def close(self) -> None:
        """Stop a refresh in flight on the running loop."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.wait({task})  # its outcome is retrieved by _refresh_done
