"""Image tensors compressed as bmp, tiff or webp (per sample or per chunk): round trips through
storage, ``shoal.read`` of such files (recognised by their bytes, stored unchanged), and
damaged bytes from storage coming back as shoal errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import shoal
from shoal import errors

# channel counts each format stores (deeplake cannot read back grey webp nor RGBA bmp)
CHANNELS = {"bmp": (1, 3), "tiff": (1, 3, 4), "webp": (3, 4)}


def images(channels: int, n: int = 5) -> list[np.ndarray]:
    r = np.random.default_rng(channels)
    return [r.integers(0, 256, (4 + i, 9 - i, channels), dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize("kind", ["sample_compression", "chunk_compression"])
@pytest.mark.parametrize("fmt", sorted(CHANNELS))
def test_round_trip_through_storage(tmp_path: Path, fmt: str, kind: str) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    for c in CHANNELS[fmt]:
        ds.create_tensor(f"c{c}", htype="image", max_chunk_size=2000, **{kind: fmt})  # type: ignore[arg-type]
        ds[f"c{c}"].extend(images(c))
        ds[f"c{c}"].append(images(c, 1)[0])
        ds[f"c{c}"][2] = np.full((3, 3, c), 7, np.uint8)
    ds.close()
    back = shoal.load(path, read_only=True)
    for c in CHANNELS[fmt]:
        want = images(c) + images(c, 1)
        want[2] = np.full((3, 3, c), 7, np.uint8)
        got = back[f"c{c}"].numpy(aslist=True)
        assert len(got) == len(want)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))  # lossless


def test_tif_alias_and_uint8_only_formats(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("t", htype="image", sample_compression="tif")
    assert ds.t.meta.sample_compression == "tiff"
    ds.create_tensor("t16", htype="image", dtype="uint16", sample_compression="tiff")
    grey16 = np.arange(12, dtype=np.uint16).reshape(3, 4, 1) * 5000
    ds.t16.append(grey16)
    assert np.array_equal(ds.t16[0].numpy(), grey16)
    for fmt in ("bmp", "webp"):
        with pytest.raises(errors.InvalidCompressionError, match="uint8"):
            ds.create_tensor(f"x{fmt}", htype="image", dtype="uint16", sample_compression=fmt)


def test_what_deeplake_cannot_read_back_is_refused(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("w", htype="image", sample_compression="webp")
    ds.create_tensor("b", htype="image", sample_compression="bmp")
    with pytest.raises(errors.SampleError, match="no grey mode"):
        ds.w.append(np.zeros((4, 4, 1), np.uint8))
    with pytest.raises(errors.SampleError, match="reads back as RGB"):
        ds.b.extend([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.uint8)])
    assert len(ds.w) == 0 and len(ds.b) == 0


def _pillow_files(d: Path) -> dict[str, np.ndarray]:
    """Files Pillow writes, by name, with the arrays Pillow reads from them."""
    r = np.random.default_rng(3)
    rgb = r.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    out = {}
    for name, kw in (
        ("a.bmp", {}),
        ("a.tif", {}),
        ("lzw.tiff", {"compression": "tiff_lzw"}),
        ("a.webp", {}),  # lossy, quality 80
        ("lossless.webp", {"lossless": True}),
    ):
        Image.fromarray(rgb).save(d / name, **kw)  # type: ignore[arg-type]
        out[name] = np.asarray(Image.open(d / name))
    return out


def test_read_recognises_files_and_stores_them_unchanged(tmp_path: Path) -> None:
    files = _pillow_files(tmp_path)
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    for fmt in ("bmp", "tiff", "webp"):
        ds.create_tensor(fmt, htype="image", sample_compression=fmt)
    ds.create_tensor("png", htype="image", sample_compression="png")
    for name, arr in files.items():
        # no extension: the format comes from the bytes
        bare = tmp_path / name.split(".")[0]
        bare.write_bytes((tmp_path / name).read_bytes())
        sample = shoal.read(str(bare))
        fmt = {"bmp": "bmp", "tif": "tiff", "tiff": "tiff", "webp": "webp"}[name.split(".")[1]]
        assert sample.compression == fmt and sample.shape == arr.shape
        assert np.array_equal(sample.array, arr)
        ds[fmt].append(sample)
        ds.png.append(sample)  # another format: decoded, encoded as png
        ds.flush()
        chunks = b"".join(p.read_bytes() for p in (path / fmt / "chunks").iterdir())
        assert (tmp_path / name).read_bytes() in chunks  # not re-encoded
    back = shoal.load(str(path), read_only=True)
    got = back.bmp.numpy(aslist=True) + back.tiff.numpy(aslist=True) + back.webp.numpy(aslist=True)
    want = [files["a.bmp"], files["a.tif"], files["lzw.tiff"], files["a.webp"]]
    want.append(files["lossless.webp"])
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert all(
        np.array_equal(g, w)
        for g, w in zip(back.png.numpy(aslist=True), files.values(), strict=True)
    )


@pytest.mark.parametrize("fmt", sorted(CHANNELS))
def test_damaged_sample_bytes_are_a_shoal_error(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("x", htype="image", sample_compression=fmt)
    ds.x.append(np.full((30, 40, 3), 100, np.uint8))
    ds.close()
    chunk = next((path / "x" / "chunks").iterdir())
    raw = bytearray(chunk.read_bytes())
    at = raw.index({"bmp": b"BM", "tiff": b"II*", "webp": b"RIFF"}[fmt])
    if fmt == "bmp":
        raw[at + 28] = 13  # bits per pixel: no such BMP
    elif fmt == "tiff":
        raw[at + 4 : at + 8] = b"\xff\xff\xff\x7f"  # first directory past the end
    else:
        raw[at + 20 : at + 40] = bytes(20)  # the VP8L header: gone
    chunk.write_bytes(bytes(raw))
    with pytest.raises(errors.CodecError, match=fmt):
        shoal.load(str(path), read_only=True).x.numpy()


def test_a_file_of_an_unsupported_kind_is_refused_by_name(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (4, 4)).save(buf, "TIFF")
    (tmp_path / "cmyk.tif").write_bytes(buf.getvalue())
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", htype="image", sample_compression="png")
    with pytest.raises(errors.SampleError, match="CMYK"):
        ds.x.append(shoal.read(str(tmp_path / "cmyk.tif")))
    assert len(ds.x) == 0


@pytest.mark.parametrize("fmt", ["png", "webp", None])
def test_a_chunk_cut_short_is_corrupt_data(tmp_path: Path, fmt: str | None) -> None:
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("x", htype="image", sample_compression=fmt)
    ds.x.append(np.full((30, 40, 3), 100, np.uint8))
    ds.close()
    chunk = next((path / "x" / "chunks").iterdir())
    chunk.write_bytes(chunk.read_bytes()[:-7])
    with pytest.raises(errors.CorruptDataError, match="truncated"):
        shoal.load(str(path), read_only=True).x.numpy()
