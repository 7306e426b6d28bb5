"""gcs:// against fake-gcs-server on loopback (behind a proxy checking bearer tokens):
conformance, retries, concurrency, resumable uploads, cancellation, close, and datasets
through the normal API.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal.auth import gcs as gcs_auth
from shoal.errors import CredentialsError, StorageError
from shoal.storage import Storage
from shoal.storage._gcs import GcsOptions, GcsStorage
from tests.servers.gcs_emulator import Fault
from tests.servers.gcs_fixtures import BUCKET, GcsEnv, ServiceAccountFile

from .conformance import StorageConformance
from .gcs_support import _assert_no_secrets, _key_secret, _unique

pytestmark = pytest.mark.timeout(60)


# -- conformance -----------------------------------------------------------------------------


class TestGcsConformance(StorageConformance):
    @pytest.fixture
    async def store(
        self, gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
    ) -> AsyncIterator[Storage]:
        s = await GcsStorage.open(_unique("conf"), creds=str(gcs_service_account.path))
        yield s
        await s.close()

    @pytest.fixture
    async def read_only_store(
        self, gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
    ) -> AsyncIterator[Storage]:
        s = await GcsStorage.open(
            _unique("conf-ro"), creds=str(gcs_service_account.path), read_only=True
        )
        yield s
        await s.close()

    async def test_keys_land_under_the_prefix(self, store: GcsStorage, gcs_env: GcsEnv) -> None:
        await store.put("a/b", b"1")
        assert gcs_env.server.objects(BUCKET, store.prefix + "/") == [f"{store.prefix}/a/b"]
        assert gcs_env.server.read(BUCKET, f"{store.prefix}/a/b") == b"1"

    async def test_list_pages(self, store: GcsStorage, gcs_env: GcsEnv) -> None:
        keys = [f"p/{i:04d}" for i in range(123)]
        await store.put_many(dict.fromkeys(keys, b""))
        store.options = dataclasses.replace(store.options, list_page_size=50)
        gcs_env.server.proxy.reset()
        assert await store.list("p/") == keys
        assert len(gcs_env.server.proxy.seen) == 3  # pages of 50, 50, 23

    async def test_memoryview_and_bytearray(self, store: GcsStorage) -> None:
        arr = np.arange(1000, dtype=np.uint16)
        await store.put("mv", memoryview(arr.data))
        await store.put("ba", bytearray(b"abc"))
        assert await store.get("mv") == arr.tobytes()
        assert await store.get("ba") == b"abc"


# -- retries, concurrency, large objects, cancellation, close ----------------------------------


@pytest.fixture
async def sa_store(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> AsyncIterator[GcsStorage]:
    opts = GcsOptions(backoff_base=0.01, backoff_max=0.05, concurrency=8)
    s = await GcsStorage.open(_unique("rt"), creds=str(gcs_service_account.path), options=opts)
    yield s
    await s.close()


@pytest.mark.parametrize("status", [503, 429, 0])
async def test_transient_failures_are_retried(
    sa_store: GcsStorage, gcs_env: GcsEnv, status: int
) -> None:
    proxy = gcs_env.server.proxy
    proxy.inject(Fault(count=2, status=status))  # 0: the connection is dropped
    await sa_store.put("k", b"payload")
    proxy.inject(Fault(count=2, status=status))
    assert await sa_store.get_range("k", 1, 4) == b"ayl"
    assert [st for _m, _p, _w, st in proxy.seen].count(status) == 4


async def test_persistent_failure_gives_up(sa_store: GcsStorage, gcs_env: GcsEnv) -> None:
    gcs_env.server.proxy.inject(Fault(count=100, status=503))
    with pytest.raises(StorageError, match="HTTP 503.*after 5 attempts.*try again later"):
        await sa_store.get("k")
    gcs_env.server.proxy.reset()


async def test_concurrency_is_bounded(sa_store: GcsStorage, gcs_env: GcsEnv) -> None:
    await sa_store.put_many({f"c/{i}": b"x" for i in range(40)})
    proxy = gcs_env.server.proxy
    proxy.reset()
    base = proxy.in_flight  # requests an earlier test abandoned may still be in the proxy
    proxy.inject(Fault(count=40, status=None, delay=0.05))
    await asyncio.gather(*(sa_store.get(f"c/{i}") for i in range(40)))
    assert 2 <= proxy.max_in_flight - base <= 8


async def test_resumable_upload_in_pieces(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    opts = GcsOptions(resumable_threshold=300_000, resumable_chunk=256 * 1024, backoff_base=0.01)
    data = np.random.default_rng(0).integers(0, 255, 1_100_000, dtype=np.uint8).tobytes()
    async with await GcsStorage.open(
        _unique("big"), creds=str(gcs_service_account.path), options=opts
    ) as s:
        proxy = gcs_env.server.proxy
        proxy.reset()
        await s.put("big", data)
        puts = [p for m, p, _w, st in proxy.seen if m == "PUT"]
        assert len(puts) == 5  # 4 full pieces of 256 KiB and the rest
        assert all(w != "anon" for _m, _p, w, _st in proxy.seen)  # every piece authenticated
        assert await s.get("big") == data
        # a piece fails: the upload resumes (or restarts) and the object is still exact
        proxy.reset()
        proxy.inject(Fault(count=1, status=503, match=lambda r: r.method == "PUT"))
        await s.put("big2", memoryview(data))
        assert await s.get("big2") == data
        assert await s.get_range("big2", 500_000, 500_010) == data[500_000:500_010]


async def test_cancellation_releases_everything(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    opts = GcsOptions(concurrency=1)
    async with await GcsStorage.open(
        _unique("cancel"), creds=str(gcs_service_account.path), options=opts
    ) as s:
        await s.put("k", b"v")
        gcs_env.server.proxy.inject(Fault(count=1, status=None, delay=2))
        task = asyncio.create_task(s.get("k"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.wait_for(s.get("k"), 3) == b"v"  # the one slot was given back


async def test_closed_store_refuses_and_close_is_idempotent(sa_store: GcsStorage) -> None:
    await sa_store.close()
    await sa_store.close()
    with pytest.raises(StorageError, match="is closed"):
        await sa_store.get("k")


async def test_dropped_store_is_closed_by_its_finalizer(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    import gc

    s = await GcsStorage.open(_unique("gc"), creds=str(gcs_service_account.path))
    http = s._http
    assert http is not None and not http.closed
    del s
    gc.collect()
    for _ in range(50):
        if http.closed:
            break
        await asyncio.sleep(0.01)
    assert http.closed


async def test_reprs_hold_no_secrets(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    spec = gcs_auth.GcsCredsSpec.parse(gcs_service_account.info(), path="gcs://b")
    async with await GcsStorage.open(_unique("repr"), creds=gcs_service_account.info()) as s:
        await s.exists("x")
        text = repr(s) + repr(s.auth) + repr(spec) + repr(s.auth._source)
    _assert_no_secrets(text, gcs_env.google, _key_secret(gcs_service_account.key))
    assert gcs_service_account.email in text


# -- datasets through the normal API -----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["gcs", "gs"])
def test_dataset_roundtrip(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile, scheme: str
) -> None:
    path = f"{scheme}://{_unique('ds')}"
    creds = str(gcs_service_account.path)
    ds = shoal.empty(path, creds=creds)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    data = np.arange(60, dtype=np.int32).reshape(20, 3)
    ds.x.extend(data)
    ds.labels.extend(["dog", "cat"] * 10)
    ds.flush()
    assert shoal.exists(path, creds=creds)
    again = shoal.load(path, creds=creds, read_only=True)
    np.testing.assert_array_equal(again.x.numpy(), data)
    np.testing.assert_array_equal(again.x[5:9].numpy(), data[5:9])
    assert again.labels[0].numpy().tolist() == [1]
    bucket, _, prefix = path.partition("://")[2].partition("/")
    assert f"{prefix}/dataset_meta.json" in gcs_env.server.objects(bucket, prefix + "/")
    shoal.delete(path, creds=creds)
    assert gcs_env.server.objects(bucket, prefix + "/") == []


def test_dataset_with_wrong_creds_fails_clearly(gcs_env: GcsEnv, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="anonymous access.*not public"):
        shoal.load(f"gcs://{_unique('ds')}", creds="anon")
    with pytest.raises(CredentialsError, match=r"key file .*does not exist"):
        shoal.empty(f"gcs://{_unique('ds')}", creds=str(tmp_path / "missing.json"))


def test_missing_dataset_is_not_found(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    path = f"gcs://{_unique('ds')}"
    assert not shoal.exists(path, creds=str(gcs_service_account.path))
    with pytest.raises(FileNotFoundError):
        shoal.load(path, creds=str(gcs_service_account.path))
