"""The dataset API end to end on local disk and mem://: every htype, views, versions, errors."""

from __future__ import annotations

import gc
import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors


@pytest.fixture(params=["local", "mem"])
def path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "ds")
    return f"mem://test-{uuid.uuid4().hex}"


def test_generic_roundtrip_fixed_and_varying(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("fixed", dtype="int16")
    ds.create_tensor("vary")
    rng = np.random.default_rng(1)
    fixed = rng.integers(-1000, 1000, size=(20, 4, 5)).astype(np.int16)
    vary = [rng.random((i % 5 + 1, 3), dtype=np.float32) for i in range(20)]
    ds.fixed.extend(fixed)
    ds.vary.extend(vary)
    ds = shoal.load(path)
    assert len(ds) == 20
    np.testing.assert_array_equal(ds.fixed.numpy(), fixed)
    assert ds.fixed.numpy().dtype == np.int16
    got = ds.vary.numpy(aslist=True)
    for a, b in zip(got, vary, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ds.vary[7].numpy(), vary[7])
    np.testing.assert_array_equal(ds.fixed[3:15:4].numpy(), fixed[3:15:4])
    np.testing.assert_array_equal(ds.fixed[[19, 0, 5, 5]].numpy(), fixed[[19, 0, 5, 5]])
    np.testing.assert_array_equal(ds.fixed[-1].numpy(), fixed[-1])
    with pytest.raises(errors.DynamicShapeError, match="aslist=True"):
        ds.vary.numpy()
    assert ds.fixed.shape == (20, 4, 5)
    assert ds.vary.shape == (20, None, 3)
    with pytest.raises(IndexError):
        ds.fixed[20].numpy()


def test_many_chunks_and_appends_across_flushes(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="float64", max_chunk_size=4000)
    expected = []
    for i in range(30):  # one flush per append: the last chunk is extended each time
        a = np.full((i % 7 + 1,), i, dtype=np.float64)
        ds.x.append(a)
        expected.append(a)
    with ds:
        for i in range(30, 300):
            a = np.full((i % 7 + 1,), i, dtype=np.float64)
            ds.x.append(a)
            expected.append(a)
    ds = shoal.load(path)
    engine = ds._engine.tensor("x")
    assert len(engine.chunk_ids) >= 4
    for a, b in zip(ds.x.numpy(aslist=True), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    if not path.startswith("mem://"):
        # Replaced chunks are removed: exactly the chunks the index names are stored.
        names = {format(int(c), "x") for c in engine.chunk_ids[:, 0]}
        stored = {p.name for p in (Path(path) / "x" / "chunks").iterdir()}
        assert stored == names


def test_class_label_text_json_embedding_bbox(path: str) -> None:
    ds = shoal.empty(path)
    with ds:
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("flags", dtype="bool")
        ds.flags.extend([np.array([True, False]), np.array([False, False])])
        ds.labels.extend(["dog", 0, "bird", np.uint32(1)])
        ds.txt.extend(["hello", "wörld ✓", "", "x" * 1000])
        ds.meta.extend([{"a": 1}, {"b": [1, 2, {"c": None}]}, {}, {"s": "ü"}])
        ds.emb.extend(np.arange(64, dtype=np.float32).reshape(4, 16))
        ds.boxes.extend([np.ones((n, 4), np.float32) * n for n in (0, 1, 2, 3)])
    ds = shoal.load(path)
    assert ds.labels.info.class_names == ["cat", "dog", "bird"]
    np.testing.assert_array_equal(ds.labels.numpy(), np.array([[1], [0], [2], [1]], np.uint32))
    assert ds.labels[2].data()["text"] == ["bird"]
    assert ds.txt.text() == ["hello", "wörld ✓", "", "x" * 1000]
    assert ds.txt[1].text() == "wörld ✓"
    assert ds.txt[1].numpy().tolist() == ["wörld ✓"]
    assert ds.meta.dict() == [{"a": 1}, {"b": [1, 2, {"c": None}]}, {}, {"s": "ü"}]
    assert ds.meta[1].data() == {"value": {"b": [1, 2, {"c": None}]}}
    assert ds.emb.numpy().shape == (4, 16)
    assert ds.boxes[3].numpy().shape == (3, 4)
    assert ds.boxes[0].numpy().shape == (0, 4)
    np.testing.assert_array_equal(ds.flags.numpy(), [[True, False], [False, False]])
    assert ds.flags.dtype == np.bool_
    assert set(ds.tensors) == {"labels", "txt", "meta", "emb", "boxes", "flags"}


def test_images_png_jpeg_raw_and_encoded_bytes(path: str) -> None:
    import io

    from PIL import Image

    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(8, 9), (30, 20), (5, 5)]]
    ds = shoal.empty(path)
    with ds:
        ds.create_tensor("png", htype="image", sample_compression="png")
        ds.create_tensor("jpg", htype="image", sample_compression="jpg")
        ds.create_tensor("raw", htype="image", dtype="uint8")
        ds.png.extend(imgs)
        ds.jpg.extend(imgs)
        ds.raw.extend(imgs)
        buf = io.BytesIO()
        Image.fromarray(imgs[1]).save(buf, format="PNG")
        ds.png.append(buf.getvalue())  # already-encoded file bytes are stored unchanged
        gray = rng.integers(0, 256, (7, 6), dtype=np.uint8)
        ds.png.append(gray)
    ds = shoal.load(path, read_only=True)
    for i, img in enumerate(imgs):
        np.testing.assert_array_equal(ds.png[i].numpy(), img)
        np.testing.assert_array_equal(ds.raw[i].numpy(), img)
        jpg = ds.jpg[i].numpy()
        assert jpg.shape == img.shape and jpg.dtype == np.uint8
    np.testing.assert_array_equal(ds.png[3].numpy(), imgs[1])
    np.testing.assert_array_equal(ds.png[4].numpy(), gray[:, :, None])
    assert ds.read_only


