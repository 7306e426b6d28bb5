"""Shared pieces of the s3:// tests: fast retry options, unique prefixes, the ``open_s3``
fixture (providers closed at teardown), a round trip probe and a secret-free message check.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from shoal.storage._s3 import S3Options, S3Storage
from tests.servers.s3_fixtures import S3Server

MiB = 1 << 20
FAST = S3Options(max_attempts=3, backoff_base=0.01, connect_timeout=2, request_timeout=20)


def _prefix() -> str:
    return f"t/{uuid.uuid4().hex[:12]}"


OpenS3 = Callable[..., Awaitable[S3Storage]]


@pytest.fixture
async def open_s3(s3_server: S3Server) -> AsyncIterator[OpenS3]:
    """``await open_s3(creds=..., prefix=..., options=...)``: providers closed at teardown."""
    opened: list[S3Storage] = []

    async def make(
        creds: Any = "admin",
        *,
        prefix: str | None = None,
        bucket: str | None = None,
        read_only: bool = False,
        options: S3Options | None = None,
        **kwargs: Any,
    ) -> S3Storage:
        if creds == "admin":
            creds = s3_server.creds()
        store = await S3Storage.open(
            bucket or s3_server.bucket,
            prefix if prefix is not None else _prefix(),
            creds=creds,
            read_only=read_only,
            options=options or FAST,
            **kwargs,
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


def _clean(err: BaseException, *secrets: str | None) -> str:
    """The message, asserting no secret is in it (nor in its cause chain)."""
    text = str(err)
    chain: BaseException | None = err
    while chain is not None:
        for secret in secrets:
            if secret:
                assert secret not in str(chain), f"secret leaked into {type(chain).__name__}"
        chain = chain.__cause__ or chain.__context__
    return text


def _proxy_opts(**kw: Any) -> S3Options:
    base: dict[str, Any] = {
        "max_attempts": 4,
        "backoff_base": 0.01,
        "connect_timeout": 2,
        "request_timeout": 20,
    }
    base.update(kw)
    return S3Options(**base)


async def _roundtrip(store: S3Storage, write: bool = True) -> None:
    key = f"probe-{uuid.uuid4().hex[:6]}"
    if write:
        await store.put(key, b"hello s3")
        assert await store.get_range(key, 6, None) == b"s3"
        assert key in await store.list()
    else:
        await store.list()
