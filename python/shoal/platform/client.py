"""The ``hub://org/name`` client: platform API calls, credential caching and refresh, and the
storage provider the router opens for hub paths.

``open_storage("org/name", read_only=..., creds=..., token=...)`` (called by
:func:`shoal.routing.open_storage`) makes **one** platform call, ``GET
/api/org/{org}/ds/{name}/creds``, and opens the storage URL it answers with through the
router, with the vended credentials. The answer is cached per (platform, token, dataset,
access) until shortly before the credentials expire, so opening the same dataset again costs
no round trip. S3 credentials are refreshed in the background before they expire
(single-flight, through the S3 provider's refreshable credentials); a read or write in flight
never sees them lapse. If the platform says the user may only read, the dataset opens
read-only and a write says why.

The platform learns about a new dataset when its ``dataset_meta.json`` is first written (so a
failed ``shoal.empty`` leaves no entry behind) and forgets it when the whole dataset is
deleted.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .. import _loop, routing
from ..errors import (
    AuthenticationError,
    DatasetNotFoundError,
    InvalidRequestError,
    PathError,
    PermissionDeniedError,
    PlatformConflictError,
    PlatformConnectionError,
    PlatformError,
    PlatformNotFoundError,
    RateLimitedError,
    ReadOnlyError,
    TokenExpiredError,
    TokenRevokedError,
)
from ..format import keys
from ..storage import Storage
from . import config as settings
from .config import NAME_RE

__all__ = [
    "Grant",
    "HubStorage",
    "PlatformClient",
    "clear_cache",
    "open_storage",
    "rename_dataset",
    "set_public",
]

log = logging.getLogger("shoal.platform.client")

#: Seconds for one platform request (connect: 10).
TIMEOUT = 60.0
_FIX = {
    "login": "sign in again with `shoal login`",
    "api": "create a new token with `shoal token create --name NAME --expires 30d`",
}


# ----------------------------------------------------------------------------------------------
# errors


def _error(
    status: int, body: Mapping[str, Any], client: PlatformClient
) -> PlatformError | DatasetNotFoundError:
    """The shoal error for an error answer. The server's message says what and how to fix it;
    this adds where the token came from."""
    kind = str(body.get("error", ""))
    message = str(body.get("description") or body.get("message") or f"HTTP {status}")
    source = f" (token from {client.token_source})" if client.token else ""
    if kind == "token_expired":
        expired_at = None
        with_tz = str(body.get("expired_at", "")).replace("Z", "+00:00")
        with contextlib.suppress(ValueError):
            expired_at = dt.datetime.fromisoformat(with_tz)
        return TokenExpiredError(message + source, status=status, expired_at=expired_at)
    if kind == "token_revoked":
        return TokenRevokedError(message + source, status=status)
    if status == 401:
        return AuthenticationError(message + source, status=status)
    if status == 403:
        return PermissionDeniedError(message, status=status)
    if status == 404:
        if kind == "dataset_not_found":
            return DatasetNotFoundError(message)
        return PlatformNotFoundError(message, status=status)
    if status == 409:
        return PlatformConflictError(message, status=status)
    if status in (400, 413, 422):
        return InvalidRequestError(message, status=status)
    if status == 429:
        retry = body.get("retry_after")
        return RateLimitedError(
            message,
            status=status,
            retry_after=float(retry) if isinstance(retry, int | float) else 0.0,
        )
    return PlatformError(
        f"the platform at {client.url} answered HTTP {status}: {message}", status=status
    )


# ----------------------------------------------------------------------------------------------
# HTTP sessions


_TIMEOUT = aiohttp.ClientTimeout(total=TIMEOUT, sock_connect=10)
#: One keep-alive session on shoal's background loop (where the sync API runs), so repeated
#: platform calls skip connection setup. Created per process (fork-safe: a child makes its
#: own) and closed at exit.
_shared: tuple[int, asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = None


class _Session:
    """``async with _Session() as s``: the shared session on shoal's loop, else a session of
    its own for this one call (another loop: nothing would close a shared one there)."""

    def __init__(self) -> None:
        self._own: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> aiohttp.ClientSession:
        global _shared
        loop = asyncio.get_running_loop()
        # shoal's own loop, if it runs (never start it here: an async caller has its own).
        if loop is _loop._loop:
            shared = _shared
            if (
                shared is None
                or shared[0] != os.getpid()
                or shared[1] is not loop
                or shared[2].closed
            ):
                session = aiohttp.ClientSession(timeout=_TIMEOUT)
                _shared = (os.getpid(), loop, session)
                return session
            return shared[2]
        self._own = aiohttp.ClientSession(timeout=_TIMEOUT)
        return self._own

    async def __aexit__(self, *exc: object) -> None:
        if self._own is not None:
            await self._own.close()


@atexit.register
def _close_shared() -> None:
    shared = _shared
    if shared is None or shared[0] != os.getpid() or shared[2].closed or shared[1].is_closed():
        return
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(shared[2].close(), shared[1]).result(timeout=2)


# ----------------------------------------------------------------------------------------------
# the API


class PlatformClient:
    """Calls to one platform as one user. ``url``/``token`` default as in :mod:`.config`
    (``SHOAL_PLATFORM_URL``, ``SHOAL_TOKEN``, ``ACTIVELOOP_TOKEN``, the stored login)."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = settings.platform_url(url)
        self.token, self.token_source = settings.resolve_token(token, self.url)

    def __repr__(self) -> str:
        return f"PlatformClient({self.url!r}, token from {self.token_source})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        """One call; the JSON answer, or the matching :class:`PlatformError`."""
        headers = {"Accept": "application/json", "hub-cli-version": "shoal"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # A pooled keep-alive connection the server has since closed (a restart, an idle
        # timeout) fails before the request is read: idempotent calls are sent again.
        attempts = 2 if method in ("GET", "PUT", "DELETE") else 1
        for attempt in range(attempts):
            try:
                async with (
                    _Session() as session,
                    session.request(
                        method, self.url + path, json=body, params=params, headers=headers
                    ) as resp,
                ):
                    raw = await resp.read()
                    status = resp.status
                break
            except aiohttp.ClientConnectorError as exc:  # refused, no route: no retry
                raise self._unreachable(type(exc).__name__) from None
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if attempt + 1 < attempts:
                    continue
                raise self._unreachable("the connection was dropped") from None
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                raise self._unreachable(type(exc).__name__) from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PlatformError(
                f"the server at {self.url} did not answer with JSON (HTTP {status}); is it a "
                "shoal platform?",
                status=status,
            )
        if status >= 400:
            raise _error(status, data, self)
        return data

    def _unreachable(self, why: str) -> PlatformConnectionError:
        return PlatformConnectionError(
            f"cannot reach the shoal platform at {self.url} ({why}); is `shoal serve` running "
            "there? Set SHOAL_PLATFORM_URL or use `shoal login --server URL`"
        )

    # -- account ---------------------------------------------------------------------------
    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        body = {"username": username, "email": email, "password": password}
        return await self.request("POST", "/api/user/register", body=body, auth=False)

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """``{"token", "expires_at", "username"}``; does not store anything."""
        body = {"username": username, "password": password}
        return await self.request("POST", "/api/user/token", body=body, auth=False)

    async def profile(self) -> dict[str, Any]:
        return await self.request("GET", "/api/user/profile")

    async def logout(self) -> dict[str, Any]:
        return await self.request("POST", "/api/user/logout")

    async def create_token(self, name: str, expires: str = "30d") -> dict[str, Any]:
        return await self.request(
            "POST", "/api/user/tokens", body={"name": name, "expires": expires}
        )

    async def list_tokens(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/api/user/tokens"))["tokens"])

    async def revoke_token(self, name: str) -> dict[str, Any]:
        return await self.request("DELETE", f"/api/user/tokens/{_seg(name)}")

    # -- orgs ------------------------------------------------------------------------------
    async def orgs(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/api/organizations"))["organizations"])

    async def create_org(self, name: str) -> dict[str, Any]:
        return await self.request("POST", "/api/organizations", body={"name": name})

    async def members(self, org: str) -> list[dict[str, Any]]:
        return list(
            (await self.request("GET", f"/api/organizations/{_seg(org)}/members"))["members"]
        )

    async def set_member(self, org: str, user: str, role: str) -> dict[str, Any]:
        path = f"/api/organizations/{_seg(org)}/members/{_seg(user)}"
        return await self.request("PUT", path, body={"role": role})

    async def remove_member(self, org: str, user: str) -> dict[str, Any]:
        return await self.request("DELETE", f"/api/organizations/{_seg(org)}/members/{_seg(user)}")

    # -- datasets --------------------------------------------------------------------------
    async def dataset_creds(
        self, org: str, name: str, mode: str, *, fresh: bool = False
    ) -> dict[str, Any]:
        params = {"mode": mode, "no_cache": "true" if fresh else "false"}
        return await self.request(
            "GET", f"/api/org/{_seg(org)}/ds/{_seg(name)}/creds", params=params
        )

    async def register_dataset(
        self, org: str, name: str, meta: Mapping[str, Any] | None = None, *, public: bool = False
    ) -> dict[str, Any]:
        body = {"tag": f"{org}/{name}", "public": public, "rewrite": True, "meta": dict(meta or {})}
        return await self.request("POST", "/api/dataset/create", body=body)

    async def delete_dataset_entry(self, org: str, name: str) -> dict[str, Any]:
        return await self.request("DELETE", f"/api/dataset/{_seg(org)}/{_seg(name)}")

    async def update_dataset(
        self, org: str, name: str, *, public: bool | None = None, basename: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if public is not None:
            body["public"] = public
        if basename is not None:
            body["basename"] = basename
        return await self.request("PUT", f"/api/org/{_seg(org)}/dataset/{_seg(name)}", body=body)

    async def dataset_info(self, org: str, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/org/{_seg(org)}/dataset/{_seg(name)}")

    async def datasets(self, org: str) -> list[dict[str, Any]]:
        return list((await self.request("GET", f"/api/org/{_seg(org)}/datasets"))["datasets"])


def _seg(value: str) -> str:
    """A path segment: names are checked before they go into a URL."""
    if not NAME_RE.fullmatch(value):
        raise InvalidRequestError(
            f"invalid name {value[:80]!r}: use 1-64 letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    return value


def split_location(location: str) -> tuple[str, str]:
    """``"org/name"`` → ``("org", "name")``; :class:`PathError` for anything else."""
    parts = location.strip("/").split("/")
    if len(parts) != 2 or not all(NAME_RE.fullmatch(p) for p in parts):
        raise PathError(
            f"invalid hub path 'hub://{location}': use hub://org/name, where org and name are "
            "1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return parts[0], parts[1]


def parse_hub_path(path: str) -> tuple[str, str]:
    parsed = routing.parse(path)
    if parsed.scheme != "hub":
        raise PathError(f"{path!r} is not a hub:// path")
    return split_location(parsed.location)


# ----------------------------------------------------------------------------------------------
# credentials: cached until shortly before they expire


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

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    def fresh_enough(self, now: float) -> bool:
        if self.expiration is None:
            return True
        lifetime = max(self.expiration - self.fetched_at, 1.0)
        return self.expiration - now > min(300.0, lifetime / 4)


_cache: dict[tuple[str, str, str, str], Grant] = {}


def clear_cache() -> None:
    """Forget every cached grant (tests; after changing roles)."""
    _cache.clear()


def _forget(server: str, location: str) -> None:
    for key in [k for k in _cache if k[0] == server and k[2] == location]:
        del _cache[key]


async def get_grant(
    client: PlatformClient, org: str, name: str, mode: str, *, fresh: bool = False
) -> Grant:
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
    )
    if len(_cache) > 1000:
        _cache.clear()
    _cache[key] = grant
    return grant


class _S3Refresher:
    """Fresh S3 credentials from the platform for the S3 provider's refreshable credentials.
    The first call hands over the credentials the dataset was opened with."""

    def __init__(
        self, client: PlatformClient, org: str, name: str, mode: str, first: Grant
    ) -> None:
        self.client = client
        self.org, self.name, self.mode = org, name, mode
        self._first: Grant | None = first
        self.fetches = 0

    async def __call__(self) -> Mapping[str, Any]:
        grant, self._first = self._first, None
        if grant is None or not grant.fresh_enough(time.time()):
            grant = await get_grant(self.client, self.org, self.name, self.mode, fresh=True)
            self.fetches += 1
        c = grant.creds
        expiration = grant.expiration or time.time() + 3600
        return {
            "access_key": c.get("aws_access_key_id"),
            "secret_key": c.get("aws_secret_access_key"),
            "token": c.get("aws_session_token"),
            "expiry_time": dt.datetime.fromtimestamp(expiration, dt.UTC).isoformat(),
        }


def _gcs_creds(grant: Grant) -> dict[str, Any]:
    creds = {k: v for k, v in grant.creds.items() if k in ("gcs_oauth_token", "endpoint_url")}
    creds["expiration"] = grant.expiration or time.time() + 3600
    return creds


class _GcsRefresher(_S3Refresher):
    """Fresh GCS tokens from the platform, for the GCS provider's vended-token source."""

    async def __call__(self) -> Mapping[str, Any]:
        grant, self._first = self._first, None
        if grant is None or not grant.fresh_enough(time.time()):
            grant = await get_grant(self.client, self.org, self.name, self.mode, fresh=True)
            self.fetches += 1
        return _gcs_creds(grant)


