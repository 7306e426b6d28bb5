"""The HTTP client of the shoal platform's API (``shoal serve``): one method per endpoint,
each answer as parsed JSON or the matching :class:`shoal.errors.PlatformError`.

The platform URL and token default as in :mod:`.login_store` (``SHOAL_PLATFORM_URL``,
``SHOAL_TOKEN``, ``ACTIVELOOP_TOKEN``, the stored login). Calls made on shoal's background
loop share one keep-alive session, so repeated calls skip connection setup. A client may be
given a leaner transport for its GETs (:class:`GetTransport`; a ``hub://`` open's, which waits
on them); calls with a body, and a GET answered with a redirect, go through aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import urllib.parse
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, TypeVar

import aiohttp

from .. import _loop
from .._pool import ClientCache, Lease
from .._retry import NO_RETRY, RetryPolicy, Verdict
from ..errors import (
    AuthenticationError,
    DatasetNotFoundError,
    InvalidRequestError,
    PermissionDeniedError,
    PlatformConflictError,
    PlatformConnectionError,
    PlatformError,
    PlatformNotFoundError,
    RateLimitedError,
    TokenExpiredError,
    TokenRevokedError,
)
from . import login_store
from .hub_trust import check_transport
from .platform_names import check_name

__all__ = ["CONNECT_TIMEOUT", "TIMEOUT", "GetTransport", "PlatformClient", "run"]

T = TypeVar("T")

#: Seconds for one platform request, and for making its connection.
TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
#: Idempotent calls (GET, PUT, DELETE) are sent once more when the connection drops: a pooled
#: keep-alive connection the server has since closed (a restart, an idle timeout) fails before
#: the request is read. A refused connection or a timeout is not retried: the platform is down
#: or overloaded, and the user should hear so now.
RETRY = RetryPolicy(max_attempts=2, backoff_base=0.05, backoff_max=0.5)
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})


def _dropped(exc: BaseException) -> Verdict:
    """A connection that died under the request (not one that could not be made)."""
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return NO_RETRY  # never connected: refused, no route
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | ConnectionError):
        return Verdict(retry=True)
    return NO_RETRY


class GetTransport(Protocol):
    """What sends a client's GETs instead of aiohttp. Raises ``ConnectionRefusedError`` (or
    another ``OSError``) when it cannot connect, another ``ConnectionError`` when the
    connection dropped before the whole answer, ``TimeoutError`` for silence."""

    async def get(self, url: str, target: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """``GET`` of ``url`` (the platform's base URL) + ``target`` (path and encoded
        query): the status and the whole body."""
        ...


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


_TIMEOUT = aiohttp.ClientTimeout(total=TIMEOUT, sock_connect=CONNECT_TIMEOUT)
#: Keep-alive sessions, one per event loop and process (the pool every cloud client uses): a
#: forked child makes its own, a loop's session is closed when the loop shuts down.
_sessions: ClientCache[aiohttp.ClientSession] = ClientCache("platform", max_idle=1)


async def _new_session(stack: contextlib.AsyncExitStack) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(timeout=_TIMEOUT)
    stack.push_async_callback(session.close)
    return session


class _Session:
    """``async with _Session() as s``: the pooled session of the running loop."""

    def __init__(self) -> None:
        self._lease: Lease[aiohttp.ClientSession] | None = None

    async def __aenter__(self) -> aiohttp.ClientSession:
        self._lease = await _sessions.acquire("platform", _new_session)
        return self._lease.client

    async def __aexit__(self, *exc: object) -> None:
        if self._lease is not None:
            self._lease.release()


# ----------------------------------------------------------------------------------------------
# the API


class PlatformClient:
    """Calls to one platform as one user. ``url``/``token`` default as in
    :mod:`.login_store`; ``transport``: what sends the GETs (else aiohttp)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        transport: GetTransport | None = None,
    ) -> None:
        self.url = login_store.platform_url(url)
        self.token, self.token_source = login_store.resolve_token(token, self.url)
        self.transport = transport

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
        status, raw = await self._send(method, path, body=body, params=params, auth=auth)
        return self._json(status, raw)

    async def request_bytes(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> bytes | None:
        """A GET whose answer is raw bytes (an object read through the platform); ``None``
        for a 404 ``object_not_found``, the matching :class:`PlatformError` for other errors."""
        status, raw = await self._send("GET", path, params=params, auth=True)
        if status < 400:
            return raw
        try:
            self._json(status, raw)  # raises the error the answer names
        except PlatformNotFoundError as exc:
            if b'"object_not_found"' in raw:
                return None
            raise exc from None
        raise PlatformError(f"HTTP {status} from {self.url}", status=status)  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> tuple[int, bytes]:
        check_transport(self.url, "the platform URL")
        headers = {"Accept": "application/json", "hub-cli-version": "shoal"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.transport is not None and method == "GET" and body is None:
            status, raw = await self._send_lean(self.transport, path, params, headers)
            if not 300 <= status < 400:
                return status, raw
            # a redirect (a proxy in front of the platform, say): aiohttp follows it

        async def attempt() -> tuple[int, bytes]:
            async with (
                _Session() as session,
                session.request(
                    method, self.url + path, json=body, params=params, headers=headers
                ) as resp,
            ):
                return resp.status, await resp.read()

        classify = _dropped if method in _IDEMPOTENT else (lambda _: NO_RETRY)
        try:
            return await RETRY.start(classify).run(attempt)
        except aiohttp.ClientConnectorError as exc:  # refused, no route
            raise self._unreachable(type(exc).__name__) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            raise self._unreachable("the connection was dropped") from None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise self._unreachable(type(exc).__name__) from None

    async def _send_lean(
        self,
        transport: GetTransport,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> tuple[int, bytes]:
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")

        async def attempt() -> tuple[int, bytes]:
            async with asyncio.timeout(TIMEOUT):
                return await transport.get(self.url, target, headers)

        try:
            return await RETRY.start(_dropped).run(attempt)
        except ConnectionRefusedError as exc:
            raise self._unreachable(type(exc).__name__) from None
        except ConnectionError:
            raise self._unreachable("the connection was dropped") from None
        except (OSError, TimeoutError) as exc:
            raise self._unreachable(type(exc).__name__) from None

    def _json(self, status: int, raw: bytes) -> dict[str, Any]:
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
        return await self.request("DELETE", f"/api/user/tokens/{check_name(name)}")

    # -- orgs ------------------------------------------------------------------------------
    async def orgs(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/api/organizations"))["organizations"])

    async def create_org(self, name: str) -> dict[str, Any]:
        return await self.request("POST", "/api/organizations", body={"name": name})

    async def members(self, org: str) -> list[dict[str, Any]]:
        return list(
            (await self.request("GET", f"/api/organizations/{check_name(org)}/members"))["members"]
        )

    async def set_member(self, org: str, user: str, role: str) -> dict[str, Any]:
        path = f"/api/organizations/{check_name(org)}/members/{check_name(user)}"
        return await self.request("PUT", path, body={"role": role})

    async def remove_member(self, org: str, user: str) -> dict[str, Any]:
        return await self.request(
            "DELETE", f"/api/organizations/{check_name(org)}/members/{check_name(user)}"
        )

    # -- datasets --------------------------------------------------------------------------
    async def dataset_creds(
        self, org: str, name: str, mode: str, *, fresh: bool = False
    ) -> dict[str, Any]:
        """Where ``org/name`` lives and credentials for it (``mode`` ``"r"`` or ``"w"``;
        ``fresh``: newly issued ones, not the platform's cached ones)."""
        params = {"mode": mode, "no_cache": "true" if fresh else "false"}
        return await self.request(
            "GET", f"/api/org/{check_name(org)}/ds/{check_name(name)}/creds", params=params
        )

    async def register_dataset(
        self, org: str, name: str, meta: Mapping[str, Any] | None = None, *, public: bool = False
    ) -> dict[str, Any]:
        body = {"tag": f"{org}/{name}", "public": public, "rewrite": True, "meta": dict(meta or {})}
        return await self.request("POST", "/api/dataset/create", body=body)

    async def delete_dataset_entry(self, org: str, name: str) -> dict[str, Any]:
        return await self.request("DELETE", f"/api/dataset/{check_name(org)}/{check_name(name)}")

    async def update_dataset(
        self, org: str, name: str, *, public: bool | None = None, basename: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if public is not None:
            body["public"] = public
        if basename is not None:
            body["basename"] = basename
        return await self.request(
            "PUT", f"/api/org/{check_name(org)}/dataset/{check_name(name)}", body=body
        )

    async def dataset_info(self, org: str, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/org/{check_name(org)}/dataset/{check_name(name)}")

    # -- reads through the platform (stores without per-dataset credentials) -----------------
    def _objects(self, org: str, name: str) -> str:
        return f"/api/org/{check_name(org)}/ds/{check_name(name)}"

    async def read_object(
        self, org: str, name: str, key: str, start: int | None = None, end: int | None = None
    ) -> bytes | None:
        """The object ``key`` of ``org/name`` (or bytes ``[start, end)``); ``None`` if missing."""
        params = {"key": key}
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        return await self.request_bytes(self._objects(org, name) + "/object", params=params)

    async def object_exists(self, org: str, name: str, key: str) -> bool:
        path = self._objects(org, name) + "/object"
        return bool((await self.request("GET", path, params={"key": key, "stat": "1"}))["exists"])

    async def list_keys(self, org: str, name: str, prefix: str = "") -> list[str]:
        path = self._objects(org, name) + "/keys"
        return [
            str(k) for k in (await self.request("GET", path, params={"prefix": prefix}))["keys"]
        ]

    async def datasets(self, org: str) -> list[dict[str, Any]]:
        return list((await self.request("GET", f"/api/org/{check_name(org)}/datasets"))["datasets"])


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a client coroutine from sync code (the CLI), on shoal's background loop."""
    return _loop.run(coro)
