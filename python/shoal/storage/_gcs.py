"""``gcs://`` / ``gs://`` (and ``gcp://``): Google Cloud Storage, async, on gcloud-aio-storage.

One :class:`GcsStorage` per dataset root (``bucket/prefix``). It owns one ``aiohttp`` session
(connection pool sized to the concurrency limit), closed by :meth:`GcsStorage.close`, and a
:class:`~shoal.auth.gcs.GcsAuth` that hands out access tokens (see that module for every
``creds`` option). Every request:

- waits for a slot (at most ``concurrency`` requests in flight per provider);
- has a timeout (``timeout`` seconds, plus one second per MiB sent);
- is retried with exponential backoff and jitter on 408/429/5xx, dropped or reset connections
  and timeouts (``max_attempts`` in all; ``Retry-After`` is honoured); a 401 first drops the
  cached token and asks for a new one, once;
- maps failures to :mod:`shoal.errors` in one place (:meth:`GcsStorage._call`), naming the path
  and the credential source, never a secret. ``asyncio.CancelledError`` always propagates.

Objects up to ``resumable_threshold`` bytes are sent in one request; larger ones go through a
resumable upload in ``resumable_chunk``-sized pieces, and a failed piece resumes from what GCS
says it has. Ranged reads send a ``Range`` header.

The storage endpoint is ``https://storage.googleapis.com`` unless overridden, in this order: the
``endpoint_url`` key of a ``creds`` dict, ``SHOAL_GCS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``
(the emulator convention: without explicit creds, requests are then anonymous). Tuning comes
from the environment: ``SHOAL_GCS_TIMEOUT``, ``SHOAL_GCS_MAX_ATTEMPTS``,
``SHOAL_GCS_CONCURRENCY``, ``SHOAL_GCS_RESUMABLE_THRESHOLD`` (bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import math
import os
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast
from urllib.parse import quote

import aiohttp
from gcloud.aio.auth import Token
from gcloud.aio.storage import Storage as _GcloudStorage

from ..auth import gcs as gcs_auth
from ..errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidCredsError,
    NotFoundError,
    PathError,
    ShoalError,
    StorageConnectionError,
    StorageError,
)
from ._base import Storage, close_on_loop

__all__ = ["DEFAULT_ENDPOINT", "GcsOptions", "GcsStorage", "open_storage", "parse_location"]

log = logging.getLogger("shoal.storage.gcs")
T = TypeVar("T")

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK_ALIGN = 256 * 1024  # resumable pieces must be multiples of 256 KiB
_MIB = 1024 * 1024
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


@dataclass(frozen=True, slots=True)
class GcsOptions:
    """Per-provider tuning. :meth:`from_env` applies the ``SHOAL_GCS_*`` overrides."""

    timeout: float = 60.0
    max_attempts: int = 5
    concurrency: int = 64
    resumable_threshold: int = 8 * _MIB
    resumable_chunk: int = 8 * _MIB
    backoff_base: float = 0.1
    backoff_max: float = 8.0
    list_page_size: int = 1000

    @classmethod
    def from_env(cls) -> GcsOptions:
        def num(name: str, kind: type[int] | type[float], default: float) -> Any:
            raw = os.environ.get(name)
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise InvalidCredsError(f"{name}={raw!r} is not a valid number") from None
            if value <= 0:
                raise InvalidCredsError(f"{name}={raw!r} must be positive")
            return value

        d = cls()
        return cls(
            timeout=num("SHOAL_GCS_TIMEOUT", float, d.timeout),
            max_attempts=num("SHOAL_GCS_MAX_ATTEMPTS", int, d.max_attempts),
            concurrency=num("SHOAL_GCS_CONCURRENCY", int, d.concurrency),
            resumable_threshold=num("SHOAL_GCS_RESUMABLE_THRESHOLD", int, d.resumable_threshold),
        )

    def normalized(self) -> GcsOptions:
        chunk = max(_CHUNK_ALIGN, self.resumable_chunk // _CHUNK_ALIGN * _CHUNK_ALIGN)
        return replace(
            self,
            max_attempts=max(1, self.max_attempts),
            concurrency=max(1, self.concurrency),
            resumable_chunk=chunk,
        )


def parse_location(location: str) -> tuple[str, str]:
    """``"bucket/some/prefix/"`` → ``("bucket", "some/prefix")``, checking GCS's naming rules."""
    location = location.strip()
    bucket, _, prefix = location.partition("/")
    shown = f"gcs://{location}"
    if not bucket:
        raise PathError(f"{shown!r} names no bucket; use gcs://bucket/path/to/dataset")
    problem = _bucket_problem(bucket)
    if problem:
        raise PathError(f"{shown!r}: {bucket!r} is not a valid GCS bucket name: {problem}")
    prefix = prefix.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts) or any(c in prefix for c in "\r\n#?"):
        raise PathError(
            f"{shown!r}: the path inside the bucket may not contain empty, '.' or '..' "
            "segments, line breaks, '#' or '?'"
        )
    return bucket, prefix


