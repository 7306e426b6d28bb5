"""Grants: what the platform answers when asked for a ``hub://org/name`` dataset (where it
lives, credentials for it, whether the caller may write), cached until shortly before the
credentials expire, and refreshed from the platform for a provider that holds them longer.

The cache is per (platform, token, dataset, access), so opening the same dataset again costs
no round trip. :class:`GrantRefresher` is the async credential source the S3 and GCS providers
call before their credentials expire (they make it single-flight); it hands over the grant the
dataset was opened with first, then asks the platform for fresh ones, each time converted to
what the provider expects.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .platform_api import PlatformClient

__all__ = [
    "Grant",
    "GrantRefresher",
    "clear_cache",
    "forget",
    "gcs_token",
    "get_grant",
    "s3_session",
]

#: At most this many grants are cached (a long-lived process opening many datasets).
MAX_CACHED = 1000


@dataclass(frozen=True)
class Grant:
    """The platform's answer for one dataset."""

    path: str
    creds: dict[str, Any] = field(repr=False)
    mode: str  # "a" (may write) or "r"
    expiration: float | None
    registered: bool
    role: str
    user: str
    fetched_at: float
    #: ``"platform"``: no credentials; reads go through the platform's object endpoints.
    read_via: str = ""
    #: The data is the user's, connected from their own bucket: deleting removes the entry only.
    connected: bool = False

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    def fresh_enough(self, now: float) -> bool:
        """Whether the credentials have enough life left to hand out: more than a quarter of
        their lifetime, at most 5 minutes."""
        if self.expiration is None:
            return True
        lifetime = max(self.expiration - self.fetched_at, 1.0)
        return self.expiration - now > min(300.0, lifetime / 4)


_cache: dict[tuple[str, str, str, str], Grant] = {}


def clear_cache() -> None:
    """Forget every cached grant (tests; after changing roles)."""
    _cache.clear()


def forget(server: str, location: str) -> None:
    """Forget the grants for ``location`` (``"org/name"``) on ``server``: after the dataset
    was created, deleted, renamed or its privacy changed, the next open asks again."""
    for key in [k for k in _cache if k[0] == server and k[2] == location]:
        del _cache[key]


async def get_grant(
    client: PlatformClient, org: str, name: str, mode: str, *, fresh: bool = False
) -> Grant:
    """The grant for ``org/name`` (``mode`` ``"r"`` or ``"w"``): the cached one while it is
    fresh enough, else (or with ``fresh``) a new one from the platform."""
    key = (client.url, client.token or "", f"{org}/{name}", mode)
    now = time.time()
    cached = _cache.get(key)
    if cached is not None and not fresh and cached.fresh_enough(now):
        return cached
    data = await client.dataset_creds(org, name, mode, fresh=fresh)
    raw_creds = data.get("creds") or {}
    expiration = data.get("expiration", raw_creds.get("expiration"))
    grant = Grant(
        path=str(data["path"]),
        creds={k: v for k, v in raw_creds.items() if k != "expiration"},
        mode=str(data.get("mode", "r")),
        expiration=float(expiration) if expiration is not None else None,
        registered=bool(data.get("registered", True)),
        role=str(data.get("role", "")),
        user=str(data.get("user", "")),
        fetched_at=now,
        read_via=str(data.get("read_via") or ""),
        connected=bool(data.get("connected", False)),
    )
    if len(_cache) >= MAX_CACHED:
        _cache.clear()
    _cache[key] = grant
    return grant


# ----------------------------------------------------------------------------------------------
# what each provider's refreshable credentials expect


def _expiration(grant: Grant) -> float:
    return grant.expiration or time.time() + 3600


def s3_session(grant: Grant) -> dict[str, Any]:
    """Vended S3 session credentials as :mod:`shoal.auth.aws` refreshes them."""
    c = grant.creds
    if not (c.get("aws_access_key_id") and c.get("aws_secret_access_key")):
        from ..errors import UntrustedGrantError

        raise UntrustedGrantError("the platform's refreshed grant has no S3 keys")
    return {
        "access_key": c.get("aws_access_key_id"),
        "secret_key": c.get("aws_secret_access_key"),
        "token": c.get("aws_session_token"),
        "expiry_time": dt.datetime.fromtimestamp(_expiration(grant), dt.UTC).isoformat(),
    }


def gcs_token(grant: Grant) -> dict[str, Any]:
    """A vended GCS access token as :mod:`shoal.auth.gcs` takes it (also for opening)."""
    creds = {k: v for k, v in grant.creds.items() if k in ("gcs_oauth_token", "endpoint_url")}
    # Only a vended token: an empty one must never make the provider use the user's own login.
    if not isinstance(creds.get("gcs_oauth_token"), str) or not creds["gcs_oauth_token"]:
        from ..errors import UntrustedGrantError

        raise UntrustedGrantError("the platform's refreshed grant has no GCS access token")
    creds["expiration"] = _expiration(grant)
    return creds


class GrantRefresher:
    """Fresh credentials for one dataset, from the platform, in the form ``convert`` makes
    (:func:`s3_session` or :func:`gcs_token`). The first call hands over the grant the dataset
    was opened with, while it is fresh enough; ``fetches`` counts the platform calls since."""

    def __init__(
        self,
        client: PlatformClient,
        org: str,
        name: str,
        mode: str,
        first: Grant,
        convert: Callable[[Grant], Mapping[str, Any]],
    ) -> None:
        self.client = client
        self.org, self.name, self.mode = org, name, mode
        self.convert = convert
        self._first: Grant | None = first
        self.fetches = 0

    async def __call__(self) -> Mapping[str, Any]:
        grant, self._first = self._first, None
        if grant is None or not grant.fresh_enough(time.time()):
            grant = await get_grant(self.client, self.org, self.name, self.mode, fresh=True)
            self.fetches += 1
        return self.convert(grant)
