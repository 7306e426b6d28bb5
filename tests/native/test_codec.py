"""lz4, PNG and JPEG against the reference libraries (the lz4 C library and Pillow)."""

from __future__ import annotations

import io
import struct
import zlib

import lz4.block
import lz4.frame
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from shoal import _native
from shoal.errors import CodecError

# Bytes that compress: runs of repeated bytes mixed with noise.
semi_compressible = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.tuples(st.integers(0, 255), st.integers(1, 300)), max_size=40).map(
        lambda runs: b"".join(bytes([b]) * n for b, n in runs)
    ),
)


@given(semi_compressible)
def test_lz4_round_trip_with_the_c_library(data: bytes) -> None:
    ours = _native.lz4_compress(data)
    assert ours[:4] == struct.pack("<I", len(data))
    assert lz4.block.decompress(ours) == data
    assert _native.lz4_decompress(ours) == data
    theirs = lz4.block.compress(data)
    assert _native.lz4_decompress(theirs) == data
    high = lz4.block.compress(data, mode="high_compression", compression=12)
    assert _native.lz4_decompress(high) == data


@given(semi_compressible)
def test_lz4_frames_are_accepted(data: bytes) -> None:
    assert _native.lz4_decompress(lz4.frame.compress(data)) == data


def test_lz4_empty_values() -> None:
    assert lz4.block.compress(b"") == bytes(5)
    assert _native.lz4_compress(b"") == bytes(5)
    assert _native.lz4_decompress(bytes(5)) == b""
    assert _native.lz4_decompress(b"") == b""


def test_lz4_accepts_any_buffer() -> None:
    arr = np.arange(1000, dtype=np.float32)
    packed = _native.lz4_compress(arr)
    assert np.frombuffer(_native.lz4_decompress(memoryview(packed)), np.float32).tolist() == (
        arr.tolist()
    )
    assert _native.lz4_decompress(bytearray(packed)) == arr.tobytes()


def test_lz4_errors() -> None:
    good = lz4.block.compress(b"hello world " * 50)
    for bad in (good[:3], good[:-5], b"\xff\xff\xff\x7f" + good[4:], good[:4] + b"\xf0"):
        with pytest.raises(CodecError):
            _native.lz4_decompress(bad)
    with pytest.raises(TypeError):
        _native.lz4_decompress("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _native.lz4_compress(np.arange(10)[::2])


# --- PNG -------------------------------------------------------------------------------------


def pil_png(arr: npt.NDArray[np.generic], **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", **kw)
    return buf.getvalue()


def pil_decode(data: bytes) -> npt.NDArray[np.generic]:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


image_shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))
u8_images = st.one_of(
    hnp.arrays(np.uint8, image_shapes),
    hnp.arrays(np.uint8, image_shapes.map(lambda hw: (*hw, 2))),
    hnp.arrays(np.uint8, image_shapes.map(lambda hw: (*hw, 3))),
    hnp.arrays(np.uint8, image_shapes.map(lambda hw: (*hw, 4))),
)


@given(u8_images)
def test_png_u8_both_ways_with_pillow(arr: npt.NDArray[np.uint8]) -> None:
    ours = _native.png_encode(arr)
    np.testing.assert_array_equal(pil_decode(ours), arr)
    theirs = pil_png(arr)
    back = _native.png_decode(theirs)
    assert back.dtype == np.uint8 and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert _native.probe_image(theirs) == ("png", arr.shape, "uint8")


@given(hnp.arrays(np.uint16, image_shapes))
def test_png_u16_grey_both_ways_with_pillow(arr: npt.NDArray[np.uint16]) -> None:
    ours = _native.png_encode(arr)
    np.testing.assert_array_equal(pil_decode(ours), arr)
    back = _native.png_decode(pil_png(arr))
    assert back.dtype == np.uint16 and back.dtype.byteorder in "=<"
    np.testing.assert_array_equal(back, arr)


@given(hnp.arrays(np.uint16, image_shapes.map(lambda hw: (*hw, 3))))
def test_png_u16_rgb_round_trip(arr: npt.NDArray[np.uint16]) -> None:
    back = _native.png_decode(_native.png_encode(arr))
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, arr)
    assert _native.probe_image(_native.png_encode(arr)) == ("png", arr.shape, "uint16")


def test_png_one_channel_3d_input_decodes_2d() -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    assert _native.png_decode(_native.png_encode(arr)).shape == (3, 4)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_png_palette_decodes_to_indices_like_pillow(bits: int) -> None:
    rng = np.random.default_rng(bits)
    idx = rng.integers(0, 2**bits, size=(7, 13), dtype=np.uint8)
    im = Image.frombytes("P", (idx.shape[1], idx.shape[0]), idx.tobytes())
    im.putpalette(list(range(256)) * 3)
    buf = io.BytesIO()
    im.save(buf, "PNG", bits=bits)
    data = buf.getvalue()
    assert data[24] == bits and data[25] == 3  # bit depth, colour type: palette
    want = pil_decode(data)
    got = _native.png_decode(data)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, idx)


def test_png_one_bit_grey_matches_pillow_mode_1() -> None:
    mask = np.random.default_rng(0).random((9, 11)) > 0.5
    data = pil_png(mask)
    assert data[24] == 1 and data[25] == 0
    got = _native.png_decode(data)
    np.testing.assert_array_equal(got, pil_decode(data).astype(np.uint8))