def _bucket_problem(name: str) -> str | None:
    if len(name) < 3:
        return "it must be at least 3 characters long"
    if not _BUCKET_RE.match(name):
        if name != name.lower():
            return "it must be lowercase"
        return (
            "use only lowercase letters, digits, '-', '_' and '.', starting and ending with a "
            "letter or digit"
        )
    if len(name) > 222 or any(len(p) > 63 for p in name.split(".")):
        return "it may be at most 63 characters (222 with dots, 63 between dots)"
    if "." not in name and len(name) > 63:  # pragma: no cover - covered by the rule above
        return "it may be at most 63 characters"
    if ".." in name or ".-" in name or "-." in name:
        return "dots may not be next to each other or to a dash"
    if _IPV4_RE.match(name):
        return "it may not look like an IP address"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return "it may not start with 'goog' or contain 'google'"
    return None


def _endpoint(spec: gcs_auth.GcsCredsSpec) -> tuple[str, bool]:
    """The storage API root, and whether it came from ``STORAGE_EMULATOR_HOST``."""
    if spec.endpoint_url:
        return spec.endpoint_url, False
    env = os.environ.get("SHOAL_GCS_ENDPOINT_URL")
    if env:
        if not env.startswith(("http://", "https://")):
            raise InvalidCredsError(
                f"SHOAL_GCS_ENDPOINT_URL={env!r} must start with http:// or https://"
            )
        return env.rstrip("/"), False
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        url = emulator if emulator.startswith(("http://", "https://")) else f"http://{emulator}"
        return url.rstrip("/"), True
    return DEFAULT_ENDPOINT, False


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


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class _UploadSessionLost(Exception):
    """The resumable upload session is gone (404/410): start a new one."""


