"""BMP, TIFF and WebP against Pillow, the library deeplake encodes and decodes them with:
shoal decodes Pillow's files to Pillow's arrays, and Pillow reads shoal's files back to the
arrays given (BMP: byte for byte the file Pillow writes)."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from shoal import _native
from shoal.errors import CodecError, TruncatedDataError

image_shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))


def shaped(channels: int) -> st.SearchStrategy[npt.NDArray[np.uint8]]:
    shapes = image_shapes if channels == 1 else image_shapes.map(lambda hw: (*hw, channels))
    return hnp.arrays(np.uint8, shapes)


def pil_save(arr: npt.NDArray[np.generic], fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def pil_decode(data: bytes) -> npt.NDArray[np.generic]:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def smooth(seed: int, h: int, w: int, c: int) -> npt.NDArray[np.uint8]:
    """A photo-like image (gradients plus a little noise), what lossy codecs are made for."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 7 + y * 3 + 40 * k) % 256 for k in range(c)], axis=2)
    return np.clip(base + rng.integers(-20, 20, (h, w, c)), 0, 255).astype(np.uint8)


# --- BMP -------------------------------------------------------------------------------------


def reserved_palette_bytes_cleared(bmp: bytes) -> bytes:
    """A grey BMP with its palette's fourth (reserved) bytes zeroed: deeplake's Pillow 10
    repeats the grey level there, Pillow 11 and later write 0."""
    out = bytearray(bmp)
    if out[28] == 8:
        for k in range(256):
            out[54 + 4 * k + 3] = 0
    return bytes(out)


@given(st.one_of(shaped(1), shaped(3)))
def test_bmp_encode_is_the_file_pillow_writes(arr: npt.NDArray[np.uint8]) -> None:
    ours = _native.bmp_encode(arr)
    assert reserved_palette_bytes_cleared(ours) == reserved_palette_bytes_cleared(
        pil_save(arr, "BMP")
    )
    assert np.array_equal(_native.bmp_decode(ours), arr)


def test_bmp_decodes_pillows_other_layouts() -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    # Pillow writes RGBA as 32-bit BI_RGB and reads it back as RGB: so does shoal
    assert np.array_equal(_native.bmp_decode(pil_save(rgba, "BMP")), rgba[:, :, :3])
    pal = Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)).quantize(16)
    one = Image.fromarray(rng.integers(0, 2, (6, 11), dtype=np.uint8) * 255).convert("1")
    for im in (pal, one):
        buf = io.BytesIO()
        im.save(buf, "BMP")
        want = pil_decode(buf.getvalue())
        got = _native.bmp_decode(buf.getvalue())
        assert got.shape == want.shape and np.array_equal(got, want.astype(np.uint8))


def test_bmp_errors() -> None:
    good = _native.bmp_encode(np.zeros((4, 4, 3), np.uint8))
    for bad in (good[:10], good[:54], good[:-1], b"BM" + bytes(60)):
        with pytest.raises((CodecError, TruncatedDataError)):
            _native.bmp_decode(bad)
    rle8 = bytearray(_native.bmp_encode(np.zeros((4, 4), np.uint8)))
    rle8[30] = 1  # BI_RLE8: Pillow never writes it
    with pytest.raises(CodecError, match="RLE"):
        _native.bmp_decode(bytes(rle8))
    with pytest.raises(ValueError, match="reads back as RGB"):
        _native.bmp_encode(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(TypeError):
        _native.bmp_encode(np.zeros((4, 4), np.uint16))


# --- TIFF ------------------------------------------------------------------------------------


@given(st.one_of(shaped(1), shaped(3), shaped(4)))
def test_tiff_both_ways_with_pillow(arr: npt.NDArray[np.uint8]) -> None:
    ours = _native.tiff_encode(arr)
    assert np.array_equal(pil_decode(ours), arr)
    for compression in (None, "tiff_lzw", "tiff_adobe_deflate", "packbits"):
        theirs = pil_save(arr, "TIFF", compression=compression)
        assert np.array_equal(_native.tiff_decode(theirs), pil_decode(theirs))


@given(hnp.arrays(np.uint16, image_shapes))
def test_tiff_u16_grey_both_ways(arr: npt.NDArray[np.uint16]) -> None:
    ours = _native.tiff_decode(_native.tiff_encode(arr))
    assert ours.dtype == np.uint16 and np.array_equal(ours, arr)
    theirs = pil_save(arr, "TIFF")
    assert np.array_equal(_native.tiff_decode(theirs), pil_decode(theirs))


def test_tiff_grey_alpha_like_pillow_and_palette_refused() -> None:
    rng = np.random.default_rng(2)
    la = Image.fromarray(rng.integers(0, 256, (5, 8, 2), dtype=np.uint8), "LA")
    buf = io.BytesIO()
    la.save(buf, "TIFF")
    assert np.array_equal(_native.tiff_decode(buf.getvalue()), pil_decode(buf.getvalue()))
    pal = Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)).quantize(20)
    buf = io.BytesIO()
    pal.save(buf, "TIFF")
    with pytest.raises(CodecError, match="Palette"):
        _native.tiff_decode(buf.getvalue())