# ----------------------------------------------------------------------------------------------
# the storage provider for hub:// paths


class HubStorage(Storage):
    """The dataset's real storage, behind its ``hub://org/name`` identity: reads and writes go
    straight to the store; the platform hears about creation and deletion."""

    def __init__(
        self,
        org: str,
        name: str,
        inner: Storage,
        client: PlatformClient,
        grant: Grant,
        *,
        read_only: bool,
        refresher: _S3Refresher | _GcsRefresher | None = None,
    ) -> None:
        super().__init__(f"hub://{org}/{name}", read_only)
        self.org, self.name = org, name
        self.inner = inner
        self.client = client
        self.grant = grant
        self.remote = inner.remote
        self.refresher = refresher
        self._registered = grant.registered

    @property
    def storage_url(self) -> str:
        """Where the data really is."""
        return self.grant.path

    def check_writable(self, key: str) -> None:
        if not self.read_only:
            return
        if not self.grant.writable:
            who = self.grant.user or "you"
            role = self.grant.role
            raise ReadOnlyError(
                f"cannot write {key!r}: {self.url} is read-only for {who} "
                f"({'a public dataset' if role == 'public' else f'role {role!r} in {self.org!r}'}); "
                f"ask an admin of {self.org!r} for the 'write' role"
            )
        super().check_writable(key)

    # -- reads -----------------------------------------------------------------------------
    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def get_buffer(self, key: str) -> bytes | memoryview:
        return await self.inner.get_buffer(key)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        return await self.inner.get_range(key, start, end)

    async def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return await self.inner.get_ranges(key, ranges)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return await self.inner.get_many(keys)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def list(self, prefix: str = "") -> list[str]:
        return await self.inner.list(prefix)

    # -- writes ----------------------------------------------------------------------------
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        await self.inner.put(key, data)
        if key == keys.DATASET_META and not self._registered:
            await self._register(data)

    async def put_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        self.check_writable(next(iter(items), ""))
        await self.inner.put_many(items)
        meta = items.get(keys.DATASET_META)
        if meta is not None and not self._registered:
            await self._register(meta)

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        await self.inner.delete(key)

    async def delete_prefix(self, prefix: str = "") -> None:
        self.check_writable(prefix)
        await self.inner.delete_prefix(prefix)
        if prefix == "" and self._registered:
            with contextlib.suppress(DatasetNotFoundError):  # someone removed it first
                await self.client.delete_dataset_entry(self.org, self.name)
            self._registered = False
            _forget(self.client.url, f"{self.org}/{self.name}")

    async def close(self) -> None:
        await self.inner.close()

    async def _register(self, raw_meta: bytes | bytearray | memoryview) -> None:
        try:
            meta = json.loads(bytes(raw_meta))
        except ValueError:
            meta = {}
        await self.client.register_dataset(
            self.org, self.name, meta if isinstance(meta, dict) else {}
        )
        self._registered = True
        _forget(self.client.url, f"{self.org}/{self.name}")


