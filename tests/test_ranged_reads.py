"""On remote storage a read fetches a chunk's header once, then only the bytes it needs."""

from __future__ import annotations

import uuid
from typing import ClassVar

import numpy as np
import pytest

import shoal
from shoal import routing
from shoal.storage import MemoryStorage, Storage


class CountingRemote(MemoryStorage):
    """mem:// that counts requests and bytes, and says it is remote."""

    remote = True
    log: ClassVar[list[tuple[str, int]]] = []

    async def get(self, key: str) -> bytes:
        data = await super().get(key)
        self.log.append((key, len(data)))
        return data

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        data = (await MemoryStorage.get(self, key))[start:end]
        self.log.append((key, len(data)))
        return data


@pytest.fixture
def remote_path() -> str:
    async def factory(location: str, *, read_only: bool = False, **_: object) -> Storage:
        return CountingRemote(location, read_only=read_only)

    routing.register("counting", factory)
    return f"counting://ds-{uuid.uuid4().hex}"


@pytest.mark.parametrize("compression", [None, "png"])
def test_few_samples_cost_one_request_each_chunk(remote_path: str, compression: str | None) -> None:
    ds = shoal.empty(remote_path)
    ds.create_tensor("x", htype="image", dtype="uint8", sample_compression=compression)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    ds.x.extend(data)
    ds = shoal.load(remote_path, read_only=True)
    engine = ds._engine.tensor("x")
    assert len(engine.chunk_ids) == 1
    objects = MemoryStorage(remote_path.split("://")[1])._objects
    chunk_size = len(next(v for k, v in objects.items() if "/chunks/" in k))
    CountingRemote.log.clear()
    np.testing.assert_array_equal(ds.x[[5, 6, 7]].numpy(), data[5:8])
    chunk_reads = [n for k, n in CountingRemote.log if "/chunks/" in k]
    assert len(chunk_reads) == 2  # the header, then one coalesced range
    assert sum(chunk_reads) < chunk_size // 10
    CountingRemote.log.clear()
    np.testing.assert_array_equal(ds.x[150].numpy(), data[150])
    chunk_reads = [n for k, n in CountingRemote.log if "/chunks/" in k]
    assert len(chunk_reads) == 1  # header cached: only the sample's bytes
    CountingRemote.log.clear()
    np.testing.assert_array_equal(ds.x.numpy(), data)  # most of a chunk: fetched whole
    assert len([k for k, _ in CountingRemote.log if "/chunks/" in k]) == 1


def test_open_reads_only_dataset_objects_and_tensors_load_on_use(remote_path: str) -> None:
    ds = shoal.empty(remote_path)
    with ds:
        for i in range(20):
            ds.create_tensor(f"t{i}", dtype="int32")
            ds[f"t{i}"].extend(np.arange(3, dtype=np.int32))
    CountingRemote.log.clear()
    ds = shoal.load(remote_path, read_only=True)
    opened = len(CountingRemote.log)
    assert opened <= 4  # version info, dataset meta, dataset info: not 5 objects x 60 tensors
    assert ds.t7.numpy().ravel().tolist() == [0, 1, 2]
    touched = {k.split("/")[0] for k, _ in CountingRemote.log[opened:]}
    assert touched == {"t7"}
    assert len(ds) == 3  # needs every visible tensor's length


def test_len_reads_metas_only(remote_path: str) -> None:
    ds = shoal.empty(remote_path)
    with ds:
        for i in range(5):
            ds.create_tensor(f"t{i}", dtype="int32")
            ds[f"t{i}"].extend(np.arange(4, dtype=np.int32))
    ds = shoal.load(remote_path, read_only=True)
    CountingRemote.log.clear()
    assert len(ds) == 4 and len(ds.tensors) == 5
    fetched = sorted(k.split("/", 1)[1] for k, _ in CountingRemote.log)
    assert fetched == ["tensor_meta.json"] * 5  # no chunk index, tiles, info or diff yet
