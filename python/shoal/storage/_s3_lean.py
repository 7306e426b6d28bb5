"""The lean read path of the S3 provider: GETs signed by shoal, on shoal's own HTTP client.

Reads are most of what a dataset does, and botocore's machinery (parameter validation, the
endpoint ruleset, event hooks, response parsing) costs about a millisecond of CPU per request,
which is what opening a hundred-tensor dataset or a loader at the I/O ceiling spends its time
on. A GET needs none of it: a URL, a SigV4 signature (:mod:`._sigv4`) and the body, read by
:mod:`._http_get` straight into the buffer it is handed on in. Failures come back as botocore
``ClientError``\\ s built from S3's XML error, so the provider's one retry policy and error
mapping treat both paths alike. Everything else (writes, listings, multipart, HEAD) keeps
going through aiobotocore.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from . import _sigv4
from ._cloud import ClientCache, Lease
from ._http_get import GetPool, Origin

_pools: ClientCache[GetPool] = ClientCache("s3-lean")
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{0,512})</Message>")


def _base(endpoint_url: str, bucket: str) -> tuple[str, str]:
    """``(scheme://host[:port], path prefix)`` of the bucket's objects on ``endpoint_url``
    (the endpoint botocore resolved): virtual-hosted on AWS, path style elsewhere, as the
    provider's botocore client addresses them."""
    parts = urlsplit(endpoint_url)
    host = parts.hostname or ""
    if (host.endswith(".amazonaws.com") or host == "amazonaws.com") and "." not in bucket:
        return f"{parts.scheme}://{bucket}.{parts.netloc}", "/"
    return f"{parts.scheme}://{parts.netloc}", f"{parts.path.rstrip('/')}/{bucket}/"


class LeanReader:
    """GETs of one bucket's objects with the provider's credentials."""

    def __init__(
        self,
        lease: Lease[GetPool],
        endpoint_url: str,
        bucket: str,
        region: str,
        credentials: Any,
    ) -> None:
        self._lease = lease
        origin, self._prefix = _base(endpoint_url, bucket)
        parts = urlsplit(origin)
        tls = parts.scheme == "https"
        self._origin = Origin(parts.hostname or "", parts.port or (443 if tls else 80), tls)
        self._host = parts.netloc
        self._region = region
        self._credentials = credentials  # None: unsigned (anonymous) access
        self._signer: _sigv4.GetSigner | None = None
        self._frozen: Any = None

    @classmethod
    async def open(
        cls,
        endpoint_url: str,
        bucket: str,
        region: str,
        credentials: Any,
        connect_timeout: float,
        read_timeout: float,
        concurrency: int,
    ) -> LeanReader:
        key = ("lean", endpoint_url, connect_timeout, read_timeout, concurrency)

        async def make(stack: contextlib.AsyncExitStack) -> GetPool:
            pool = GetPool(concurrency, connect_timeout, read_timeout)
            stack.push_async_callback(pool.close)
            return pool

        lease = await _pools.acquire(key, make)
        return cls(lease, endpoint_url, bucket, region, credentials)

    def valid(self) -> bool:
        return self._lease.valid()

    async def release(self) -> None:
        await self._lease.arelease()

    def drop(self) -> None:
        self._lease.drop()

    async def _auth(self, path: str) -> str:
        creds = self._credentials
        if creds is None:
            return ""
        frozen = await creds.get_frozen_credentials()
        signer = self._signer
        if signer is None or frozen is not self._frozen:
            keys = _sigv4.Keys(frozen.access_key, frozen.secret_key, frozen.token)
            if signer is None or signer.keys != keys:
                signer = self._signer = _sigv4.GetSigner(keys, self._host, self._region)
            self._frozen = frozen
        return signer.headers(path)

    async def get_view(
        self,
        full_key: str,
        start: int | None = None,
        end: int | None = None,
        on_length: Callable[[int], None] | None = None,
    ) -> memoryview:
        """The object, or bytes ``[start, end)`` of it, as a read-only buffer the body was
        read into (no copy). Raises ``ClientError`` for S3's errors (``InvalidRange`` when
        ``start`` is past the end). ``on_length`` hears the body's size before it is read
        (to extend a timeout)."""
        path = self._prefix + _sigv4.quote_path(full_key)
        head = f"GET {path} HTTP/1.1\r\nHost: {self._host}\r\n{await self._auth(path)}"
        if start is not None:
            head += f"Range: bytes={start}-{'' if end is None else end - 1}\r\n"
        r = await self._lease.client.get(self._origin, (head + "\r\n").encode(), on_length)
        body = r.body
        if r.status in (200, 206):
            return body
        raise _client_error(r.status, bytes(body), r.headers.get("x-amz-request-id", ""))

    async def get(
        self,
        full_key: str,
        start: int | None = None,
        end: int | None = None,
        on_length: Callable[[int], None] | None = None,
    ) -> bytes:
        """:meth:`get_view` as ``bytes``."""
        return as_bytes(await self.get_view(full_key, start, end, on_length))


def as_bytes(view: bytes | memoryview) -> bytes:
    """A body as ``bytes``: itself when it is one already (a small body), else a copy."""
    if isinstance(view, bytes):
        return view
    obj = view.obj
    return obj if isinstance(obj, bytes) and len(obj) == view.nbytes else view.tobytes()


def _client_error(status: int, body: bytes, request_id: str) -> ClientError:
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    default = {404: "NoSuchKey", 403: "AccessDenied", 416: "InvalidRange"}.get(status, str(status))
    error = {
        "Code": code.group(1).decode("utf-8", "replace") if code else default,
        "Message": message.group(1).decode("utf-8", "replace") if message else "",
    }
    meta = {"HTTPStatusCode": status, "RequestId": request_id}
    return ClientError({"Error": error, "ResponseMetadata": meta}, "GetObject")