async def open_storage(
    location: str,
    *,
    read_only: bool = False,
    creds: object = None,
    token: str | None = None,
) -> HubStorage:
    """The router's entry point for ``hub://org/name``.

    ``creds`` (optional) replaces the vended credentials for the store, as in ``deeplake``.
    """
    org, name = split_location(location)
    client = PlatformClient(None, token)
    mode = "r" if read_only else "w"
    grant = await get_grant(client, org, name, mode)
    ro = read_only or not grant.writable
    if ro and not read_only:
        log.warning(
            "hub://%s/%s opens read-only: %s has %s",
            org,
            name,
            grant.user or "you",
            "read access to a public dataset"
            if grant.role == "public"
            else f"the {grant.role!r} role in {org!r}",
        )
    parsed = routing.parse(grant.path)
    refresher: _S3Refresher | _GcsRefresher | None = None
    if parsed.scheme == "s3" and creds is None and grant.creds.get("aws_session_token"):
        from ..storage._s3 import S3Storage, parse_location

        bucket, prefix = parse_location(parsed.location)
        extra = {k: grant.creds[k] for k in ("endpoint_url", "aws_region") if grant.creds.get(k)}
        refresher = _S3Refresher(client, org, name, mode, grant)
        inner: Storage = await S3Storage.open(
            bucket, prefix, creds=extra or None, read_only=ro, refresh=refresher
        )
    elif (
        parsed.scheme in ("gcs", "gs", "gcp")
        and creds is None
        and grant.creds.get("gcs_oauth_token")
    ):
        from ..storage._gcs import GcsStorage

        refresher = _GcsRefresher(client, org, name, mode, grant)
        inner = await GcsStorage.open(
            parsed.location, read_only=ro, creds=_gcs_creds(grant), refresh=refresher
        )
    else:
        store_creds = creds if creds is not None else (grant.creds or None)
        inner = await routing.open_storage(parsed, read_only=ro, creds=store_creds)
    return HubStorage(org, name, inner, client, grant, read_only=ro, refresher=refresher)


