"""``gcs://`` / ``gs://`` (and ``gcp://``): Google Cloud Storage, async, on gcloud-aio-storage.

One :class:`GcsStorage` per dataset root (``bucket/prefix``), with a
:class:`~shoal.auth.gcs.GcsAuth` that hands out access tokens (see that module for every
``creds`` option). The provider keeps only what is GCS's: the operations, location parsing and
options (:mod:`._gcs_options`), what GCS's failures mean (:mod:`._gcs_errors`) and resumable
uploads (:mod:`._gcs_upload`). The rest is the shared cloud plumbing (:mod:`._cloud`):

- the ``aiohttp`` session comes from the process-wide pool, one per loop and process for
  providers with the same pool size and timeout (a forked child or another loop makes its
  own); it is closed when the last provider using it is closed or collected;
- every request waits for a slot (at most ``concurrency`` in flight per provider), has a
  timeout (``timeout`` seconds, plus one second per MiB sent), and runs under the one
  :class:`~shoal._retry.RetryPolicy` (408/429/5xx, dropped or reset connections and timeouts;
  ``Retry-After`` is honoured; ``max_attempts`` in all); a 401 first drops the cached token and
  asks for a new one, once;
- failures are mapped to :mod:`shoal.errors` in one place, naming the path and the credential
  source, never a secret. ``asyncio.CancelledError`` always propagates.

Ranged reads send a ``Range`` header; :meth:`~shoal.storage.Storage.get_ranges` (the storage
base) merges neighbouring ranges.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import aiohttp
from gcloud.aio.auth import Token
from gcloud.aio.storage import Storage as _GcloudStorage

from ..auth import gcs as gcs_auth
from ..errors import CredentialsError, NotFoundError, PathError, ShoalError, StorageError
from . import _gcs_errors as gcserr
from ._base import Storage
from ._cloud import ClientCache, Lease, LeaseHold, close_on_loop
from ._gcs_options import DEFAULT_ENDPOINT, MIB, GcsOptions, endpoint_for, parse_location
from ._gcs_upload import put_resumable

__all__ = ["DEFAULT_ENDPOINT", "GcsOptions", "GcsStorage", "open_storage", "parse_location"]

T = TypeVar("T")

#: HTTP sessions, shared by the providers of a loop with the same pool size and timeout. None
#: is kept once unused: a dropped provider releases its connections right away.
_sessions: ClientCache[aiohttp.ClientSession] = ClientCache("gcs", max_idle=0)


_NO_TOKEN = object()


class _Client(_GcloudStorage):
    """gcloud-aio-storage with our token handling: no dev-mode shortcut (auth is sent to any
    endpoint, TLS is verified), anonymous when the auth says so."""

    def __init__(self, auth: gcs_auth.GcsAuth, session: aiohttp.ClientSession, api_root: str):
        # ``token`` is never used: _headers is ours. Passing one stops gcloud-aio-storage from
        # building its own Token, which would read GOOGLE_APPLICATION_CREDENTIALS by itself.
        super().__init__(
            token=cast(Token, _NO_TOKEN),
            session=cast(Any, session),  # typed for gcloud-rest's requests.Session as well
            api_root=api_root,
            api_is_dev=False,
        )
        self._auth = auth

    async def _headers(self) -> dict[str, str]:
        return await self._auth.headers()


class GcsStorage(Storage):
    """Objects under ``gs://bucket/prefix``. Build with :meth:`open` (or ``open_storage``)."""

    remote = True

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        auth: gcs_auth.GcsAuth,
        endpoint: str = DEFAULT_ENDPOINT,
        read_only: bool = False,
        options: GcsOptions | None = None,
    ) -> None:
        super().__init__(f"gcs://{bucket}/{prefix}" if prefix else f"gcs://{bucket}", read_only)
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.auth = auth
        self.options = (options or GcsOptions()).normalized()
        self._retry = self.options.retry_policy()
        self._root = f"{prefix}/" if prefix else ""
        self._hold: LeaseHold[aiohttp.ClientSession] = LeaseHold()
        self._client: _Client | None = None
        self._sem = asyncio.Semaphore(self.options.concurrency)
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"GcsStorage({self.url!r}, read_only={self.read_only}, "
            f"endpoint={self.endpoint!r}, creds={self.auth.description!r})"
        )

    @classmethod
    async def open(
        cls,
        location: str,
        *,
        read_only: bool = False,
        creds: object = None,
        options: GcsOptions | None = None,
        check: bool = True,
        refresh: gcs_auth.Refresher | None = None,
    ) -> GcsStorage:
        """Connect to ``location`` (``"bucket/prefix"``). With ``check``, make one listing
        request so a missing bucket or rejected credentials fail here, not at first use.
        ``refresh`` (for the platform): an async source of short-lived tokens, asked again
        before each one expires (see :func:`shoal.auth.gcs.resolve`)."""
        bucket, prefix = parse_location(location)
        shown = f"gcs://{bucket}/{prefix}" if prefix else f"gcs://{bucket}"
        spec = gcs_auth.GcsCredsSpec.parse(creds, path=shown)
        endpoint, emulator = endpoint_for(spec)
        if emulator and spec.kind == "default" and not spec.explicit:
            spec = gcs_auth.GcsCredsSpec("anon")
        opts = (options or GcsOptions.from_env()).normalized()
        store = cls(
            bucket,
            prefix,
            auth=gcs_auth.GcsAuth(None, "credentials not resolved yet"),
            endpoint=endpoint,
            read_only=read_only,
            options=opts,
        )
        try:
            http = await store._session()
            store.auth = await gcs_auth.resolve(
                spec, http, read_only=read_only, path=shown, refresh=refresh
            )
            store._client = _Client(store.auth, http, endpoint)
            if check:
                await store._check_bucket()
        except BaseException:
            await store.close()
            raise
        return store

    async def _session(self) -> aiohttp.ClientSession:
        """The HTTP session of the running loop in this process (and our gcloud client on it)."""
        if self._closed:
            raise StorageError(f"{self.url} is closed; open the dataset again")
        lease = self._hold.lease
        if lease is not None and lease.valid() and self._client is not None:
            return lease.client
        # First use, another loop or a forked child: never reuse a pool from elsewhere. An
        # inherited lease is the parent's and is left alone.
        if lease is not None:
            lease.drop()
        o = self.options

        async def make(stack: contextlib.AsyncExitStack) -> aiohttp.ClientSession:
            http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=o.concurrency),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=o.timeout),
                trust_env=True,
            )
            stack.push_async_callback(http.close)
            return http

        lease = await _sessions.acquire((o.concurrency, o.timeout), make)
        http = lease.client
        # A provider dropped without close() (a Dataset going out of scope) still gives its
        # session back and stops its token refreshes, on its loop, when it is collected.
        self._hold.adopt(self, lease, _drop, lease, asyncio.get_running_loop(), self.auth)
        self.auth.bind(http)
        self._client = _Client(self.auth, http, self.endpoint)
        self._sem = asyncio.Semaphore(o.concurrency)
        return http

    @property
    def _http(self) -> aiohttp.ClientSession | None:
        lease = self._hold.lease
        return lease.client if lease is not None and lease.valid() else None

    def _http_now(self) -> aiohttp.ClientSession:
        """The session of a request in flight (``_call`` made sure there is one)."""
        http = self._http
        if http is None:
            raise StorageError(f"{self.url} has no connection on this event loop")
        return http

    # -- plumbing ----------------------------------------------------------------------------
    def _name(self, key: str) -> str:
        if not key or key.startswith("/") or "\r" in key or "\n" in key:
            raise PathError(f"invalid key {key!r} for {self.url}: keys are relative paths")
        if any(part in (".", "..") for part in key.split("/")):
            raise PathError(f"invalid key {key!r} for {self.url}: '.' and '..' are not allowed")
        return self._root + key

    def _what(self, key: str | None) -> str:
        return f"{key!r} in {self.url}" if key else self.url

    def _where(self) -> gcserr.GcsWhere:
        return gcserr.GcsWhere(self.url, self.bucket, self.endpoint, self.auth)

    async def _call(
        self, op: str, key: str | None, fn: Callable[[_Client], Awaitable[T]], *, nbytes: int = 0
    ) -> T:
        """Run one request with a slot, a timeout, retries, and the one error mapping."""
        timeout = self.options.timeout + nbytes / MIB
        await self._session()
        started = time.monotonic()

        async def attempt() -> T:
            nonlocal started
            started = time.monotonic()
            client = self._client
            assert client is not None
            async with self._sem:
                async with asyncio.timeout(timeout):
                    return await fn(client)

        async def reauth(exc: BaseException) -> bool:
            # the token may have been revoked or expired early: a new one, once
            return (
                isinstance(exc, aiohttp.ClientResponseError)
                and exc.status == 401
                and self.auth.invalidate(started)
            )

        attempts = self._retry.start(gcserr.classify, reauth)
        try:
            return await attempts.run(attempt)
        except ShoalError:
            raise
        except aiohttp.ClientResponseError as exc:
            raise gcserr.map_status(exc, self._where(), op, key, attempts.count) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise gcserr.unreachable(exc, self._where(), op, key, attempts.count, timeout) from None

    async def _check_bucket(self) -> None:
        params = {"prefix": self._root, "maxResults": "1", "fields": "items(name)"}
        timeout = math.ceil(self.options.timeout)
        try:
            await self._call(
                "list",
                None,
                lambda c: c.list_objects(self.bucket, params=dict(params), timeout=timeout),
            )
        except CredentialsError as exc:
            # 403: listing may be forbidden while reading objects is allowed (object-level
            # ACLs); let the reads decide. 401 (no valid credentials) fails now.
            if getattr(exc, "http_status", None) != 403:
                raise

    # -- reads -------------------------------------------------------------------------------
    async def get(self, key: str) -> bytes:
        name = self._name(key)
        timeout = math.ceil(self.options.timeout)
        return await self._call(
            "read", key, lambda c: c.download(self.bucket, name, timeout=timeout)
        )

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range [{start}, {end}) of {key!r} is negative")
        name = self._name(key)
        if end is not None and end <= start:
            return b""
        spec = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        timeout = math.ceil(self.options.timeout)

        async def fetch(client: _Client) -> bytes:
            try:
                return await client.download(
                    self.bucket, name, headers={"Range": spec}, timeout=timeout
                )
            except aiohttp.ClientResponseError as exc:
                if exc.status == 416:  # the range starts at or past the end
                    return b""
                raise

        data = await self._call("read", key, fetch)
        if end is not None and len(data) > end - start:  # the Range header was ignored
            return data[start:end]
        return data

    async def exists(self, key: str) -> bool:
        name = self._name(key)
        timeout = math.ceil(self.options.timeout)
        try:
            await self._call(
                "read", key, lambda c: c.download_metadata(self.bucket, name, timeout=timeout)
            )
        except NotFoundError:
            return False
        return True

    async def list(self, prefix: str = "") -> list[str]:
        params = {
            "prefix": self._root + prefix,
            "fields": "items(name),nextPageToken",
            "maxResults": str(self.options.list_page_size),
        }
        timeout = math.ceil(self.options.timeout)
        names: list[str] = []
        while True:
            data: dict[str, Any] = await self._call(
                "list",
                prefix or None,
                functools.partial(
                    _Client.list_objects, bucket=self.bucket, params=dict(params), timeout=timeout
                ),
            )
            names.extend(item["name"] for item in data.get("items", ()))
            token = data.get("nextPageToken")
            if not token:
                break
            params["pageToken"] = token
        skip = len(self._root)
        return sorted(n[skip:] for n in names if n.startswith(self._root))

    # -- writes ------------------------------------------------------------------------------
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        name = self._name(key)
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else None
        size = view.nbytes if view is not None else len(data)
        if size > self.options.resumable_threshold:
            await put_resumable(self, key, name, view if view is not None else memoryview(data))
            return
        body = data if isinstance(data, bytes) else bytes(data)
        timeout = math.ceil(self.options.timeout + size / MIB)
        await self._call(
            "write",
            key,
            lambda c: c.upload(
                self.bucket,
                name,
                io.BytesIO(body),
                content_type="application/octet-stream",
                force_resumable_upload=False,
                timeout=timeout,
            ),
            nbytes=size,
        )

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        name = self._name(key)
        timeout = math.ceil(self.options.timeout)
        with contextlib.suppress(NotFoundError):
            await self._call("delete", key, lambda c: c.delete(self.bucket, name, timeout=timeout))

    async def close(self) -> None:
        """Stop token refreshes and give the HTTP session back (it is closed once no provider
        uses it). The provider cannot be used afterwards. Idempotent."""
        self._closed = True
        self._client = None
        await self._hold.release()
        await self.auth.close()

    async def __aenter__(self) -> GcsStorage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _drop(
    lease: Lease[aiohttp.ClientSession], loop: asyncio.AbstractEventLoop, auth: gcs_auth.GcsAuth
) -> None:
    """A collected provider: its session back to the pool, its token refreshes stopped."""
    lease.release()
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(auth.close)
    close_on_loop(loop, stack)


async def open_storage(
    location: str,
    *,
    read_only: bool = False,
    creds: object = None,
    token: str | None = None,
) -> Storage:
    """The routing entry point for ``gcs://``, ``gs://`` and ``gcp://`` paths. ``token`` (a
    platform token) plays no part for direct GCS paths."""
    del token
    return await GcsStorage.open(location, read_only=read_only, creds=creds)