def _gcs_message(exc: aiohttp.ClientResponseError) -> str:
    """Google's error message out of gcloud-aio's ``"<reason>: <body>"``."""
    text = exc.message or ""
    reason, _, body = text.partition(": ")
    try:
        err = json.loads(body).get("error")
        if isinstance(err, dict) and err.get("message"):
            return gcs_auth._short(str(err["message"]), 200)
    except (ValueError, AttributeError):
        pass
    return gcs_auth._short(body or reason or "", 200)


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
        self._root = f"{prefix}/" if prefix else ""
        # One HTTP session per (process, loop): a forked child or another loop never reuses
        # an inherited pool (see _session).
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._client: _Client | None = None
        self._sem = asyncio.Semaphore(self.options.concurrency)
        self._stack: contextlib.AsyncExitStack | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
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
        endpoint, emulator = _endpoint(spec)
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
            http, _ = store._session()
            auth = await gcs_auth.resolve(
                spec, http, read_only=read_only, path=shown, refresh=refresh
            )
            store.auth = auth
            store._client = _Client(auth, http, endpoint)
            assert store._stack is not None
            store._stack.push_async_callback(auth.close)
            if check:
                await store._check_bucket()
        except BaseException:
            await store.close()
            raise
        return store

    def _session(self) -> tuple[aiohttp.ClientSession, _Client]:
        """The HTTP session and gcloud client of the running loop in this process."""
        if self._closed:
            raise StorageError(f"{self.url} is closed; open the dataset again")
        loop = asyncio.get_running_loop()
        owner = (os.getpid(), loop)
        if self._owner == owner and self._http is not None and self._client is not None:
            return self._http, self._client
        if self._stack is not None and self._owner is not None and self._owner[0] == owner[0]:
            close_on_loop(self._owner[1], self._stack)  # same process, another loop
        if self._finalizer is not None:
            self._finalizer.detach()
        o = self.options
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=o.concurrency),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=o.timeout),
            trust_env=True,
        )
        stack = contextlib.AsyncExitStack()
        stack.push_async_callback(http.close)
        stack.push_async_callback(self.auth.close)
        self.auth.bind(http)
        self._owner, self._http, self._stack = owner, http, stack
        self._client = _Client(self.auth, http, self.endpoint)
        self._sem = asyncio.Semaphore(o.concurrency)
        # A provider dropped without close() (a Dataset going out of scope) still releases
        # its pool: the session is closed on its loop when the provider is collected.
        self._finalizer = weakref.finalize(self, close_on_loop, loop, stack)
        self._finalizer.atexit = False
        return http, self._client

    # -- plumbing ----------------------------------------------------------------------------
    def _name(self, key: str) -> str:
        if not key or key.startswith("/") or "\r" in key or "\n" in key:
            raise PathError(f"invalid key {key!r} for {self.url}: keys are relative paths")
        if any(part in (".", "..") for part in key.split("/")):
            raise PathError(f"invalid key {key!r} for {self.url}: '.' and '..' are not allowed")
        return self._root + key

    def _what(self, key: str | None) -> str:
        return f"{key!r} in {self.url}" if key else self.url

    async def _backoff(self, attempt: int, headers: Mapping[str, str] | None) -> None:
        o = self.options
        delay = min(o.backoff_max, o.backoff_base * 2 ** (attempt - 1))
        delay = random.uniform(delay / 2, delay)
        retry_after = (headers or {}).get("Retry-After")
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), o.backoff_max))
        await asyncio.sleep(delay)

    async def _call(
        self, op: str, key: str | None, fn: Callable[[_Client], Awaitable[T]], *, nbytes: int = 0
    ) -> T:
        """Run one request with a slot, a timeout, retries, and the one error mapping."""
        o = self.options
        timeout = o.timeout + nbytes / _MIB
        attempt = 0
        reauthed = False
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                _, client = self._session()
                async with self._sem:
                    async with asyncio.timeout(timeout):
                        return await fn(client)
            except asyncio.CancelledError:
                raise
            except ShoalError:
                raise
            except aiohttp.ClientResponseError as exc:
                status = exc.status
                if status == 401 and not reauthed and self.auth.invalidate(started):
                    reauthed = True  # the token may have been revoked or expired early
                    attempt -= 1
                    continue
                if status in _RETRY_STATUS and attempt < o.max_attempts:
                    log.debug("%s %s: HTTP %s, retry %d", op, self._what(key), status, attempt)
                    await self._backoff(attempt, exc.headers)
                    continue
                raise self._map_status(op, key, exc, attempt) from None
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                if attempt < o.max_attempts:
                    log.debug("%s %s: %r, retry %d", op, self._what(key), exc, attempt)
                    await self._backoff(attempt, None)
                    continue
                reason = (
                    f"no answer within {timeout:g} s"
                    if isinstance(exc, TimeoutError)
                    else gcs_auth._reason(exc)
                )
                raise StorageConnectionError(
                    f"cannot reach GCS at {self.endpoint} to {op} {self._what(key)}: {reason} "
                    f"(after {attempt} attempt{'s' if attempt > 1 else ''}); check the network, "
                    "or the endpoint (creds['endpoint_url'], SHOAL_GCS_ENDPOINT_URL, "
                    "STORAGE_EMULATOR_HOST)"
                ) from None

    def _map_status(
        self, op: str, key: str | None, exc: aiohttp.ClientResponseError, attempts: int
    ) -> ShoalError:
        err = self._mapped(op, key, exc, attempts)
        err.http_status = exc.status  # type: ignore[attr-defined]
        return err

    def _mapped(
        self, op: str, key: str | None, exc: aiohttp.ClientResponseError, attempts: int
    ) -> ShoalError:
        status, msg, what = exc.status, _gcs_message(exc), self._what(key)
        detail = f"HTTP {status}{': ' + msg if msg else ''}"
        if status == 404:
            if op in ("list", "write"):
                return BucketNotFoundError(
                    f"bucket {self.bucket!r} does not exist at {self.endpoint} (for {self.url}); "
                    f"create it (`gcloud storage buckets create gs://{self.bucket}`) or check "
                    "the name"
                )
            return NotFoundError(f"{key!r} not found in {self.url}")
        if status == 401:
            advice = (
                "the bucket is not public: pass creds= (a key file, 'google_default', "
                "'browser', ...)"
                if self.auth.anonymous
                else "the credentials are not (or no longer) valid: check them or get new ones"
            )
            return CredentialsError(
                f"GCS refused to {op} {what} ({detail}) with {self.auth.description}; {advice}"
            )
        if status == 403:
            reading = op in ("read", "list")
            role = "roles/storage.objectViewer" if reading else "roles/storage.objectUser"
            return CredentialsError(
                f"{self.auth.description} may not {op} {what} ({detail}); grant it "
                f"{role} on bucket {self.bucket!r}, or use other credentials"
            )
        if status in _RETRY_STATUS:
            return StorageError(
                f"could not {op} {what}: {detail} after {attempts} attempts; GCS is throttling "
                "or unavailable, try again later"
            )
        return StorageError(f"could not {op} {what}: {detail}")

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
            await self._put_resumable(key, name, view if view is not None else memoryview(data))
            return
        body = data if isinstance(data, bytes) else bytes(data)
        timeout = math.ceil(self.options.timeout + size / _MIB)
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

    async def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | memoryview | str = b"",
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[int, Mapping[str, str], bytes]:
        """A raw request on our session (for what gcloud-aio-storage does not cover), raising
        ``ClientResponseError`` like it does for anything not in ``ok``."""
        http, _ = self._session()
        auth = await self.auth.headers()
        async with http.request(
            method,
            url,
            headers={**headers, **auth},
            data=data,
            params=params,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            if resp.status not in ok:
                text = body.decode("utf-8", "replace")
                raise aiohttp.ClientResponseError(
                    resp.request_info,
                    resp.history,
                    status=resp.status,
                    message=f"{resp.reason}: {text}",
                    headers=resp.headers,
                )
            return resp.status, resp.headers, body

    async def _put_resumable(self, key: str, name: str, data: memoryview) -> None:
        total = data.nbytes
        start_url = f"{self.endpoint}/upload/storage/v1/b/{quote(self.bucket, safe='')}/o"
        meta = json.dumps({"name": name})
        init_headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Upload-Content-Type": "application/octet-stream",
            "X-Upload-Content-Length": str(total),
        }
        stored: int | None = None
        for _round in range(2):

            async def initiate(_client: _Client) -> str:
                _, headers, _ = await self._request(
                    "POST",
                    start_url,
                    headers=init_headers,
                    data=meta,
                    params={"uploadType": "resumable", "name": name},
                )
                location = headers.get("Location")
                if not location:
                    raise StorageError(
                        f"GCS started no resumable upload for {self._what(key)} "
                        "(no Location in the answer)"
                    )
                return location

            session_uri = await self._call("write", key, initiate)
            try:
                stored = await self._send_pieces(key, session_uri, data)
            except _UploadSessionLost:
                log.info("resumable upload session for %s was lost; restarting", self._what(key))
                continue
            if stored is None or stored == total:
                return
            log.warning(
                "GCS kept %d of %d bytes of %s; uploading it again", stored, total, self._what(key)
            )
        raise StorageError(
            f"could not write {self._what(key)}: the resumable upload ended with "
            f"{stored if stored is not None else 'an unknown number of'} of {total} bytes stored"
        )

    async def _send_pieces(self, key: str, session_uri: str, data: memoryview) -> int | None:
        """Send ``data`` in pieces; return the size GCS reports for the finished object."""
        total = data.nbytes
        piece = self.options.resumable_chunk
        offset = 0
        ask_first = False  # the last piece failed: ask GCS where to resume before sending
        finished: dict[str, Any] = {}

        def persisted(headers: Mapping[str, str]) -> int:
            rng = headers.get("Range")  # "bytes=0-N": N+1 bytes are persisted
            return int(rng.rpartition("-")[2]) + 1 if rng else 0

        async def step(_client: _Client) -> bool:
            nonlocal offset, ask_first
            if ask_first:
                status, headers, body = await self._request(
                    "PUT",
                    session_uri,
                    headers={"Content-Range": f"bytes */{total}"},
                    ok=(200, 201, 308, 404, 410),
                )
                if status in (404, 410):
                    raise _UploadSessionLost
                if status in (200, 201):
                    finished.update(_json_object(body))
                    return True
                offset = persisted(headers)
                ask_first = False
            end = min(offset + piece, total)
            ask_first = True
            status, headers, body = await self._request(
                "PUT",
                session_uri,
                headers={
                    "Content-Range": f"bytes {offset}-{end - 1}/{total}",
                    "Content-Type": "application/octet-stream",
                },
                data=data[offset:end],
                ok=(200, 201, 308, 404, 410),
            )
            ask_first = False
            if status in (404, 410):
                raise _UploadSessionLost
            if status in (200, 201):
                finished.update(_json_object(body))
                return True
            offset = persisted(headers)
            return False

        while True:
            done = await self._call("write", key, step, nbytes=piece)
            if done:
                size = finished.get("size")
                return int(size) if size is not None else None

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        name = self._name(key)
        timeout = math.ceil(self.options.timeout)
        with contextlib.suppress(NotFoundError):
            await self._call("delete", key, lambda c: c.delete(self.bucket, name, timeout=timeout))

    async def close(self) -> None:
        """Close the HTTP session and stop token refreshes. The provider cannot be used
        afterwards. Idempotent."""
        self._closed = True
        stack, self._stack = self._stack, None
        self._client = self._http = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if stack is None or self._owner is None or self._owner[0] != os.getpid():
            return
        if self._owner[1] is asyncio.get_running_loop():
            await stack.aclose()
        else:
            close_on_loop(self._owner[1], stack)

    async def __aenter__(self) -> GcsStorage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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
