"""Every parser, fed random, truncated or corrupted bytes, raises one of shoal's errors."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import lz4.block
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from shoal import _native
from shoal.errors import CodecError, CorruptDataError, TruncatedDataError

ALLOWED = (CorruptDataError, TruncatedDataError, CodecError)

PARSERS: dict[str, Callable[[bytes], object]] = {
    "chunk_header": _native.parse_chunk_header,
    "chunk_ids": _native.parse_chunk_ids,
    "u32_encoder": lambda b: _native.parse_u32_encoder(b, 3),
    "tile_encoder": _native.parse_tile_encoder,
    "lz4": _native.lz4_decompress,
    "png": _native.png_decode,
    "jpeg": _native.jpeg_decode,
    "bmp": _native.bmp_decode,
    "tiff": _native.tiff_decode,
    "tiff_lzw": _native.tiff_decode,
    "webp": _native.webp_decode,
    "webp_lossy": _native.webp_decode,
    "probe": _native.probe_image,
}


def valid_samples() -> dict[str, bytes]:
    img = np.random.default_rng(0).integers(0, 255, size=(20, 30, 3), dtype=np.uint8)
    jpg = io.BytesIO()
    Image.fromarray(img).save(jpg, "JPEG")
    lzw, lossy = io.BytesIO(), io.BytesIO()
    Image.fromarray(img).save(lzw, "TIFF", compression="tiff_lzw")
    Image.fromarray(np.dstack([img, img[..., :1]])).save(lossy, "WEBP")
    return {
        "chunk_header": _native.serialize_chunk(
            "3.9.52",
            np.array([[2, 3, 0], [3, 3, 1]], np.uint32),
            np.array([[24, 0, 0], [36, 24, 1]], np.uint32),
            bytes(60),
        ),
        "chunk_ids": _native.serialize_chunk_ids("3.9.52", np.array([[5, 9]], np.uint64)),
        "u32_encoder": _native.serialize_u32_encoder("3.9.52", np.ones((2, 3), np.uint32)),
        "tile_encoder": _native.serialize_tile_encoder("3.9.52", {0: ((40, 30), (20, 30))}),
        "lz4": lz4.block.compress(img.tobytes()),
        "png": _native.png_encode(img),
        "jpeg": jpg.getvalue(),
        "bmp": _native.bmp_encode(img),
        "tiff": _native.tiff_encode(img),
        "tiff_lzw": lzw.getvalue(),
        "webp": _native.webp_encode(img),
        "webp_lossy": lossy.getvalue(),
        "probe": _native.png_encode(img[..., 0]),
    }


VALID = valid_samples()


def call(name: str, data: bytes) -> None:
    with contextlib.suppress(*ALLOWED):
        PARSERS[name](data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.binary(max_size=300))
def test_random_bytes(name: str, data: bytes) -> None:
    call(name, data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
def test_truncated_and_corrupted(name: str, data: st.DataObject) -> None:
    valid = VALID[name]
    cut = data.draw(st.integers(0, len(valid)))
    call(name, valid[:cut])
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)), max_size=4)
    )
    corrupted = bytearray(valid)
    for at, x in flips:
        corrupted[at] ^= x
    call(name, bytes(corrupted))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_strict_prefix_fails_cleanly(name: str) -> None:
    valid = VALID[name]
    step = max(1, len(valid) // 200)
    for cut in range(0, len(valid), step):
        call(name, valid[:cut])


def test_truncated_encoders_say_what_they_need() -> None:
    header_len = _native.parse_chunk_header(VALID["chunk_header"]).data_offset
    for name, valid in (
        ("chunk_header", VALID["chunk_header"][:header_len]),
        ("tile_encoder", VALID["tile_encoder"]),
    ):
        with pytest.raises(TruncatedDataError) as info:
            PARSERS[name](valid[:-1])
        assert info.value.needed == len(valid)
