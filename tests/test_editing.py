"""Editing samples: dataset-level appends, updates and pops, for every htype, as deeplake
users write them; and bad input, which changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors
from shoal.storage import LocalStorage


def _ds(tmp_path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(tmp_path / uuid.uuid4().hex[:8]))
    ds.create_tensor("x", dtype="int64", max_chunk_size=2000)
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.create_tensor("raw", htype="image", dtype="uint8")
    ds.create_tensor("t", htype="text")
    ds.create_tensor("j", htype="json")
    ds.create_tensor("lab", htype="class_label")
    ds.create_tensor("box", htype="bbox")
    ds.create_tensor("big", dtype="uint8", tiling_threshold=1000, max_chunk_size=4000)
    with ds:
        for i in range(40):
            ds.append(row(i))
    return ds


def row(i: int) -> dict[str, object]:
    return {
        "x": np.arange(10) + i,
        "img": np.full((4, 5, 3), i, np.uint8),
        "raw": np.full((3, 3, 3), i, np.uint8),
        "t": f"s{i}",
        "j": {"i": i},
        "lab": i % 3,
        "box": np.full((2, 4), i, np.float32),
        "big": np.full((40, 40), i, np.uint8),
    }


def values(ds: shoal.Dataset) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for name in ("x", "img", "raw", "box", "big", "lab"):
        out[name] = [a.tolist() for a in ds[name].numpy(aslist=True)]
    out["t"] = list(ds.t.text())
    out["j"] = list(ds.j.dict())
    return out


def expected(rows: list[dict[str, object]]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for name in ("x", "img", "raw", "box", "big"):
        out[name] = [np.asarray(r[name]).tolist() for r in rows]
    out["lab"] = [[r["lab"]] for r in rows]
    out["t"] = [r["t"] for r in rows]
    out["j"] = [r["j"] for r in rows]
    return out


def test_updates_of_every_htype_round_trip(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    rows = [row(i) for i in range(40)]
    new = {
        "x": np.arange(10) * 100,
        "img": np.zeros((8, 8, 3), np.uint8),
        "raw": np.full((2, 2, 3), 200, np.uint8),
        "t": "updated",
        "j": {"new": [1, 2]},
        "lab": 2,
        "box": np.zeros((1, 4), np.float32),
        "big": np.full((50, 50), 9, np.uint8),  # tiled, replacing a tiled sample
    }
    for name, value in new.items():
        ds[name][3] = value
        rows[3][name] = value
    ds.x[[5, 7]] = [np.zeros(10, np.int64), np.ones(10, np.int64)]
    rows[5]["x"], rows[7]["x"] = np.zeros(10), np.ones(10)
    ds.t[10:12] = ["a", "b"]
    rows[10]["t"], rows[11]["t"] = "a", "b"
    ds.big[20] = np.full((5, 5), 1, np.uint8)  # a tiled sample becomes a small one
    rows[20]["big"] = np.full((5, 5), 1, np.uint8)
    ds[30].update({"x": np.full(10, 4), "t": "thirty", "lab": 0})
    rows[30].update({"x": np.full(10, 4), "t": "thirty", "lab": 0})
    assert values(ds) == expected(rows)
    assert values(shoal.load(ds.path)) == expected(rows)
    assert ds.img.meta.max_shape == [8, 8, 3] and ds.img.meta["min_shape"] == [4, 5, 3]


def test_updates_inside_a_batch_read_back_and_are_dropped_if_it_raises(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    with ds:
        for i in range(10, 20):
            ds.x[i] = np.full(10, -i)
        assert ds.x[12].numpy().tolist() == [-12] * 10
        ds.x.append(np.full(10, 77))
        ds.x[40] = np.full(10, 78)  # a sample of this batch: written, then updated
    assert ds.x[40].numpy().tolist() == [78] * 10
    assert shoal.load(ds.path).x[15].numpy().tolist() == [-15] * 10
    with pytest.raises(RuntimeError), ds:
        ds.x[1] = np.zeros(10, np.int64)
        raise RuntimeError("boom")
    assert ds.x[1].numpy().tolist() == list(range(1, 11))
    assert shoal.load(ds.path).x[1].numpy().tolist() == list(range(1, 11))


def test_a_bad_update_in_a_batch_raises_at_its_call_and_changes_nothing(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    with ds:
        ds.raw[3] = np.full((6, 7, 3), 9, np.uint8)
        src = np.full((6, 7, 3), 5, np.uint8)
        ds.raw[4] = src
        src[:] = 0  # the caller's array is copied when the update is staged
        with pytest.raises(errors.SampleError):
            ds.raw[5] = np.zeros(5, np.uint8)  # 1-D in a 3-D tensor
        with pytest.raises(errors.SampleError):
            ds.raw[5] = np.full((6, 7, 3), 1.5)  # float into uint8
        with pytest.raises(IndexError):
            ds.raw[400] = np.zeros((6, 7, 3), np.uint8)
        assert int(ds.raw[5].numpy()[0, 0, 0]) != 1
        assert ds.raw[4].numpy().max() == 5
        assert ds._engine.tensors[ds._engine.key_of("raw")].edits.updates.keys() == {3, 4}
    again = shoal.load(ds.path, read_only=True)
    assert again.raw[3].numpy().tolist() == np.full((6, 7, 3), 9).tolist()
    assert again.raw[4].numpy().tolist() == np.full((6, 7, 3), 5).tolist()
    assert again.raw[3].shape == (6, 7, 3)


def test_pops_across_chunks_and_tiles(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    rows = [row(i) for i in range(40)]
    ds.pop(0)
    del rows[0]
    ds.pop([1, 30, 5])
    for i in (30, 5, 1):
        del rows[i]
    ds.x.pop()
    assert (ds.max_len, ds.min_len) == (36, 35)
    ds.pop()  # the last row of the longest tensor: x, one shorter, is left alone
    del rows[-1]
    got = values(ds)
    assert got == expected(rows)
    assert values(shoal.load(ds.path)) == got
    assert (
        len(ds._engine.tensor("_img_shape").meta) and ds._engine.tensor("_img_shape").length == 35
    )


def test_dataset_append_and_extend_are_all_or_nothing(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    before = values(ds)
    bad = row(50)
    bad["box"] = np.zeros((2, 5), np.float32)  # a bbox has 4 coordinates
    with pytest.raises(errors.SampleError):
        ds.append(bad)
    with pytest.raises(errors.SampleError):
        ds.extend({k: [v, v] for k, v in bad.items()})
    with pytest.raises(errors.SampleError, match="skip_ok"):
        ds.append({"x": np.arange(10)})
    with pytest.raises(errors.SampleError, match="different numbers"):
        ds.extend({**{k: [v] for k, v in row(1).items()}, "x": [np.arange(10)] * 2})
    with pytest.raises(errors.TensorNotFoundError):
        ds.append({**row(1), "nope": 1})
    assert values(ds) == before
    assert values(shoal.load(ds.path)) == before
    ds.extend({k: [v, v] for k, v in row(41).items()})
    assert ds.max_len == ds.min_len == 42


def test_skip_ok_and_append_empty(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "e"))
    ds.create_tensor("a", dtype="int64")
    ds.create_tensor("b", dtype="int64")
    ds.append({"a": 1, "b": 2})
    ds.append({"a": 3}, skip_ok=True)
    assert (ds.max_len, ds.min_len, len(ds)) == (2, 1, 1)
    ds.b.append(0)
    ds.extend({"a": [5, 6]}, append_empty=True)
    assert len(ds.b) == 4 and ds.b[3].numpy().size == 0
    assert ds[0:2].max_len == 2


def test_bad_updates_and_pops_change_nothing(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    before = values(ds)
    with pytest.raises(errors.SampleError, match="1-D"):
        ds.x[0] = np.zeros((2, 2), np.int64)
    with pytest.raises(errors.SampleError):
        ds.x[0] = np.full(10, 1.5)  # float into an int64 tensor
    with pytest.raises(errors.SampleError, match="3 values"):
        ds.x[0:3] = [np.zeros(10), np.zeros(10)]
    with pytest.raises(IndexError):
        ds.x[99] = np.zeros(10, np.int64)
    with pytest.raises(errors.SampleError):
        ds[0].update({"x": np.zeros(10, np.int64), "box": np.zeros((2, 5), np.float32)})
    with pytest.raises(errors.SampleError, match="does not fit the part"):
        ds.x[0, 2:4] = np.zeros(3, np.int64)
    with pytest.raises(errors.SampleIndexError, match="out of range"):
        ds.pop(40)
    with pytest.raises(errors.SampleIndexError, match="negative"):
        ds.x.pop(-1)
    with pytest.raises(errors.SampleIndexError, match="repeated"):
        ds.pop([1, 1])
    assert values(ds) == before
    assert values(shoal.load(ds.path)) == before


def test_tensor_meta_reads_by_key_and_attribute(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    meta = ds.img.meta
    assert meta.sample_compression == meta["sample_compression"] == "png"
    assert meta.htype == "image" and meta.dtype == "uint8"
    assert meta.get("chunk_compression") is None
    with pytest.raises(AttributeError, match="no field"):
        _ = meta.nope


def test_a_flush_failing_on_a_later_tensor_removes_an_earlier_ones_rebuilt_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning an update rebuilds the touched chunks and stores them at once, under names
    nothing refers to until the flush's journal does. When planning a later tensor fails, the
    flush is abandoned, and the chunks already rebuilt for the earlier tensor go with it."""
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("a", dtype="int64", max_chunk_size=400)
    ds.create_tensor("b", dtype="int64", max_chunk_size=400)
    with ds:
        ds.a.extend(np.arange(100))
        ds.b.extend(np.arange(100, 200))
    ds.close()

    def chunk_files() -> list[str]:
        return sorted(str(p.relative_to(path)) for p in path.rglob("*/chunks/*"))

    stored = chunk_files()
    real_get_buffer = LocalStorage.get_buffer

    async def get_buffer(self: LocalStorage, key: str) -> bytes | memoryview:
        if key.startswith("b/chunks/"):
            raise errors.StorageError(f"reading {key!r} failed: connection reset")
        return await real_get_buffer(self, key)

    monkeypatch.setattr(LocalStorage, "get_buffer", get_buffer)
    ds = shoal.load(str(path))
    with pytest.raises(errors.StorageError, match="connection reset"), ds:
        ds.a[5] = 7  # planned first: its chunk is rebuilt and stored
        ds.b[5] = 7  # planning fails reading the chunk to rebuild
    assert chunk_files() == stored
    monkeypatch.setattr(LocalStorage, "get_buffer", real_get_buffer)
    assert ds.a[5].numpy().tolist() == [5] and ds.b[5].numpy().tolist() == [105]
    with ds:
        ds.a[5] = 7
        ds.b[5] = 8
    ds.close()
    again = shoal.load(str(path), read_only=True)
    assert again.a.numpy().ravel().tolist() == [*range(5), 7, *range(6, 100)]
    assert again.b.numpy().ravel().tolist() == [*range(100, 105), 8, *range(106, 200)]