def raw_png(
    width: int, height: int, depth: int, color: int, rows: list[bytes], interlace: int = 0
) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    idat = zlib.compress(b"".join(b"\0" + r for r in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("depth", [2, 4])
def test_png_sub_byte_grey_scales_like_pillow(depth: int) -> None:
    rng = np.random.default_rng(depth)
    width, height = 10, 5
    values = rng.integers(0, 2**depth, size=(height, width), dtype=np.uint8)
    rows = []
    for row in values:
        bits = "".join(format(int(v), f"0{depth}b") for v in row)
        bits += "0" * (-len(bits) % 8)
        rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    data = raw_png(width, height, depth, 0, rows)
    np.testing.assert_array_equal(_native.png_decode(data), pil_decode(data))


def adam7_png(arr: npt.NDArray[np.uint8]) -> bytes:
    """An interlaced 8-bit RGB PNG (Pillow cannot write Adam7)."""
    height, width, _ = arr.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
    passes.append((0, 1, 1, 2))
    rows = []
    for x0, y0, dx, dy in passes:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            rows += [r.tobytes() for r in sub]
    return raw_png(width, height, 8, 2, rows, interlace=1)


def test_png_interlaced_matches_pillow() -> None:
    arr = np.random.default_rng(1).integers(0, 255, size=(33, 17, 3), dtype=np.uint8)
    data = adam7_png(arr)
    np.testing.assert_array_equal(pil_decode(data), arr)
    np.testing.assert_array_equal(_native.png_decode(data), arr)


def test_png_encode_errors() -> None:
    for bad in (
        np.zeros((2, 2, 5), np.uint8),
        np.zeros((0, 4), np.uint8),
        np.zeros((2,), np.uint8),
    ):
        with pytest.raises(ValueError):
            _native.png_encode(bad)
    with pytest.raises(TypeError):
        _native.png_encode(np.zeros((2, 2), np.float32))  # type: ignore[arg-type]


def test_png_decode_errors() -> None:
    good = _native.png_encode(np.arange(64, dtype=np.uint8).reshape(8, 8))
    for bad in (good[:20], good[:40], good[:-20], b"\x89PNG\r\n\x1a\n" + b"\0" * 30, b"nope"):
        with pytest.raises(CodecError):
            _native.png_decode(bad)


# --- JPEG ------------------------------------------------------------------------------------


def pil_jpeg(arr: npt.NDArray[np.uint8], **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", **kw)
    return buf.getvalue()


def smooth_image(rng: np.random.Generator, h: int, w: int, c: int) -> npt.NDArray[np.uint8]:
    """Gradients plus noise: exercises both the DCT and the chroma upsampling."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 255 // max(w - 1, 1) + y * 3)[..., None] + rng.integers(0, 40, size=(h, w, c))
    out: npt.NDArray[np.uint8] = np.clip(base, 0, 255).astype(np.uint8)
    return out if c > 1 else out[..., 0]


@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.sampled_from([1, 3]),
    st.sampled_from([0, 1, 2]),
    st.sampled_from([30, 75, 95]),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_jpeg_decode_is_bit_identical_to_pillow(
    h: int, w: int, c: int, subsampling: int, quality: int, progressive: bool, seed: int
) -> None:
    arr = smooth_image(np.random.default_rng(seed), h, w, c)
    kw: dict[str, object] = {"quality": quality, "progressive": progressive}
    if c == 3:
        kw["subsampling"] = subsampling
    data = pil_jpeg(arr, **kw)
    want = pil_decode(data)
    got = _native.jpeg_decode(data)
    assert got.dtype == np.uint8 and got.shape == want.shape == arr.shape
    np.testing.assert_array_equal(got, want)
    assert _native.probe_image(data) == ("jpeg", arr.shape, "uint8")


@given(st.integers(1, 50), st.integers(1, 50), st.sampled_from([1, 3]), st.integers(0, 2**32 - 1))
def test_jpeg_encode_is_read_by_pillow(h: int, w: int, c: int, seed: int) -> None:
    arr = smooth_image(np.random.default_rng(seed), h, w, c)
    data = _native.jpeg_encode(arr)
    want = pil_decode(data)
    np.testing.assert_array_equal(_native.jpeg_decode(data), want)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == ("L" if c == 1 else "RGB")
    # Default quality 75 with 4:2:0, as Pillow's defaults: the same size within a few bytes.
    assert abs(len(data) - len(pil_jpeg(arr))) <= max(64, len(data) // 20)


def test_jpeg_encode_accepts_h_w_1() -> None:
    arr = np.full((8, 8, 1), 100, np.uint8)
    assert _native.jpeg_decode(_native.jpeg_encode(arr, quality=90)).shape == (8, 8)


def test_jpeg_errors() -> None:
    arr = smooth_image(np.random.default_rng(0), 32, 32, 3)
    good = _native.jpeg_encode(arr)
    for bad in (good[:2], good[:100], good[: len(good) // 2], b"\xff\xd8\xff" + bytes(50)):
        with pytest.raises(CodecError):
            _native.jpeg_decode(bad)
    with pytest.raises(ValueError):
        _native.jpeg_encode(arr, quality=0)
    with pytest.raises(ValueError):
        _native.jpeg_encode(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError):
        _native.jpeg_encode(np.zeros((4, 4), np.uint16))
    cmyk = io.BytesIO()
    Image.new("CMYK", (8, 8)).save(cmyk, "JPEG")
    with pytest.raises(CodecError, match="CMYK"):
        _native.jpeg_decode(cmyk.getvalue())


def test_probe_unknown_format() -> None:
    with pytest.raises(CodecError):
        _native.probe_image(b"GIF89a....")
