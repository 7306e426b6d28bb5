"""The image sample compressions shoal encodes and decodes, by Deep Lake name: which native
codec handles each, and how a file's format is recognised from its first bytes.

deeplake 3.9.52 encodes and decodes these with Pillow; shoal's native codecs decode to the
arrays Pillow gives (``np.asarray(Image.open(f))``) and encode files Pillow reads back to the
same array. Where shoal's encoder differs from Pillow's default, the module docs of the Rust
codec say how (webp: lossless rather than lossy at quality 80).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _native
from ..errors import CodecError, SampleError

#: Decoders by compression name: bytes -> ``(H, W)`` or ``(H, W, C)`` array.
DECODERS: dict[str, Callable[[Any], np.ndarray]] = {
    "png": _native.png_decode,
    "jpeg": _native.jpeg_decode,
    "bmp": _native.bmp_decode,
    "tiff": _native.tiff_decode,
    "webp": _native.webp_decode,
}

#: Channel counts each format stores so that deeplake (Pillow) reads the sample back with its
#: own shape; ``None``: any of 1 to 4.
CHANNELS: dict[str, tuple[int, ...] | None] = {
    "png": None,
    "jpeg": (1, 3),
    # Pillow saves RGBA as a 32-bit BMP that it reads back as RGB
    "bmp": (1, 3),
    "tiff": (1, 3, 4),
    # WebP has no grey mode: Pillow saves grey as RGB, which deeplake cannot reshape back
    "webp": (3, 4),
}

#: Formats that store uint8 pixels only (png and tiff also take uint16 grey).
UINT8_ONLY = frozenset({"jpeg", "bmp", "webp"})

#: File extensions, for a file whose first bytes say nothing.
EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
}


def sniff(data: bytes | bytearray | memoryview) -> str | None:
    """The image format of ``data`` from its magic bytes (as Pillow's openers check them)."""
    head = bytes(data[:12])
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def decode(data: bytes | bytearray | memoryview, fmt: str) -> np.ndarray:
    """One encoded image as an array; ``CodecError`` if the bytes are not a valid ``fmt``."""
    decoder = DECODERS.get(fmt)
    if decoder is None:
        raise CodecError(f"cannot decode {fmt!r}; shoal decodes {sorted(DECODERS)}")
    return decoder(data)


def read_and_probe(
    sample: bytes | bytearray | memoryview | os.PathLike[str], where: str
) -> tuple[bytes | bytearray | memoryview, str, tuple[int, ...], str]:
    """An encoded image sample (its bytes, or the path of its file): the bytes, and the
    format, shape and dtype its header gives. ``where`` names the sample in the error."""
    if isinstance(sample, os.PathLike):
        with open(sample, "rb") as f:
            data: bytes | bytearray | memoryview = f.read()
    else:
        data = sample
    try:
        fmt, shape, dtype = _native.probe_image(data)
    except CodecError as exc:
        raise SampleError(
            f"{where} is bytes but not a PNG, JPEG, BMP, TIFF or WebP image ({exc})"
        ) from None
    return data, fmt, tuple(shape), dtype