def test_tiff_errors() -> None:
    good = _native.tiff_encode(np.ones((6, 6, 3), np.uint8))
    for bad in (good[:4], good[:8], good[:-1], b"II*\x00" + bytes(20), b"MM\x00*\xff\xff\xff\xff"):
        with pytest.raises(CodecError):
            _native.tiff_decode(bad)
    cmyk = io.BytesIO()
    Image.new("CMYK", (4, 4)).save(cmyk, "TIFF")
    with pytest.raises(CodecError, match="CMYK"):
        _native.tiff_decode(cmyk.getvalue())
    with pytest.raises(ValueError):
        _native.tiff_encode(np.zeros((4, 4, 2), np.uint8))


# --- WebP ------------------------------------------------------------------------------------


@given(st.one_of(shaped(3), shaped(4)))
def test_webp_lossless_encode_is_read_by_pillow(arr: npt.NDArray[np.uint8]) -> None:
    ours = _native.webp_encode(arr)
    assert np.array_equal(pil_decode(ours), arr)
    assert np.array_equal(_native.webp_decode(ours), arr)
    theirs = pil_save(arr, "WEBP", lossless=True)
    assert np.array_equal(_native.webp_decode(theirs), pil_decode(theirs))


@settings(max_examples=60)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.sampled_from([3, 4]),
    st.integers(1, 100),
    st.integers(0, 2**32 - 1),
)
def test_webp_lossy_decode_is_bit_identical_to_pillow(
    h: int, w: int, c: int, quality: int, seed: int
) -> None:
    """Pillow's default (lossy, quality 80) and other qualities, with and without alpha."""
    data = pil_save(smooth(seed, h, w, c), "WEBP", quality=quality)
    want = pil_decode(data)
    got = _native.webp_decode(data)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def test_webp_errors() -> None:
    good = _native.webp_encode(np.ones((6, 6, 3), np.uint8))
    for bad in (good[:12], good[:20], good[:-4], b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(30)):
        with pytest.raises(CodecError):
            _native.webp_decode(bad)
    frames = [Image.new("RGB", (4, 4), (i * 80, 0, 0)) for i in range(2)]
    anim = io.BytesIO()
    frames[0].save(anim, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(CodecError, match="animated"):
        _native.webp_decode(anim.getvalue())
    with pytest.raises(ValueError, match="no grey mode"):
        _native.webp_encode(np.zeros((4, 4), np.uint8))


def test_probe_recognises_every_format() -> None:
    rgb = np.zeros((3, 5, 3), np.uint8)
    for fmt, data in (
        ("bmp", _native.bmp_encode(rgb)),
        ("tiff", _native.tiff_encode(rgb)),
        ("tiff", pil_save(rgb, "TIFF", compression="tiff_lzw")),
        ("webp", _native.webp_encode(rgb)),
        ("webp", pil_save(rgb, "WEBP")),
    ):
        assert _native.probe_image(data) == (fmt, (3, 5, 3), "uint8")
    gray16 = _native.tiff_encode(np.zeros((2, 4), np.uint16))
    assert _native.probe_image(gray16) == ("tiff", (2, 4), "uint16")