def test_lz4_chunks_and_tiling(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("l4", dtype="float32", chunk_compression="lz4", max_chunk_size=3000)
    ds.create_tensor("big", dtype="uint8", tiling_threshold=1000)
    ds.create_tensor("bigpng", htype="image", sample_compression="png", tiling_threshold=500)
    rng = np.random.default_rng(3)
    l4 = [np.repeat(rng.random(10, dtype=np.float32), i % 4 + 1) for i in range(50)]
    ds.l4.extend(l4)
    big = [
        rng.integers(0, 256, s, dtype=np.uint8) for s in [(3, 3), (40, 30), (64, 64, 3), (2, 2, 1)]
    ]
    ds.big.extend([b if b.ndim == 3 else b.reshape(*b.shape, 1) for b in big])
    pic = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)
    ds.bigpng.extend([pic[:5, :5], pic, pic[:3, :4]])
    ds = shoal.load(path)
    for a, b in zip(ds.l4.numpy(aslist=True), l4, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ds._engine.tensor("big").tiles  # the big samples were tiled
    for a, b in zip(ds.big.numpy(aslist=True), big, strict=True):
        np.testing.assert_array_equal(a, b.reshape(a.shape))
    np.testing.assert_array_equal(ds.bigpng[1].numpy(), pic)
    np.testing.assert_array_equal(ds.bigpng[2].numpy(), pic[:3, :4])
    ds.big.append(np.zeros((1, 1, 1), np.uint8))  # appending after a tiled sample
    assert shoal.load(path).big[-1].numpy().shape == (1, 1, 1)


def test_info_views_and_summary(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("a", dtype="int32")
    ds.create_tensor("b", htype="text")
    ds.a.extend(np.arange(10, dtype=np.int32))
    ds.b.extend([str(i) for i in range(10)])
    ds.info.update(description="numbers", version=2)
    ds.a.info.update(unit="m")
    ds = shoal.load(path)
    assert dict(ds.info) == {"description": "numbers", "version": 2}
    assert ds.a.info["unit"] == "m"
    view = ds[2:8]
    assert len(view) == 6
    np.testing.assert_array_equal(view.a.numpy().ravel(), np.arange(2, 8))
    assert view[1].b.text() == "3"
    assert ds[[9, 1]].b.text() == ["9", "1"]
    text = ds.summary()
    assert "a" in text and "int32" in text and "text" in text


def test_dataset_exists_delete_and_dataset(path: str) -> None:
    assert not shoal.exists(path)
    ds = shoal.dataset(path)
    ds.create_tensor("x")
    assert shoal.exists(path)
    assert list(shoal.dataset(path).tensors) == ["x"]
    shoal.delete(path)
    assert not shoal.exists(path)
    with pytest.raises(errors.DatasetNotFoundError):
        shoal.delete(path)


async def test_async_api(path: str) -> None:
    ds = await shoal.empty_async(path)
    t = await ds.create_tensor_async("x", dtype="uint8")
    await t.extend_async(np.ones((5, 2), np.uint8))
    ds2 = await shoal.load_async(path)
    got = await ds2.x[1:3].numpy_async()
    assert got.shape == (2, 2)
    assert await shoal.exists_async(path)


# -- bad input -------------------------------------------------------------------------------


def test_errors_on_create(path: str) -> None:
    ds = shoal.empty(path)
    with pytest.raises(errors.InvalidHtypeError, match="unknown htype 'imagez'"):
        ds.create_tensor("x", htype="imagez")
    with pytest.raises(errors.InvalidCompressionError, match="'zip'"):
        ds.create_tensor("x", sample_compression="zip")
    with pytest.raises(errors.InvalidCompressionError, match="not both"):
        ds.create_tensor("x", htype="image", sample_compression="png", chunk_compression="lz4")
    with pytest.raises(errors.InvalidHtypeError, match="dtype"):
        ds.create_tensor("x", dtype="complex64")
    with pytest.raises(errors.InvalidHtypeError, match="class_names"):
        ds.create_tensor("x", htype="text", class_names=["a"])
    ds.create_tensor("x")
    with pytest.raises(errors.TensorExistsError):
        ds.create_tensor("x")
    with pytest.raises(errors.TensorNotFoundError, match="tensors: \\['x'\\]"):
        ds["nope"]
    with pytest.raises(errors.DatasetExistsError, match="overwrite=True"):
        shoal.empty(path)
    assert list(shoal.empty(path, overwrite=True).tensors) == []


def test_errors_on_load(tmp_path: Path) -> None:
    with pytest.raises(errors.DatasetNotFoundError, match="shoal.empty"):
        shoal.load(str(tmp_path / "nothing"))
    with pytest.raises(errors.PathError, match="unknown path prefix ftp://"):
        shoal.load("ftp://host/x")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(errors.PathError, match="is a file"):
        shoal.load(str(tmp_path / "file"))


def test_errors_on_append(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("i", dtype="int16")
    ds.create_tensor("t", htype="text")
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.i.append(np.zeros((2, 2), np.int16))
    with pytest.raises(errors.SampleError, match="2-D samples"):
        ds.i.append(np.zeros(3, np.int16))
    with pytest.raises(errors.SampleError, match="float64"):
        ds.i.append(np.zeros((2, 2), np.float64))
    with pytest.raises(errors.SampleError, match="do not fit"):
        ds.i.append([[100000, 1], [1, 1]])
    with pytest.raises(errors.SampleError, match="str samples"):
        ds.t.append(5)
    with pytest.raises(errors.SampleError, match="not a PNG, JPEG, BMP, TIFF or WebP"):
        ds.img.append(b"definitely not an image")
    with pytest.raises(errors.SampleError, match="C in 1..4"):
        ds.img.append(np.zeros((4, 4, 7), np.uint8))
    assert len(shoal.load(path).i) == 1


def test_read_only_rejects_writes(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("x")
    ro = shoal.load(path, read_only=True)
    with pytest.raises(errors.ReadOnlyError, match="read_only=False"):
        ro.x.append(np.zeros(2))
    with pytest.raises(errors.ReadOnlyError):
        ro.create_tensor("y")
    with pytest.raises(PermissionError):
        ro.info.update(a=1)


def test_failed_extend_leaves_dataset_unchanged(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int32", max_chunk_size=200)
    ds.create_tensor("lbl", htype="class_label")
    ds.x.extend(np.arange(10, dtype=np.int32))
    ds.lbl.extend(["a", "b"])

    def gen():  # a failure in the middle of the input
        yield from (np.int32(i) for i in range(5))
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        ds.x.extend(gen())
    with pytest.raises(errors.SampleError):
        ds.x.extend([1, 2, "three", 4])
    with pytest.raises(errors.SampleError):
        ds.lbl.extend(["c", -1])  # "c" must not stick either
    for d in (ds, shoal.load(path)):
        np.testing.assert_array_equal(d.x.numpy().ravel(), np.arange(10))
        assert d.lbl.info.class_names == ["a", "b"]
        # the hidden companions did not take the failed samples either
        assert d._engine.tensor("_x_id").length == 10
        assert d._engine.tensor("_x_shape").length == 10


def test_failed_flush_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int32", max_chunk_size=100)
    ds.x.extend(np.arange(40, dtype=np.int32))
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    snapshot = {p: (tmp_path / p).read_bytes() for p in before}

    storage = ds._engine.storage
    real_put = type(storage).put
    calls = {"n": 0}

    async def failing_put(self, key, data):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if key.endswith("tensor_meta.json") and calls["n"] > 3:
            raise OSError("disk full")
        return await real_put(self, key, data)

    monkeypatch.setattr(type(storage), "put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        ds.x.extend(np.arange(100, 160, dtype=np.int32))
    monkeypatch.setattr(type(storage), "put", real_put)
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert after == before
    assert {p: (tmp_path / p).read_bytes() for p in after} == snapshot
    assert ds.x.numpy().ravel().tolist() == list(range(40))
    ds.x.append(np.int32(40))  # the handle still works
    assert shoal.load(path).x.numpy().ravel().tolist() == list(range(41))


def test_corrupt_chunk_and_meta_errors(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int32")
    ds.x.extend(np.arange(10, dtype=np.int32))
    chunk = next((path / "x" / "chunks").iterdir())
    chunk.write_bytes(chunk.read_bytes()[:9])
    with pytest.raises(errors.CorruptDataError, match="chunk"):
        shoal.load(str(path)).x.numpy()
    (path / "x" / "tensor_meta.json").write_text("{not json")
    ds = shoal.load(str(path))  # tensors load on first use
    with pytest.raises(errors.CorruptDataError, match="tensor_meta.json"):
        ds.x.numpy()
    (path / "dataset_meta.json").write_bytes(b"\x00\xff")
    with pytest.raises(errors.CorruptDataError, match="dataset_meta.json"):
        shoal.load(str(path))


def test_fork_safe_background_loop(tmp_path: Path) -> None:
    import multiprocessing as mp

    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5))
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        sums = pool.map(_read_sum, [path, path])
    assert sums == [10, 10]


def _read_sum(path: str) -> int:
    return int(shoal.load(path, read_only=True).x.numpy().sum())


@pytest.fixture
def small_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make batches write full chunks early, as large ingests do."""
    import shoal.engine.dataset

    monkeypatch.setattr(shoal.engine.dataset, "DRAIN_BYTES", 500)


@pytest.mark.usefixtures("small_drain")
def test_batch_writes_full_chunks_early_and_commits_at_the_end(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=400)
    ds.create_tensor("t", htype="text", max_chunk_size=400)
    ds.x.extend(np.arange(7))  # a tail chunk that the batch extends
    with ds:
        for i in range(7, 400):
            ds.x.append(np.int64(i))
            ds.t.append(f"sample {i}")
        chunk_files = list((tmp_path / "ds" / "x" / "chunks").iterdir())
        assert len(chunk_files) > 3  # written before the batch ended
        assert len(shoal.load(path).x) == 7  # but not yet visible to readers
    ds = shoal.load(path)
    assert ds.x.numpy().ravel().tolist() == list(range(400))
    assert ds.t[-1].text() == "sample 399"
    stored = {p.name for p in (tmp_path / "ds" / "x" / "chunks").iterdir()}
    named = {format(int(c), "x") for c in ds._engine.tensor("x").chunk_ids[:, 0]}
    assert stored == named  # the replaced tail chunk was removed


@pytest.mark.usefixtures("small_drain")
def test_failed_batch_removes_early_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=400)
    ds.x.extend(np.arange(5))
    before = {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    storage = ds._engine.storage
    real_put = type(storage).put
    calls = {"n": 0}

    async def flaky_put(self, key, data):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:
            raise OSError("connection reset")
        return await real_put(self, key, data)

    monkeypatch.setattr(type(storage), "put", flaky_put)
    with pytest.raises(OSError, match="connection reset"), ds:
        for i in range(5, 1000):
            ds.x.append(np.int64(i))
    monkeypatch.setattr(type(storage), "put", real_put)
    after = {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    assert after == before
    assert shoal.load(path).x.numpy().ravel().tolist() == list(range(5))
    ds.x.append(np.int64(5))
    assert shoal.load(path).x.numpy().ravel().tolist() == list(range(6))


def test_reading_inside_a_batch_sees_the_new_samples(path: str) -> None:
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("t", htype="text")
    with ds:
        ds.x.extend(np.arange(5, dtype=np.int32))
        ds.t.append("hello")
        assert ds.x[4].numpy().tolist() == [4]
        assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
        assert ds.t[0].text() == "hello"
        ds.x.append(np.int32(5))
    assert shoal.load(path).x.numpy().ravel().tolist() == [0, 1, 2, 3, 4, 5]


def test_chunk_over_4_gib_is_refused_not_corrupted() -> None:
    from shoal.engine.chunks import rle_byte_positions

    with pytest.raises(errors.SampleError, match="max_chunk_size"):
        rle_byte_positions(np.array([2**31, 2**31], dtype=np.int64))
    assert rle_byte_positions(np.array([2**31, 2**31 - 1], dtype=np.int64)).tolist() == [
        [2**31, 0, 0],
        [2**31 - 1, 2**31, 1],
    ]


def test_a_dropped_dataset_releases_its_write_lock_at_once(tmp_path: Path) -> None:
    """Dropping the last handle of a dataset that wrote gives up its write lock then, not at
    some later garbage-collector pass: another writer can take it at once."""
    path = tmp_path / "ds"
    gc.disable()
    try:
        ds = shoal.empty(str(path))
        ds.create_tensor("x", dtype="int32")
        ds.x.append(np.arange(3, dtype=np.int32))
        assert (path / "dataset_lock.lock").is_file()
        del ds
        assert not (path / "dataset_lock.lock").exists()
    finally:
        gc.enable()
