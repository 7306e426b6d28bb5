"""Linked files as arrays: images decoded by the native core, ``.npy`` files for numeric
htypes, and the file's bytes for text and json (decoded by their htype)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .. import _native
from .._exif import file_info
from ..errors import CodecError, LinkError
from ..format import image_codecs

_NPY_MAGIC = b"\x93NUMPY"


def probe(data: bytes, htype: str, index: int, path: str) -> tuple[int, ...]:
    """The shape of a linked file's sample, without decoding pixels (verification on append)."""
    if htype in ("text", "json"):
        return (1,)
    if data[:6] == _NPY_MAGIC:
        return tuple(int(d) for d in _load_npy(data, index, path).shape) or (1,)
    try:
        _, shape, _ = _native.probe_image(data)
    except CodecError as exc:
        raise LinkError(
            f"sample {index}: linked file {path!r} is not a PNG, JPEG or .npy file ({exc})",
            index,
            path,
        ) from None
    shape = tuple(int(d) for d in shape)
    return (*shape, 1) if htype == "image" and len(shape) == 2 else shape


def probe_with_info(
    data: bytes, htype: str, index: int, path: str
) -> tuple[tuple[int, ...], dict[str, Any] | None]:
    """:func:`probe`, and for an image file the sample info record deeplake keeps of it."""
    shape = probe(data, htype, index, path)
    if htype != "image" or data[:6] == _NPY_MAGIC:
        return shape, None
    fmt, own, _ = _native.probe_image(data)  # (h, w) for a grayscale file, as deeplake records
    return shape, file_info(data, fmt, own, path)


def to_array(data: bytes | memoryview, ndim: int | None, index: int, path: str) -> np.ndarray:
    """One linked file decoded; a 2-D image gets a channel axis when the tensor's are 3-D."""
    if not data:
        return np.zeros((0,) * (ndim or 1), dtype=np.uint8)
    if data[:6] == _NPY_MAGIC:
        arr = _load_npy(data, index, path)
    else:
        try:
            fmt, _, _ = _native.probe_image(data)
            arr = image_codecs.decode(data, fmt)
        except CodecError as exc:
            raise LinkError(
                f"sample {index}: linked file {path!r} could not be decoded as an image ({exc})",
                index,
                path,
            ) from None
    if arr.ndim == 2 and ndim == 3:
        arr = arr[:, :, None]
    return arr


def _load_npy(data: bytes | memoryview, index: int, path: str) -> np.ndarray:
    try:
        arr: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
        return arr
    except ValueError as exc:
        raise LinkError(
            f"sample {index}: linked file {path!r} is not a readable .npy array ({exc})",
            index,
            path,
        ) from None
