"""``s3://bucket/prefix`` provider on aiobotocore, for AWS S3 and S3-compatible stores.

The provider keeps only what is S3's: parsing locations, the operations, and (in
:mod:`._s3_errors`) what S3's failures mean. The rest is the shared cloud plumbing
(:mod:`._cloud`):

* the aiobotocore client comes from the process-wide pool (:mod:`._s3_client`): a second open
  of a location with the same credentials on the same loop reuses the first one's client and
  connections; a forked child or another loop gets its own;
* every request goes through :meth:`S3Storage._call`: at most ``S3Options.concurrency`` in
  flight per provider, a timeout on the whole attempt (``request_timeout`` plus the payload
  at ``min_rate``) on top of aiohttp's connect and read timeouts, retries under one
  :class:`~shoal._retry.RetryPolicy` (throttling, 5xx, dropped connections, a body cut off
  mid-read), one forced single-flight credential refresh when the store calls refreshable
  credentials expired, and the one mapping of third-party exceptions to :mod:`shoal.errors`;
* :meth:`~shoal.storage.Storage.get_ranges` (the storage base) merges neighbouring ranges
  (gaps up to ``coalesce_gap``) into GETs of at most ``coalesce_max`` bytes.

``asyncio.CancelledError`` is never retried or swallowed; a cancelled multipart upload is
aborted. Large objects are uploaded in parts (``multipart_threshold``/``part_size``) with a
bounded number of parts in flight. Checksums are only computed where S3 requires them
(``when_required``), which S3-compatible stores handle; addressing is path-style whenever an
``endpoint_url`` is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError, IncompleteReadError  # type: ignore[import-untyped]

from ..auth import aws_spec
from ..errors import BucketNotFoundError, PathError, ShoalError, StorageError
from . import _s3_errors as s3err
from ._base import Storage, on_loopback
from ._cloud import Lease, LeaseHold
from ._s3_lean import LeanReader, as_bytes
from ._s3_options import S3Options, check_bucket, parse_location
from ._s3_upload import put_multipart

if TYPE_CHECKING:
    from ..auth.aws import Refresher
    from ._s3_client import PooledS3

__all__ = ["S3Options", "S3Storage", "open_storage", "parse_location"]

T = TypeVar("T")


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``. Open with :meth:`open` (or ``shoal.load``)."""

    remote = True  # a request costs a round trip: readers fetch only the byte ranges they need

    def __init__(
        self,
        bucket: str,
        prefix: str,
        resolved: aws_spec.ResolvedAws,
        *,
        read_only: bool = False,
        options: S3Options | None = None,
    ) -> None:
        url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        super().__init__(url, read_only)
        self.bucket = bucket
        self.prefix = prefix
        self.options = options or S3Options.from_env()
        self.range_merge_gap = self.options.coalesce_gap
        self.range_merge_max = self.options.coalesce_max
        self._retry = self.options.retry_policy()
        self._root = f"{prefix}/" if prefix else ""
        self._resolved = resolved
        self._hold: LeaseHold[PooledS3] = LeaseHold()
        self._lean: LeanReader | None = None
        self._spec: aws_spec.AwsCredsSpec | None = None  # set when opened without a session
        self._refresh: Refresher | None = None  # ... and with credentials the platform vends
        self._slots = asyncio.Semaphore(self.options.concurrency)
        self._closed = False
        self._bucket_checked = False

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
        refresh: Refresher | None = None,
    ) -> S3Storage:
        """Resolve credentials and connect (or reuse the client of an earlier open with the
        same endpoint and credentials). ``refresh`` (for the platform): an async source of
        short-lived credentials, refreshed before they expire."""
        prefix = prefix.strip("/")
        url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        check_bucket(bucket, url)
        spec = aws_spec.AwsCredsSpec.parse(creds, path=url)
        aws_spec.install_log_redaction()
        opts = options or S3Options.from_env()
        if refresh is None:
            resolved = aws_spec.resolve_without_session(spec)
        elif opts.lean_reads:
            from ..auth.aws_refresh import AdaptiveRefreshableCredentials

            vended = AdaptiveRefreshableCredentials(refresh, "shoal-vended")
            resolved = aws_spec.resolve_vended_without_session(spec, vended)
        else:
            resolved = None
        if resolved is not None and opts.lean_reads:
            # Explicit (or vended) keys and endpoint: reads need no botocore client, so it is
            # imported and built on the first operation that is not a GET (most opens only
            # read).
            store = cls(bucket, prefix, resolved, read_only=read_only, options=opts)
            store._spec = spec
            store._refresh = refresh
            return store
        from ..auth import aws
        from ._s3_client import lease_for_resolved, lease_for_spec

        lease = await lease_for_spec(spec, refresh, opts, url)
        if lease is None:  # the default chain: resolve, then share a client if one fits
            lease = await lease_for_resolved(await aws.resolve(spec, path=url), opts, url)
        store = cls(bucket, prefix, lease.client.resolved, read_only=read_only, options=opts)
        store._adopt(lease)
        return store

    def _adopt(self, lease: Lease[PooledS3]) -> None:
        self._hold.adopt(self, lease, lease.release)
        self._resolved = lease.client.resolved
        self._slots = asyncio.Semaphore(self.options.concurrency)

    @property
    def credential_source(self) -> str:
        """Where the credentials came from, in words (no secrets)."""
        return self._resolved.source

    @property
    def endpoint_url(self) -> str:
        client = self._client
        if client is not None:
            return str(client.meta.endpoint_url)
        return self._resolved.endpoint_url or "https://s3.amazonaws.com"

    @property
    def loopback(self) -> bool:
        return on_loopback(self.endpoint_url)

    @property
    def credentials(self) -> Any:
        """The credentials object signing this provider's requests."""
        return self._resolved.credentials

    @property
    def _client(self) -> Any:
        """The aiobotocore client in use (None before the first request or after close)."""
        lease = self._hold.lease
        return lease.client.client if lease is not None and lease.valid() else None

    @property
    def _stack(self) -> Lease[PooledS3] | None:
        """The hold on the pooled client; ``await _stack.aclose()`` closes that client."""
        return self._hold.lease

    async def _ensure_client(self) -> Any:
        if self._closed:
            raise StorageError(f"the S3 provider for {self.url} is closed; open the path again")
        lease = self._hold.lease
        if lease is not None and lease.valid():
            return lease.client.client
        # First use, another loop, or a forked child: never reuse a pool from elsewhere. An
        # inherited lease is left alone: it is the parent's.
        if lease is not None:
            lease.drop()
        from ._s3_client import lease_for_resolved, lease_for_spec

        if self._resolved.session is None:  # opened without a session: resolve it now
            assert self._spec is not None
            found = await lease_for_spec(self._spec, self._refresh, self.options, self.url)
            assert found is not None
            self._adopt(found)
        else:
            self._adopt(await lease_for_resolved(self._resolved, self.options, self.url))
        assert self._hold.lease is not None
        return self._hold.lease.client.client

    async def _ensure_lean(self) -> LeanReader:
        if self._closed:
            raise StorageError(f"the S3 provider for {self.url} is closed; open the path again")
        lean = self._lean
        if lean is not None and lean.valid():
            return lean
        if lean is not None:  # another loop, or a forked child: the parent's, left alone
            lean.drop()
        resolved = self._resolved
        if resolved.session is None and resolved.endpoint_url:
            # Opened without a session: the explicit endpoint and the region botocore would
            # pick too (see aws_spec.resolve_without_session).
            endpoint, region = resolved.endpoint_url, resolved.region
        else:
            # The endpoint and region botocore settled on (creds, AWS_ENDPOINT_URL_S3, the
            # config files, the region's default): the lean path talks to the same store.
            meta = (await self._ensure_client()).meta
            endpoint, region = str(meta.endpoint_url), str(meta.region_name)
        opts = self.options
        self._lean = await LeanReader.open(
            endpoint,
            self.bucket,
            region,
            resolved.credentials,
            opts.connect_timeout,
            opts.read_timeout,
            opts.concurrency,
        )
        return self._lean

    async def close(self) -> None:
        """Give the client back to the pool (it is closed with its loop). The provider cannot
        be used afterwards."""
        self._closed = True
        lean, self._lean = self._lean, None
        if lean is not None:
            await lean.release()
        await self._hold.release()

    async def __aenter__(self) -> S3Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the one place requests go through ----------------------------------------------------
    def _attempt_timeout(self, nbytes: int) -> float:
        return self.options.request_timeout + nbytes / self.options.min_rate

    async def _call(
        self,
        op: str,
        key: str,
        fn: Callable[[Any, asyncio.Timeout], Awaitable[T]],
        *,
        nbytes: int = 0,
        lean: bool = False,
    ) -> T:
        """Run ``fn(client, timeout)`` with bounded concurrency, a timeout, retries and error
        mapping. ``fn`` may extend the timeout once it knows the payload size. ``lean``: the
        client is the :class:`LeanReader` (GETs only), else the aiobotocore client."""
        client = await (self._ensure_lean() if lean else self._ensure_client())

        async def attempt() -> T:
            async with self._slots:
                async with asyncio.timeout(self._attempt_timeout(nbytes)) as timeout:
                    return await fn(client, timeout)

        attempts = self._retry.start(s3err.classify, self._refresh_after)
        try:
            return await attempts.run(attempt)
        except ShoalError:
            raise
        except Exception as exc:
            raise s3err.map_error(exc, self._where(), op, key, attempts.count) from None

    async def _refresh_after(self, exc: BaseException) -> bool:
        """After the store rejected refreshable credentials: refresh once and retry."""
        if not s3err.wants_refresh(exc) or not self._resolved.refreshable:
            return False  # a missing object, say: nothing a refresh can fix
        creds = self._resolved.credentials
        try:
            await creds.force_refresh()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False  # the original error says more than a failed refresh
        return True

    def _where(self) -> s3err.S3Where:
        resolved = self._resolved
        return s3err.S3Where(
            url=self.url,
            bucket=self.bucket,
            endpoint=self.endpoint_url,
            source=resolved.source,
            region=resolved.region,
            has_token=resolved.refreshable
            or resolved.source.startswith("the creds dict (key and session token"),
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

    def _extend(self, timeout: asyncio.Timeout) -> Callable[[int], None]:
        def on_length(length: int) -> None:
            loop = asyncio.get_running_loop()
            timeout.reschedule(loop.time() + self._attempt_timeout(length))

        return on_length

    async def get(self, key: str) -> bytes:
        if self.options.lean_reads:
            return as_bytes(await self.get_buffer(key))
        full = self._key(key)

        async def fn(client: Any, timeout: asyncio.Timeout) -> bytes:
            resp = await client.get_object(Bucket=self.bucket, Key=full)
            return await self._read_body(resp, timeout)

        return await self._call("get", key, fn)

    async def get_buffer(self, key: str) -> bytes | memoryview:
        """The whole object; on the lean path, the buffer its body was read into (no copy)."""
        if not self.options.lean_reads:
            return await self.get(key)
        full = self._key(key)

        async def lean(reader: LeanReader, timeout: asyncio.Timeout) -> memoryview:
            return await reader.get_view(full, on_length=self._extend(timeout))

        return await self._call("get", key, lean, lean=True)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        full = self._key(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"negative byte range [{start}, {end}) for {key!r}")
        if end is not None and end <= start:
            return b""
        header = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        lean = bool(self.options.lean_reads)

        async def fn(client: Any, timeout: asyncio.Timeout) -> bytes:
            try:
                if lean:
                    return await client.get(full, start, end, self._extend(timeout))  # type: ignore[no-any-return]
                resp = await client.get_object(Bucket=self.bucket, Key=full, Range=header)
            except ClientError as exc:
                code, status = s3err.error_info(exc)
                if code == "InvalidRange" or status == 416:
                    return b""  # start at or past the end: a short (empty) read
                raise
            return await self._read_body(resp, timeout)

        nbytes = 0 if end is None else end - start
        return await self._call("get", key, fn, nbytes=nbytes, lean=lean)

    async def exists(self, key: str) -> bool:
        full = self._key(key)

        async def fn(client: Any, timeout: asyncio.Timeout) -> bool:
            try:
                await client.head_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                code, status = s3err.error_info(exc)
                if status == 404 or code in s3err.NOT_FOUND_CODES:
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
                code, status = s3err.error_info(exc)
                if status == 404 or code in s3err.NO_BUCKET_CODES:
                    return False
                if status in (301, 400, 403):
                    return True  # not allowed to ask (or another region): assume it exists
                raise
            return True

        if not await self._call("exists", key, fn):
            where = self._where()
            raise BucketNotFoundError(where.no_bucket(where.path(key)))
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
            await put_multipart(self, key, full, view)
            return
        # botocore takes bytes and bytearray as they are; a memoryview needs one copy
        body = data if isinstance(data, bytes | bytearray) else view.tobytes()

        async def fn(client: Any, timeout: asyncio.Timeout) -> None:
            await client.put_object(Bucket=self.bucket, Key=full, Body=body)

        await self._call("put", key, fn, nbytes=size)

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
                failed = str(first.get("Key", prefix))[len(self._root) :]
                raise s3err.map_error(fake, self._where(), "delete", failed, 1)

        async with asyncio.TaskGroup() as tg:
            for names in batches:
                tg.create_task(batch(names))


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
