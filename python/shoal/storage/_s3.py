"""``s3://bucket/prefix`` provider on aiobotocore, for AWS S3 and S3-compatible stores.

One aiobotocore client per provider (one connection pool, reused by every request, closed by
:meth:`S3Storage.close`), created on the loop that opened the provider and re-created after a
fork. Every request goes through :meth:`S3Storage._call`, the one place that

* bounds concurrency (``S3Options.concurrency`` requests in flight per provider),
* puts a timeout on the whole attempt (``request_timeout`` plus the payload at ``min_rate``),
  on top of aiohttp's connect and read (idle) timeouts,
* retries with jittered exponential backoff on throttling (503 SlowDown, 429, ...), 5xx and
  dropped connections, including a body cut off mid-read,
* forces a single-flight credential refresh when the store calls refreshable credentials
  expired, and
* maps every third-party exception to a :mod:`shoal.errors` class whose message names the
  path, the credential source (never a secret) and what to do.

``asyncio.CancelledError`` is never retried or swallowed; a cancelled multipart upload is
aborted. Large objects are uploaded in parts (``multipart_threshold``/``part_size``) with a
bounded number of parts in flight, each a zero-copy slice of the caller's buffer.
:meth:`S3Storage.get_ranges` merges neighbouring ranges (gaps up to ``coalesce_gap``) into
fewer GETs and splits the results back.

Checksums are only computed where S3 requires them (``when_required``), which S3-compatible
stores handle; addressing is path-style whenever an ``endpoint_url`` is given.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import os
import random
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NoReturn, TypeVar

import aiohttp
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from ..auth import aws
from ..errors import (
    BucketNotFoundError,
    CredentialsError,
    NotFoundError,
    PathError,
    ShoalError,
    StorageConnectionError,
    StorageError,
)
from ._base import Storage, close_on_loop

__all__ = ["S3Options", "S3Storage", "open_storage", "parse_location"]

T = TypeVar("T")

MiB = 1 << 20

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
    }
)
_TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"}
)
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"}
)
_STS_OPERATIONS = frozenset(
    {"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetRoleCredentials"}
)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise StorageError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True, slots=True)
class S3Options:
    """Tuning of the S3 provider. ``from_env()`` reads ``SHOAL_S3_<FIELD>`` overrides
    (e.g. ``SHOAL_S3_MAX_ATTEMPTS=2``, ``SHOAL_S3_CONNECT_TIMEOUT=1``)."""

    concurrency: int = 64  # requests in flight per provider (= connection pool size)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # longest silence while reading a response
    request_timeout: float = 120.0  # whole attempt, plus the payload at min_rate
    min_rate: float = 1.0 * MiB  # bytes/s a large transfer is allowed before it times out
    max_attempts: int = 6  # 1 try + 5 retries
    backoff_base: float = 0.1  # seconds; doubled per retry, jittered, x5 for throttling
    backoff_max: float = 10.0
    multipart_threshold: int = 64 * MiB  # objects above this are uploaded in parts
    part_size: int = 16 * MiB
    parts_in_flight: int = 8  # per upload: bounds memory to parts_in_flight x part_size
    coalesce_gap: int = 64 * 1024  # get_ranges: merge ranges closer than this
    coalesce_max: int = 16 * MiB  # ... into GETs of at most this many bytes
    list_page: int = 1000

    @classmethod
    def from_env(cls, **overrides: Any) -> S3Options:
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(cls(), f.name)
            value = _env_number(f"SHOAL_S3_{f.name.upper()}", default)
            values[f.name] = int(value) if isinstance(default, int) else value
        values.update(overrides)
        opts = cls(**values)
        if opts.concurrency < 1 or opts.max_attempts < 1 or opts.parts_in_flight < 1:
            raise StorageError(
                "S3 options concurrency, max_attempts and parts_in_flight must be >= 1"
            )
        if opts.part_size < 5 * MiB:
            raise StorageError("S3 part_size must be at least 5 MiB (the S3 minimum)")
        return opts


def parse_location(location: str) -> tuple[str, str]:
    """``"bucket/some/prefix"`` → ``("bucket", "some/prefix")``; raise :class:`PathError` for a
    malformed location or an invalid bucket name."""
    path = f"s3://{location}"
    if any((c.isspace() and c != " ") or ord(c) < 32 for c in location):
        raise PathError(f"{path!r} contains control characters")
    bucket, _, prefix = location.partition("/")
    if not bucket:
        raise PathError(f"{path!r} names no bucket; use s3://bucket/path/to/dataset")
    if "@" in location or ":" in bucket:
        # maybe user:password@host: never echo it
        raise PathError(
            "an s3:// path cannot carry credentials, a host or a port; use s3://bucket/path "
            "and pass the keys and endpoint_url in creds"
        )
    if "?" in bucket or "#" in bucket:
        raise PathError(f"{path!r} is not a valid S3 path; use s3://bucket/path")
    _check_bucket(bucket, path)
    prefix = prefix.strip("/")
    if prefix:
        parts = prefix.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise PathError(
                f"{path!r} has an empty, '.' or '..' path segment; S3 keys are taken literally, "
                "so write the path without them"
            )
    return bucket, prefix


def _check_bucket(bucket: str, path: str) -> None:
    problem = None
    if not 3 <= len(bucket) <= 63:
        problem = "must be 3 to 63 characters long"
    elif not _BUCKET.match(bucket):
        problem = (
            "may contain only lowercase letters, digits, '.' and '-', and must start and end "
            "with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "may not contain '..', '.-' or '-.'"
    else:
        with contextlib.suppress(ValueError):
            ipaddress.IPv4Address(bucket)
            problem = "may not look like an IP address"
    if problem:
        raise PathError(f"invalid S3 bucket name {bucket!r} in {path!r}: a bucket name {problem}")


# ----------------------------------------------------------------------------------------------


class _Retry(Exception):
    """Internal: the attempt failed in a way worth another try."""

    def __init__(self, cause: BaseException, throttled: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.throttled = throttled


def _error_info(exc: ClientError) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def _is_transient(exc: BaseException) -> tuple[bool, bool]:
    """(retry?, throttled?) for an exception raised by one attempt."""
    if isinstance(exc, ClientError):
        code, status = _error_info(exc)
        if code in _THROTTLE_CODES or status == 429:
            return True, True
        if status == 503:
            return True, True
        return code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS, False
    if isinstance(exc, HTTPClientError | BotoConnectionError | IncompleteReadError):
        # connection refused / reset / closed, read timeouts, a body cut off mid-read
        return True, False
    if isinstance(exc, aiohttp.ClientError | ConnectionError | TimeoutError):
        return True, False
    if isinstance(exc, OSError) and not isinstance(exc, ShoalError):
        return True, False
    return False, False


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``. Open with :meth:`open` (or ``shoal.load``)."""

    remote = True  # a request costs a round trip: readers fetch only the byte ranges they need

    def __init__(
        self,
        bucket: str,
        prefix: str,
        resolved: aws.ResolvedAws,
        *,
        read_only: bool = False,
        options: S3Options | None = None,
    ) -> None:
        url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        super().__init__(url, read_only)
        self.bucket = bucket
        self.prefix = prefix
        self.options = options or S3Options.from_env()
        self._root = f"{prefix}/" if prefix else ""
        self._resolved = resolved
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._bucket_checked = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        bucket: str,
        prefix: str = "",
        *,
        creds: object = None,
        read_only: bool = False,
        options: S3Options | None = None,
        refresh: aws.Refresher | None = None,
    ) -> S3Storage:
        """Resolve credentials and connect. ``refresh`` (for the platform): an async source of
        short-lived credentials, refreshed before they expire."""
        prefix = prefix.strip("/")
        url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        _check_bucket(bucket, url)
        spec = aws.AwsCredsSpec.parse(creds, path=url)
        aws.install_log_redaction()
        resolved = await aws.resolve(spec, path=url, refresh=refresh)
        store = cls(bucket, prefix, resolved, read_only=read_only, options=options)
        await store._ensure_client()
        return store

    @property
    def credential_source(self) -> str:
        """Where the credentials came from, in words (no secrets)."""
        return self._resolved.source

    @property
    def endpoint_url(self) -> str:
        if self._client is not None:
            return str(self._client.meta.endpoint_url)
        return self._resolved.endpoint_url or "https://s3.amazonaws.com"

    @property
    def credentials(self) -> Any:
        """The botocore credentials object signing this provider's requests."""
        return self._resolved.credentials

    async def _ensure_client(self) -> Any:
        if self._closed:
            raise StorageError(f"the S3 provider for {self.url} is closed; open the path again")
        loop = asyncio.get_running_loop()
        owner = (os.getpid(), loop)
        if self._client is not None and self._owner == owner:
            return self._client
        # First use, or a forked child / another loop: never reuse an inherited pool.
        opts = self.options
        config = AioConfig(
            region_name=self._resolved.region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if self._resolved.endpoint_url else "auto"},
            retries={"total_max_attempts": 1},  # retries are ours, in _call
            connect_timeout=opts.connect_timeout,
            read_timeout=opts.read_timeout,
            max_pool_connections=opts.concurrency,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            tcp_keepalive=True,
        )
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                self._resolved.session.create_client(
                    "s3", endpoint_url=self._resolved.endpoint_url, config=config
                )
            )
        except (NoRegionError, ValueError, BotoCoreError) as exc:
            await stack.aclose()
            raise StorageError(
                f"cannot set up the S3 client for {self.url}: {aws.scrub(str(exc))}; check "
                "creds['endpoint_url'] and creds['aws_region']"
            ) from None
        if self._stack is not None and self._owner is not None and self._owner[0] == owner[0]:
            # same process, another loop: close the old pool on its own loop if it still runs
            close_on_loop(self._owner[1], self._stack)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._client, self._stack, self._owner = client, stack, owner
        self._slots = asyncio.Semaphore(opts.concurrency)
        # A provider dropped without close() (a Dataset going out of scope) still releases its
        # pool: the client is closed on its loop when the provider is collected.
        self._finalizer = weakref.finalize(self, close_on_loop, loop, stack)
        self._finalizer.atexit = False
        _live.add(self)
        return client

    async def close(self) -> None:
        """Close the connection pool. The provider cannot be used afterwards."""
        self._closed = True
        _live.discard(self)
        stack, self._stack, self._client = self._stack, None, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if stack is not None and self._owner is not None and self._owner[0] == os.getpid():
            await stack.aclose()

    async def __aenter__(self) -> S3Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the one place requests go through ----------------------------------------------------
    def _attempt_timeout(self, nbytes: int) -> float:
        return self.options.request_timeout + nbytes / self.options.min_rate

    def _backoff(self, retry: int, throttled: bool) -> float:
        base = self.options.backoff_base * (5 if throttled else 1)
        ceiling = min(self.options.backoff_max, base * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _call(
        self,
        op: str,
        key: str,
        fn: Callable[[Any, asyncio.Timeout], Awaitable[T]],
        *,
        nbytes: int = 0,
    ) -> T:
        """Run ``fn(client, timeout)`` with bounded concurrency, a timeout, retries and error
        mapping. ``fn`` may extend the timeout once it knows the payload size."""
        client = await self._ensure_client()
        assert self._slots is not None
        retry = 0
        refreshed = False
        while True:
            try:
                async with self._slots:
                    async with asyncio.timeout(self._attempt_timeout(nbytes)) as timeout:
                        return await fn(client, timeout)
            except asyncio.CancelledError:
                raise
            except ShoalError:
                raise
            except Exception as exc:
                transient, throttled = _is_transient(exc)
                if transient and retry + 1 < self.options.max_attempts:
                    retry += 1
                    await asyncio.sleep(self._backoff(retry, throttled))
                    continue
                if not refreshed and await self._refresh_after(exc):
                    refreshed = True
                    continue
                self._raise(exc, op, key, attempts=retry + 1)

    async def _refresh_after(self, exc: Exception) -> bool:
        """After the store rejected refreshable credentials: refresh once and retry."""
        creds = self._resolved.credentials
        if not isinstance(exc, ClientError) or not isinstance(
            creds, aws.AdaptiveRefreshableCredentials
        ):
            return False
        code, _ = _error_info(exc)
        if code not in _EXPIRED_CODES and code not in ("InvalidAccessKeyId", "InvalidToken"):
            return False
        try:
            await creds.force_refresh()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False  # the original error says more than a failed refresh
        return True

    def _path(self, key: str) -> str:
        return f"{self.url}/{key}" if key else self.url

    def _raise(self, exc: BaseException, op: str, key: str, *, attempts: int = 1) -> NoReturn:
        """Map ``exc`` to a shoal error: the one place third-party exceptions are translated."""
        path = self._path(key)
        source = self.credential_source
        endpoint = self.endpoint_url
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, ClientError):
            code, status = _error_info(exc)
            message = aws.scrub(str(exc.response.get("Error", {}).get("Message", "")))
            if getattr(exc, "operation_name", "") in _STS_OPERATIONS:
                raise CredentialsError(
                    f"could not get credentials for {path} from {source}: {code}: {message}. "
                    "Check the role ARN, its trust policy, and the STS endpoint"
                ) from None
            if code in ("NoSuchKey", "NotFound") or (status == 404 and code in ("", "404")):
                raise NotFoundError(f"{key!r} not found in {self.url}") from None
            if code == "NoSuchBucket":
                raise BucketNotFoundError(self._no_bucket_message(path)) from None
            if code == "InvalidBucketName":
                raise PathError(f"the store rejects the bucket name {self.bucket!r} ({path})")
            if code == "InvalidAccessKeyId":
                raise CredentialsError(
                    f"{op} {path}: the store does not know the access key from {source}"
                    f"{' (temporary credentials may have expired)' if self._has_token else ''}. "
                    "Check the key id, the endpoint_url "
                    f"({endpoint}) and region, or get fresh credentials"
                ) from None
            if code == "SignatureDoesNotMatch":
                raise CredentialsError(
                    f"{op} {path}: the secret key from {source} does not match its access key "
                    "(the signature was rejected). Check aws_secret_access_key, or that a proxy "
                    "does not rewrite requests"
                ) from None
            if code in _EXPIRED_CODES or code == "InvalidToken":
                raise CredentialsError(
                    f"{op} {path}: the session token from {source} is "
                    f"{'expired' if code != 'InvalidToken' else 'invalid'} ({code}). Get fresh "
                    "credentials, or use a refreshable source (a profile, an IAM role) instead "
                    "of a fixed session token"
                ) from None
            if code in ("AccessDenied", "AllAccessDisabled", "Forbidden") or status == 403:
                verb = "write to" if op in ("put", "delete") else "read"
                raise CredentialsError(
                    f"{op} {path}: access denied for the credentials from {source}: they are "
                    f"valid but not allowed to {verb} {self.url}. Grant them the permission "
                    "(e.g. s3:GetObject / s3:PutObject / s3:ListBucket on the bucket and "
                    "prefix) or use other credentials"
                ) from None
            if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301") or (
                status == 301
            ):
                raise StorageError(
                    f"{op} {path}: bucket {self.bucket!r} is in another region than "
                    f"{self._resolved.region!r}; pass creds={{'aws_region': ...}} with the "
                    "bucket's region"
                ) from None
            if code == "RequestTimeTooSkewed":
                raise StorageError(
                    f"{op} {path}: the store rejects the request time; this machine's clock is "
                    "off, fix it (e.g. enable NTP)"
                ) from None
            what = f"{code or 'HTTP ' + str(status)}: {message}".rstrip(": ")
            raise StorageError(
                f"{op} {path} failed{tried}: {what} (endpoint {endpoint}, credentials from "
                f"{source})"
            ) from None
        if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
            raise CredentialsError(
                f"{op} {path}: could not get credentials from {source}: "
                f"{aws.scrub(str(exc))}. Check that source, or pass creds={{...}}"
            ) from None
        if isinstance(exc, ParamValidationError):
            raise PathError(f"{op} {path}: {aws.scrub(str(exc))}") from None
        if isinstance(exc, RuntimeError) and "refreshed credentials are still expired" in str(exc):
            raise CredentialsError(
                f"{op} {path}: {source} returned credentials that are already expired; check "
                "that source and this machine's clock"
            ) from None
        transient, _ = _is_transient(exc)
        if transient:
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            detail = aws.scrub(str(exc))
            raise StorageConnectionError(
                f"{op} {path}: cannot reach the S3 endpoint {endpoint}{tried} ({reason}"
                f"{': ' + detail if detail else ''}; credentials from {source}). Check "
                "creds['endpoint_url'] / AWS_ENDPOINT_URL_S3, the network, and that the server "
                "is running"
            ) from None
        raise StorageError(
            f"{op} {path} failed: {type(exc).__name__}: {aws.scrub(str(exc))} (credentials "
            f"from {source})"
        )

    @property
    def _has_token(self) -> bool:
        return self._resolved.refreshable or self._resolved.source.startswith(
            "the creds dict (key and session token"
        )

    def _no_bucket_message(self, path: str) -> str:
        return (
            f"bucket {self.bucket!r} does not exist at {self.endpoint_url} ({path}, credentials "
            f"from {self.credential_source}); check the bucket name, creds['endpoint_url'] and "
            "creds['aws_region'], or create the bucket first"
        )

    def _key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise PathError(f"invalid key {key!r} under {self.url}: keys are relative paths")
        return self._root + key

    # -- reads --------------------------------------------------------------------------------
    async def _read_body(self, resp: Mapping[str, Any], timeout: asyncio.Timeout) -> bytes:
        length = int(resp.get("ContentLength") or 0)
        if length:
            loop = asyncio.get_running_loop()
            timeout.reschedule(loop.time() + self._attempt_timeout(length))
        async with resp["Body"] as body:
            data: bytes = await body.read()
        if length and len(data) != length:
            raise IncompleteReadError(actual_bytes=len(data), expected_bytes=length)
        return data

    async def get(self, key: str) -> bytes:
        full = self._key(key)

        async def fn(client: Any, timeout: asyncio.Timeout) -> bytes:
            resp = await client.get_object(Bucket=self.bucket, Key=full)
            return await self._read_body(resp, timeout)

        return await self._call("get", key, fn)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        full = self._key(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"negative byte range [{start}, {end}) for {key!r}")
        if end is not None and end <= start:
            return b""
        header = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"

        async def fn(client: Any, timeout: asyncio.Timeout) -> bytes:
            try:
                resp = await client.get_object(Bucket=self.bucket, Key=full, Range=header)
            except ClientError as exc:
                code, status = _error_info(exc)
                if code == "InvalidRange" or status == 416:
                    return b""  # start at or past the end: a short (empty) read
                raise
            return await self._read_body(resp, timeout)

        return await self._call("get", key, fn, nbytes=0 if end is None else end - start)

    async def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Ranges of one object: neighbours (gap <= ``coalesce_gap``) merged into GETs of at most
        ``coalesce_max`` bytes, fetched concurrently, split back in the order asked."""
        out: list[bytes] = [b""] * len(ranges)
        order = sorted((s, e, i) for i, (s, e) in enumerate(ranges) if e > s)
        groups: list[tuple[int, int, list[tuple[int, int, int]]]] = []
        gap, cap = self.options.coalesce_gap, self.options.coalesce_max
        for s, e, i in order:
            if groups:
                gs, ge, members = groups[-1]
                if s - ge <= gap and max(ge, e) - gs <= cap:
                    groups[-1] = (gs, max(ge, e), members)
                    members.append((s, e, i))
                    continue
            groups.append((s, e, [(s, e, i)]))

        async def fetch(gs: int, ge: int, members: list[tuple[int, int, int]]) -> None:
            data = await self.get_range(key, gs, ge)
            for s, e, i in members:
                out[i] = data[s - gs : e - gs]

        if len(groups) == 1:
            await fetch(*groups[0])
        else:
            async with asyncio.TaskGroup() as tg:
                for g in groups:
                    tg.create_task(fetch(*g))
        return out

    async def exists(self, key: str) -> bool:
        full = self._key(key)

        async def fn(client: Any, timeout: asyncio.Timeout) -> bool:
            try:
                await client.head_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                code, status = _error_info(exc)
                if status == 404 or code in ("NoSuchKey", "NotFound", "404"):
                    return False
                raise
            return True

        found = await self._call("exists", key, fn)
        if not found and not self._bucket_checked:
            await self._check_bucket_exists(key)
        return found

    async def _check_bucket_exists(self, key: str) -> None:
        """A HEAD on a missing object and on a missing bucket both say 404; tell them apart
        once per provider."""

        async def fn(client: Any, timeout: asyncio.Timeout) -> bool:
            try:
                await client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                code, status = _error_info(exc)
                if status == 404 or code in ("NoSuchBucket", "NotFound", "404"):
                    return False
                if status in (301, 400, 403):
                    return True  # not allowed to ask (or another region): assume it exists
                raise
            return True

        if not await self._call("exists", key, fn):
            raise BucketNotFoundError(self._no_bucket_message(self._path(key)))
        self._bucket_checked = True

    async def list(self, prefix: str = "") -> list[str]:
        full = self._root + prefix
        keys: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Bucket": self.bucket,
                "Prefix": full,
                "MaxKeys": self.options.list_page,
            }
            if token:
                kwargs["ContinuationToken"] = token

            async def fn(client: Any, timeout: asyncio.Timeout, kw: Any = kwargs) -> Any:
                return await client.list_objects_v2(**kw)

            page = await self._call("list", prefix, fn)
            for obj in page.get("Contents", ()):
                name = obj["Key"]
                if name.startswith(self._root) and not name.endswith("/"):
                    keys.append(name[len(self._root) :])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        self._bucket_checked = True
        return sorted(keys)

    # -- writes -------------------------------------------------------------------------------
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        full = self._key(key)
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")  # raises for non-contiguous buffers, as it should
        size = view.nbytes
        if size > self.options.multipart_threshold:
            await self._put_multipart(key, full, view)
            return
        # botocore takes bytes and bytearray as they are; a memoryview needs one copy
        body = data if isinstance(data, bytes | bytearray) else view.tobytes()

        async def fn(client: Any, timeout: asyncio.Timeout) -> None:
            await client.put_object(Bucket=self.bucket, Key=full, Body=body)

        await self._call("put", key, fn, nbytes=size)

    async def _put_multipart(self, key: str, full: str, view: memoryview) -> None:
        size = len(view)
        part_size = max(self.options.part_size, -(-size // 10_000))  # S3: at most 10k parts

        async def create(client: Any, timeout: asyncio.Timeout) -> str:
            resp = await client.create_multipart_upload(Bucket=self.bucket, Key=full)
            return str(resp["UploadId"])

        upload_id = await self._call("put", key, create)
        etags: dict[int, str] = {}
        gate = asyncio.Semaphore(self.options.parts_in_flight)

        async def part(number: int, start: int) -> None:
            async with gate:
                chunk = bytes(view[start : start + part_size])

                async def fn(client: Any, timeout: asyncio.Timeout) -> None:
                    resp = await client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )
                    etags[number] = str(resp["ETag"])

                await self._call("put", key, fn, nbytes=len(chunk))

        try:
            async with asyncio.TaskGroup() as tg:
                for number, start in enumerate(range(0, size, part_size), start=1):
                    tg.create_task(part(number, start))

            async def complete(client: Any, timeout: asyncio.Timeout) -> None:
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
                    },
                )

            await self._call("put", key, complete)
        except BaseException as exc:
            # Failed or cancelled: drop the parts (they cost storage). Shielded, so a second
            # cancellation does not stop the abort half way.
            await _shielded(self._abort_upload(full, upload_id))
            if isinstance(exc, BaseExceptionGroup):
                first = exc.exceptions[0]
                while isinstance(first, BaseExceptionGroup):
                    first = first.exceptions[0]
                raise first from None
            raise

    async def _abort_upload(self, full: str, upload_id: str) -> None:
        client = self._client
        if client is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.options.request_timeout):
                await client.abort_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id
                )

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        full = self._key(key)

        async def fn(client: Any, timeout: asyncio.Timeout) -> None:
            await client.delete_object(Bucket=self.bucket, Key=full)

        await self._call("delete", key, fn)

    async def delete_prefix(self, prefix: str = "") -> None:
        self.check_writable(prefix)
        keys = await self.list(prefix)
        batches = [keys[i : i + 1000] for i in range(0, len(keys), 1000)]

        async def batch(names: list[str]) -> None:
            async def fn(client: Any, timeout: asyncio.Timeout) -> Any:
                return await client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._root + k} for k in names], "Quiet": True},
                )

            resp = await self._call("delete", prefix, fn)
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                fake = ClientError(
                    {"Error": {"Code": first.get("Code", ""), "Message": first.get("Message", "")}},
                    "DeleteObjects",
                )
                self._raise(fake, "delete", str(first.get("Key", prefix))[len(self._root) :])

        async with asyncio.TaskGroup() as tg:
            for names in batches:
                tg.create_task(batch(names))


async def _shielded(aw: Awaitable[None]) -> None:
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # finish the cleanup, then let the cancellation through
        raise


_live: weakref.WeakSet[S3Storage] = weakref.WeakSet()


@atexit.register
def _close_live_at_exit() -> None:
    """Providers still open at exit (datasets are rarely closed) on a loop that still runs in
    another thread (shoal's background loop): close their pools there, briefly, so aiohttp
    does not complain about unclosed sessions while the interpreter shuts down."""
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    waits = []
    for store in list(_live):
        owner, stack = store._owner, store._stack
        if owner is None or stack is None or owner[0] != os.getpid():
            continue
        loop = owner[1]
        if loop is current or loop.is_closed() or not loop.is_running():
            continue
        store._stack = store._client = None
        with contextlib.suppress(RuntimeError):
            waits.append(asyncio.run_coroutine_threadsafe(stack.aclose(), loop))
    for fut in waits:
        with contextlib.suppress(Exception):
            fut.result(timeout=2)


async def open_storage(
    location: str,
    *,
    read_only: bool = False,
    creds: object = None,
    token: str | None = None,
    options: S3Options | None = None,
) -> S3Storage:
    """The router's entry point: ``location`` is ``"bucket/prefix"`` of an ``s3://`` path."""
    del token  # platform tokens are for hub:// paths
    bucket, prefix = parse_location(location)
    return await S3Storage.open(
        bucket, prefix, creds=creds, read_only=read_only, options=options or S3Options.from_env()
    )
