"""The S3 provider's lean read path (GETs signed and sent by shoal's own HTTP client) against
SeaweedFS, which checks every signature: the same bytes and errors as the botocore path."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from shoal.errors import CredentialsError, NotFoundError
from shoal.storage._s3 import S3Options, S3Storage
from tests.servers.s3_fixtures import S3Server

FAST = S3Options(max_attempts=2, backoff_base=0.01, connect_timeout=2, request_timeout=20)
KEYS = [
    "plain",
    "with space/and+plus=equals&amp",
    "ünïcödé/日本語/ключ",
    "quote'\"and~tilde%25percent",
    "deep/" * 20 + "leaf",
]


@pytest.fixture
async def stores(s3_server: S3Server) -> AsyncIterator[tuple[S3Storage, S3Storage]]:
    """A lean and a botocore-only provider on the same prefix."""
    prefix = f"lean/{uuid.uuid4().hex[:10]}"
    lean = await S3Storage.open(s3_server.bucket, prefix, creds=s3_server.creds(), options=FAST)
    slow = replace(FAST, lean_reads=0)
    plain = await S3Storage.open(s3_server.bucket, prefix, creds=s3_server.creds(), options=slow)
    yield lean, plain
    await lean.close()
    await plain.close()


async def test_lean_and_botocore_reads_agree(stores: tuple[S3Storage, S3Storage]) -> None:
    lean, plain = stores
    for key in KEYS:
        data = os.urandom(70_000)
        await plain.put(key, data)
        assert await lean.get(key) == data == await plain.get(key)
        assert await lean.get_range(key, 100, 200) == data[100:200]
        assert await lean.get_range(key, 69_990, None) == data[69_990:]
        assert await lean.get_range(key, 80_000, 90_000) == b""  # past the end: short
        spans = [(0, 10), (5_000, 6_000), (5_500, 7_000), (60_000, 70_000)]
        assert list(await lean.get_ranges(key, spans)) == [data[s:e] for s, e in spans]


async def test_lean_reads_do_not_go_through_botocore(
    stores: tuple[S3Storage, S3Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, _ = stores
    await lean.put("obj", b"payload")
    client: Any = lean._client

    async def refuse(**_: Any) -> Any:
        raise AssertionError("a GET went through botocore")

    monkeypatch.setattr(client, "get_object", refuse)
    assert await lean.get("obj") == b"payload"
    assert await lean.get_range("obj", 3, None) == b"load"


async def test_lean_errors_are_the_providers_errors(
    stores: tuple[S3Storage, S3Storage], s3_server: S3Server
) -> None:
    lean, _ = stores
    with pytest.raises(NotFoundError, match="missing"):
        await lean.get("missing")
    wrong = dict(s3_server.creds(), aws_secret_access_key="not-the-secret")
    store = await S3Storage.open(s3_server.bucket, "lean-wrong", creds=wrong, options=FAST)
    try:
        with pytest.raises(CredentialsError, match="does not match its access key") as info:
            await store.get("anything")
        assert "not-the-secret" not in str(info.value)
    finally:
        await store.close()


async def test_reads_with_explicit_keys_build_no_botocore_client(s3_server: S3Server) -> None:
    creds = s3_server.creds(aws_region="us-east-1")
    prefix = f"lean/{uuid.uuid4().hex[:10]}"
    store = await S3Storage.open(s3_server.bucket, prefix, creds=creds, options=FAST)
    try:
        assert store._client is None  # nothing built yet
        with pytest.raises(NotFoundError):
            await store.get("nothing-here")
        assert store._client is None  # a read (and a miss) needs none
        await store.put("obj", b"payload")  # the first write builds it
        assert store._client is not None
        assert await store.get_range("obj", 3, None) == b"load"
        assert store.credential_source.startswith("the creds dict (key")
    finally:
        await store.close()


def test_a_fresh_process_reads_without_importing_botocores_sessions(s3_server: S3Server) -> None:
    """Importing aiobotocore and building its client was most of a first open's time."""
    import json
    import subprocess
    import sys

    creds = s3_server.creds(aws_region="us-east-1")
    prefix = f"lean/{uuid.uuid4().hex[:10]}"
    code = (
        "import asyncio, json, sys\n"
        "from shoal.storage._s3 import S3Storage\n"
        "async def main():\n"
        "    s = await S3Storage.open(sys.argv[1], sys.argv[2], creds=json.loads(sys.argv[3]))\n"
        "    try:\n"
        "        await s.get('missing')\n"
        "    except FileNotFoundError:\n"
        "        pass\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('aiobotocore', "
        "'botocore.session', 'botocore.credentials')))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, s3_server.bucket, prefix, json.dumps(creds)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