# ----------------------------------------------------------------------------------------------
# dataset operations that only the platform can do


async def rename_dataset_async(path: str, new_name: str, *, token: str | None = None) -> str:
    org, name = parse_hub_path(path)
    client = PlatformClient(None, token)
    await client.update_dataset(org, name, basename=_seg(new_name))
    _forget(client.url, f"{org}/{name}")
    _forget(client.url, f"{org}/{new_name}")
    return f"hub://{org}/{new_name}"


def rename_dataset(path: str, new_name: str, *, token: str | None = None) -> str:
    """Rename ``hub://org/name`` to ``hub://org/new_name`` (the data stays where it is);
    returns the new path. Needs the 'write' role."""
    return _loop.run(rename_dataset_async(path, new_name, token=token))


async def set_public_async(path: str, public: bool, *, token: str | None = None) -> None:
    org, name = parse_hub_path(path)
    client = PlatformClient(None, token)
    await client.update_dataset(org, name, public=public)
    _forget(client.url, f"{org}/{name}")


def set_public(path: str, public: bool = True, *, token: str | None = None) -> None:
    """Make ``hub://org/name`` readable by anyone (``public=True``) or members only. Needs the
    'admin' role."""
    _loop.run(set_public_async(path, public, token=token))


def run(coro: Any) -> Any:
    """Run a client coroutine from sync code (the CLI)."""
    return _loop.run(coro)
