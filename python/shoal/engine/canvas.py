"""Image chunk compression (``chunk_compression="png"`` or ``"jpeg"``): the body of a chunk.

deeplake 3.9.52 pastes the chunk's samples left to right on one zero canvas (as tall as the
tallest, as wide as all of them together; an empty ``(0, 0, 0)`` sample takes no room) and
encodes the canvas as one image (``compression.compress_multiple``). Such a chunk has no
byte positions: a sample is found by the widths of the samples before it (``assemble.
from_canvas``). Any change to one sample re-encodes the whole canvas, as deeplake does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _native
from ..errors import SampleError
from ..format.keys import FORMAT_VERSION
from .chunks import rle_shapes
from .samples import encode

#: An image-compressed chunk's byte-position encoder: empty.
NO_BYTE_POSITIONS = np.zeros((0, 3), dtype=np.uint32)


def arrays_of(
    body: Any, sizes: list[int], shapes: list[tuple[int, ...]], dtype: np.dtype
) -> list[np.ndarray]:
    """Raw staged samples (their bytes back to back) as arrays."""
    out, off = [], 0
    buf = memoryview(body).cast("B") if not isinstance(body, np.ndarray) else body
    for size, shape in zip(sizes, shapes, strict=True):
        out.append(np.frombuffer(buf[off : off + size], dtype=dtype).reshape(shape))
        off += size
    return out


def encode_canvas(arrays: list[np.ndarray], compression: str, name: str) -> bytes:
    """The samples on one canvas, encoded (deeplake's ``compress_multiple``)."""
    live = [a for a in arrays if a.shape != (0, 0, 0)]
    if not live:
        return b""
    channels = live[0].shape[2:]
    for a in live:
        if a.shape[2:] != channels:  # deeplake refuses these too ("channels doesn't match")
            raise SampleError(
                f"tensor {name!r}: a {compression} chunk holds its samples side by side in one "
                f"image, so they need the same channels; got shapes {live[0].shape} and "
                f"{a.shape}. Convert the samples to one channel layout"
            )
    height = max(a.shape[0] for a in arrays)
    canvas = np.zeros((height, sum(a.shape[1] for a in live), *channels), dtype=live[0].dtype)
    x = 0
    for a in live:
        canvas[: a.shape[0], x : x + a.shape[1]] = a
        x += a.shape[1]
    if canvas.size == 0:
        return b""
    return encode(canvas, compression, name)


def image_chunk(
    body: Any,
    sizes: list[int],
    shapes: list[tuple[int, ...]],
    meta: dict[str, Any],
) -> bytes:
    """A whole chunk object of raw staged samples, image-compressed."""
    dtype = np.dtype(meta.get("dtype") or "uint8")
    arrays = arrays_of(body, sizes, shapes, dtype)
    data = encode_canvas(arrays, str(meta["chunk_compression"]), str(meta.get("name") or ""))
    rle = rle_shapes(np.asarray(shapes, dtype=np.int64).reshape(len(shapes), -1))
    return bytes(_native.serialize_chunk(FORMAT_VERSION, rle, NO_BYTE_POSITIONS, data))
