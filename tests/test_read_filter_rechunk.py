"""The everyday deeplake idioms beyond editing: ``shoal.read`` (local files, s3:// and
http:// URLs, stored without re-encoding), ``ds.filter``, ``ds.rechunk``."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _native, errors
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server


def png_file(tmp_path: Path, value: int = 7) -> tuple[Path, np.ndarray]:
    arr = np.full((5, 6, 3), value, np.uint8)
    arr[0, 0] = [1, 2, 3]
    path = tmp_path / f"img{value}.png"
    path.write_bytes(_native.png_encode(arr))
    return path, arr


def stored_chunks(root: Path, tensor: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / tensor / "chunks").iterdir()))


def test_read_a_local_file_stores_its_bytes_unchanged(tmp_path: Path) -> None:
    path, arr = png_file(tmp_path)
    sample = shoal.read(str(path))
    assert sample.compression == "png" and sample.shape == (5, 6, 3)
    assert np.array_equal(sample.array, arr) and np.array_equal(np.asarray(sample), arr)
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("png", htype="image", sample_compression="png")
    ds.create_tensor("raw", htype="image", dtype="uint8")
    ds.append({"png": sample, "raw": sample})
    assert path.read_bytes() in stored_chunks(tmp_path / "ds", "png")  # not re-encoded
    assert np.array_equal(ds.png[0].numpy(), arr) and np.array_equal(ds.raw[0].numpy(), arr)
    ds.png[0] = shoal.read(path)  # updates take it too
    assert np.array_equal(shoal.load(ds.path).png[0].numpy(), arr)


def test_read_bad_input(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match="no file"):
        shoal.read(str(tmp_path / "missing.png"))
    (tmp_path / "notes.txt").write_text("hello")
    sample = shoal.read(tmp_path / "notes.txt")
    assert sample.compression is None
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("img", htype="image", sample_compression="png")
    with pytest.raises(errors.SampleError, match="not a PNG, JPEG, BMP, TIFF or WebP"):
        ds.img.append(sample)
    assert len(ds.img) == 0


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_read_http_and_s3_urls(
    tmp_path: Path, http_dir: tuple[Path, str], s3_server: S3Server
) -> None:
    root, base = http_dir
    path, arr = png_file(tmp_path, 9)
    (root / "cat.png").write_bytes(path.read_bytes())
    sample = shoal.read(f"{base}/cat.png")
    assert sample.compression == "png" and np.array_equal(sample.array, arr)
    with pytest.raises(errors.NotFoundError, match="404"):
        shoal.read(f"{base}/nope.png")
    key = f"read-{uuid.uuid4().hex[:6]}/cat.jpg"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=path.read_bytes())
    from_s3 = shoal.read(f"s3://{s3_server.bucket}/{key}", creds=s3_server.creds())
    assert from_s3.compression == "png"  # recognised from the bytes, not the name
    assert from_s3.buffer == path.read_bytes()


def test_filter_returns_a_view(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("x", dtype="int64")
    ds.extend({"labels": [0, 1, 0, 2, 1], "x": [10, 11, 12, 13, 14]})
    view = ds.filter(lambda s: int(s.labels.numpy()[0]) == 1)
    assert len(view) == 2 and view.x.numpy().ravel().tolist() == [11, 14]
    assert len(ds.filter(lambda s: False)) == 0
    assert len(ds.filter("labels == 1")) == len(ds.filter(lambda s: int(s.labels.numpy()[0]) == 1))
    with pytest.raises(errors.ShoalError, match="or a query string"):
        ds.filter(42)


def test_rechunk_evens_chunks_and_keeps_values(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64", max_chunk_size=400)
    ds.create_tensor("big", dtype="uint8", tiling_threshold=1000, max_chunk_size=4000)
    with ds:
        for i in range(60):
            ds.append({"x": np.full(8, i), "big": np.full((10 if i % 7 else 40, 40), i, np.uint8)})
    ds.pop([i for i in range(60) if i % 3])  # chunks of 3 samples left with 1 each
    before = (
        [a.tolist() for a in ds.x.numpy(aslist=True)],
        [a.tolist() for a in ds.big.numpy(aslist=True)],
    )
    chunks_before = len(ds._engine.tensor("x").chunk_ids)
    ds.rechunk()
    assert len(ds._engine.tensor("x").chunk_ids) < chunks_before
    again = shoal.load(ds.path)
    after = (
        [a.tolist() for a in again.x.numpy(aslist=True)],
        [a.tolist() for a in again.big.numpy(aslist=True)],
    )
    assert after == before
    assert len(list((tmp_path / "ds" / "x" / "chunks").iterdir())) == len(
        again._engine.tensor("x").chunk_ids
    )


def test_png_chunks_follow_the_append_calls_and_rechunk_to_single_appends(
    tmp_path: Path,
) -> None:
    """A png chunk-compressed tensor: one extend fills one chunk past its size (deeplake's
    rule counts the bytes a chunk held when the call began); appends one at a time are cut
    near it, and so is what a rechunk or an update cuts again."""
    noise = np.random.default_rng(3).integers(0, 256, (60, 16, 16, 3), dtype=np.uint8)
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor(
        "one", htype="image", dtype="uint8", chunk_compression="png", max_chunk_size=6000
    )
    ds.create_tensor(
        "each", htype="image", dtype="uint8", chunk_compression="png", max_chunk_size=6000
    )
    with ds:
        ds.one.extend(noise)
        for a in noise:
            ds.each.append(a)
    rows = {n: ds._engine.tensor(n).chunk_ids[:, 1].astype(int).tolist() for n in ("one", "each")}
    assert rows["one"] == [59]
    # 768 bytes a sample: (bytes so far + 768) * 0.5 first passes min_chunk_size (3000) at
    # the eighth sample; the eight encoded are past 3000 too, so it starts a new chunk
    assert len(rows["each"]) > 5 and rows["each"][0] == 6, rows
    ds.one[10] = np.zeros((16, 16, 3), np.uint8)  # the chunk, re-encoded and cut again
    ds.rechunk()
    again = shoal.load(ds.path, read_only=True)
    assert again._engine.tensor("one").chunk_ids[:, 1].astype(int).tolist() == rows["each"]
    expected = noise.copy()
    expected[10] = 0
    assert np.array_equal(again.one.numpy(), expected)
    assert np.array_equal(again.each.numpy(), noise)
