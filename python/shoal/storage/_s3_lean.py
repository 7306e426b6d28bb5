"""The lean read path of the S3 provider: GETs signed by shoal, sent on a pooled aiohttp session.

Reads are most of what a dataset does, and botocore's machinery (parameter validation, the
endpoint ruleset, event hooks, response parsing) costs about a millisecond of CPU per request,
which is what opening a hundred-tensor dataset or a loader at the I/O ceiling spends its time
on. A GET needs none of it: a URL, a SigV4 signature (:mod:`._sigv4`) and the body. Failures
come back as botocore ``ClientError``\\ s built from S3's XML error, so the provider's one retry
policy and error mapping treat both paths alike. Everything else (writes, listings, multipart,
HEAD) keeps going through aiobotocore.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from botocore.exceptions import ClientError, IncompleteReadError  # type: ignore[import-untyped]
from yarl import URL

from . import _sigv4
from ._cloud import ClientCache, Lease

_sessions: ClientCache[aiohttp.ClientSession] = ClientCache("s3-lean")
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
        lease: Lease[aiohttp.ClientSession],
        endpoint_url: str,
        bucket: str,
        region: str,
        credentials: Any,
    ) -> None:
        self._lease = lease
        self._origin, self._prefix = _base(endpoint_url, bucket)
        self._host = urlsplit(self._origin).netloc
        self._region = region
        self._credentials = credentials  # None: unsigned (anonymous) access

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

        async def make(stack: contextlib.AsyncExitStack) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
            session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False
            )
            return await stack.enter_async_context(session)

        lease = await _sessions.acquire(key, make)
        return cls(lease, endpoint_url, bucket, region, credentials)

    def valid(self) -> bool:
        return self._lease.valid()

    async def release(self) -> None:
        await self._lease.arelease()

    def drop(self) -> None:
        self._lease.drop()

    async def _headers(self, path: str) -> dict[str, str]:
        creds = self._credentials
        if creds is None:
            return {}
        frozen = await creds.get_frozen_credentials()
        keys = _sigv4.Keys(frozen.access_key, frozen.secret_key, frozen.token)
        return _sigv4.sign("GET", self._host, path, {}, keys, self._region)

    async def get(
        self,
        full_key: str,
        start: int | None = None,
        end: int | None = None,
        on_length: Callable[[int], None] | None = None,
    ) -> bytes:
        """The object, or bytes ``[start, end)`` of it. Raises ``ClientError`` for S3's
        errors (``InvalidRange`` when ``start`` is past the end). ``on_length`` hears the
        body's size before it is read (to extend a timeout)."""
        path = self._prefix + _sigv4.quote_path(full_key)
        headers = await self._headers(path)
        if start is not None:
            headers["Range"] = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        url = URL(self._origin + path, encoded=True)  # signed as quoted: sent as quoted
        session = self._lease.client
        async with session.get(url, headers=headers, skip_auto_headers=("Accept-Encoding",)) as r:
            if on_length is not None and r.content_length:
                on_length(r.content_length)
            body = await r.read()
            if r.status in (200, 206):
                expected = r.content_length
                if expected is not None and len(body) != expected:
                    raise IncompleteReadError(actual_bytes=len(body), expected_bytes=expected)
                return body
            raise _client_error(r.status, body, r.headers.get("x-amz-request-id", ""))


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
