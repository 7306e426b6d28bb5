"""Turn what users append into stored bytes and shapes.

The tensor's htype (``format.htypes``) says what a sample may be and turns it into an array,
serialised bytes or an encoded image; this module casts arrays to the tensor's dtype, encodes
sample compressions and decides which samples to tile.

Each converter validates everything before anything is stored, so a bad sample in the middle
of an ``extend`` raises before the tensor changes. Messages name the tensor, the offending
value's type/dtype/shape, and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _native
from ..errors import CodecError, SampleError
from ..format import image_codecs
from ..format.htypes import Blob, Encoded, SampleContext, array_dtype, htype_of

COMPRESSION_RATIO = 0.5  # deeplake's estimate for png/jpeg/lz4 when deciding to tile


@dataclass
class Prepared:
    """Samples converted for storage, in order. Tiled samples carry their array instead."""

    blobs: list[bytes | memoryview] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    # index in this batch -> full array of a sample that must be tiled
    tiled: dict[int, np.ndarray] = field(default_factory=dict)
    # first sample's dtype, if this batch fixes the tensor's dtype
    dtype: np.dtype | None = None
    # a batch array taken whole: its bytes in one buffer, and each sample's size
    packed: memoryview | None = None
    sizes: list[int] = field(default_factory=list)
    # index in this batch -> a sample read from a file (``shoal.read``): its info record
    sources: dict[int, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.shapes)

    @property
    def bound_shapes(self) -> list[tuple[int, ...]]:
        """Shapes the meta's min/max bounds cover (a link tensor's: its files' shapes)."""
        return self.shapes

    @property
    def companion_shapes(self) -> list[tuple[int, ...]]:
        """Shapes the hidden companions (``_shape``, ...) record."""
        return self.shapes

    @property
    def companion_infos(self) -> list[dict[str, Any]]:
        """The sample info records (``_<t>_info``): a file's record, ``{}`` for arrays."""
        return [
            self.sources[i].__shoal_info__ if i in self.sources else {}
            for i in range(len(self.shapes))
        ]


class SampleConverter:
    """Converts samples for one tensor, given its meta (read) and info (class names, updated)."""

    def __init__(self, name: str, meta: dict[str, Any], info: dict[str, Any]) -> None:
        self.name = name
        self.meta = meta
        self.info = info
        self.htype = htype_of(meta.get("htype")).bind(meta)
        self.sc: str | None = meta.get("sample_compression")
        self.cc: str | None = meta.get("chunk_compression")
        threshold = meta.get("tiling_threshold")
        self.tiling_threshold = 16_000_000 if threshold is None else int(threshold)
        self.ndim: int | None = len(meta["min_shape"]) if meta.get("min_shape") else None
        self.dtype: np.dtype | None = array_dtype(meta.get("dtype"))

    # -- public ------------------------------------------------------------------------------
    def prepare(self, samples: Any, new_class_names: list[str]) -> Prepared:
        if isinstance(samples, np.ndarray):
            fast = self._prepare_batch(samples)
            if fast is not None:
                return fast
            samples = list(samples)
        out = Prepared()
        dtype = self.dtype
        ndim = self.ndim
        ctx = SampleContext(self.name, self.info, new_class_names)
        for i, sample in enumerate(samples):
            ctx.index, ctx.ndim = i, ndim
            blob, shape, arr = self._one(sample, ctx, dtype)
            if hasattr(type(sample), "__shoal_info__"):
                out.sources[len(out.shapes)] = sample
            if arr is not None and dtype is None and not self.htype.is_object:
                dtype = arr.dtype
                out.dtype = dtype
            if ndim is None:
                ndim = len(shape)
            elif len(shape) != ndim:
                raise SampleError(
                    f"tensor {self.name!r} holds {ndim}-D samples; sample {i} has shape "
                    f"{shape} ({len(shape)}-D). Reshape it, or store it in another tensor"
                )
            if blob is None:
                assert arr is not None
                out.tiled[len(out.shapes)] = arr
                out.blobs.append(b"")
            else:
                out.blobs.append(blob)
            out.shapes.append(shape)
        return out

    def _prepare_batch(self, batch: np.ndarray) -> Prepared | None:
        """A whole batch array in one step, when every sample would take the plain path:
        no per-sample conversion, one copy of its bytes at staging. None: not eligible."""
        if (
            batch.ndim == 0
            or self.sc is not None
            or self.htype.is_object
            or not self.htype.batch_arrays
            or batch.dtype.kind not in "biuf"
        ):
            return None
        dtype = self.dtype
        if dtype is not None and batch.dtype != dtype:
            if not np.can_cast(batch.dtype, dtype, "same_kind"):
                return None  # the per-sample path raises the precise error
            batch = batch.astype(dtype)
        checked = self.htype.batch_shape(
            batch, tuple(int(d) for d in batch.shape[1:]) or (1,), self.ndim
        )
        if checked is None or (self.ndim is not None and len(checked) != self.ndim):
            return None
        sample_shape = checked
        n = batch.shape[0]
        nbytes = int(np.prod(sample_shape)) * batch.dtype.itemsize
        if self._should_tile(nbytes, compressed=self.cc is not None):
            return None
        flat = np.ascontiguousarray(batch).reshape(-1).view(np.uint8)
        out = Prepared(
            shapes=[sample_shape] * n,
            packed=flat.data if flat.size else None,
            sizes=[nbytes] * n,
        )
        if self.dtype is None:
            out.dtype = batch.dtype
        return out

    # -- per sample --------------------------------------------------------------------------
    def _one(
        self, sample: Any, ctx: SampleContext, dtype: np.dtype | None
    ) -> tuple[bytes | memoryview | None, tuple[int, ...], np.ndarray | None]:
        i = ctx.index
        converted = self.htype.convert(sample, ctx)
        if isinstance(converted, Blob):
            if self.sc == "lz4" and converted.data:  # as deeplake: each value, but not b""
                return _native.lz4_compress(converted.data), converted.shape, None
            return converted.data, converted.shape, None
        if isinstance(converted, Encoded):
            return self._encoded_image(converted.data, i, dtype, ctx.ndim)
        arr = self.htype.check_array(self._array(converted, i, dtype), ctx)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        shape = tuple(int(d) for d in arr.shape)
        nbytes = arr.nbytes
        sc = self.sc
        if self._should_tile(nbytes, compressed=sc is not None or self.cc is not None):
            return None, shape, np.ascontiguousarray(arr)
        if sc is None:
            return raw_bytes(arr), shape, arr
        if arr.size == 0:
            return b"", shape, arr
        return encode(arr, sc, self.name, i), shape, arr

    def _should_tile(self, nbytes: int, compressed: bool) -> bool:
        if self.tiling_threshold < 0 or self.htype.is_object:
            return False
        estimate = nbytes * COMPRESSION_RATIO if compressed else nbytes
        return estimate > self.tiling_threshold

    def _array(self, sample: Any, i: int, dtype: np.dtype | None) -> np.ndarray:
        if sample is None:
            raise SampleError(
                f"tensor {self.name!r}: sample {i} is None; shoal stores arrays, not missing "
                "values — append an empty array of the right dimensions instead"
            )
        if isinstance(sample, (str, bytes, dict)):
            raise SampleError(
                f"tensor {self.name!r} (htype {self.htype.name!r}) takes numeric arrays; sample {i} "
                f"is {type(sample).__name__}"
            )
        try:
            arr = np.asarray(sample)
        except (ValueError, TypeError) as exc:
            raise SampleError(
                f"tensor {self.name!r}: sample {i} is not an array ({exc}); ragged nested lists "
                "must be appended as separate samples"
            ) from None
        if arr.dtype.kind not in "biuf":
            raise SampleError(
                f"tensor {self.name!r}: sample {i} has dtype {arr.dtype}, which cannot be stored; "
                "use numeric or bool arrays"
            )
        if dtype is None or arr.dtype == dtype:
            return arr
        python_value = not isinstance(sample, (np.ndarray, np.generic))
        if np.can_cast(arr.dtype, dtype, "same_kind") or python_value:
            cast = arr.astype(dtype)
            if python_value and not np.array_equal(cast, arr):
                raise SampleError(
                    f"tensor {self.name!r} stores {dtype}; sample {i} holds values that do not fit "
                    f"{dtype} (e.g. {arr.flat[0]!r})"
                )
            return cast
        raise SampleError(
            f"tensor {self.name!r} (htype {self.htype.name!r}) stores {dtype}; sample {i} has "
            f"dtype {arr.dtype}, which would lose information. Cast it with .astype('{dtype}') "
            f"or create the tensor with dtype='{arr.dtype}'"
        )

    def _encoded_image(
        self, sample: Any, i: int, dtype: np.dtype | None, ndim: int | None
    ) -> tuple[bytes | memoryview | None, tuple[int, ...], np.ndarray | None]:
        data, fmt, shape, dt = image_codecs.read_and_probe(
            sample, f"tensor {self.name!r}: sample {i}"
        )
        if len(shape) == 2 and ndim in (3, None):
            shape = (*shape, 1)
        if dtype is not None and np.dtype(dt) != dtype:
            raise SampleError(
                f"tensor {self.name!r} stores {dtype}; image sample {i} decodes to {dt}"
            )
        nbytes = int(np.prod(shape)) * np.dtype(dt).itemsize
        if fmt == self.sc and not self._should_tile(len(data), compressed=False):
            # Already in the tensor's compression: store the file's bytes unchanged.
            return bytes(data), tuple(shape), np.empty(0, dtype=dt)
        arr = decode(data, fmt).reshape(shape)
        if self._should_tile(nbytes, compressed=self.sc is not None):
            return None, tuple(shape), arr
        if self.sc is None:
            return raw_bytes(arr), tuple(shape), arr
        return encode(arr, self.sc, self.name, i), tuple(shape), arr


def raw_bytes(arr: np.ndarray) -> bytes | memoryview:
    """The array's bytes in C order, without a copy when it is contiguous. Staging copies them
    (once) right after, before the caller can change its array."""
    if arr.size == 0:
        return b""
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data


def encode(arr: np.ndarray, compression: str, name: str = "", index: int = 0) -> bytes:
    """Encode one array with a sample compression."""
    if compression == "lz4":
        try:
            return _native.lz4_compress(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
        except CodecError as exc:
            raise SampleError(
                f"tensor {name!r}: could not lz4-encode sample {index}: {exc}"
            ) from None
    encoder = _IMAGE_ENCODERS.get(compression)
    if encoder is None:
        raise SampleError(f"unknown compression {compression!r}")
    if compression in image_codecs.UINT8_ONLY and arr.dtype != np.uint8:
        raise SampleError(
            f"tensor {name!r}: {compression} stores uint8 pixels; sample {index} is {arr.dtype}"
        )
    channels = arr.shape[2] if arr.ndim == 3 else 1
    allowed = image_codecs.CHANNELS[compression]
    if arr.ndim in (2, 3) and allowed is not None and channels not in allowed:
        raise SampleError(
            f"tensor {name!r}: {compression} stores images of {' or '.join(map(str, allowed))} "
            f"channels; sample {index} has shape {arr.shape}. "
            + _CHANNEL_ADVICE.get(compression, "Use png, which stores 1 to 4 channels")
        )
    a = arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
    try:
        return encoder(np.ascontiguousarray(a))
    except CodecError as exc:
        raise SampleError(
            f"tensor {name!r}: could not {compression}-encode sample {index}: {exc}"
        ) from None
    except ValueError as exc:  # sizes or dtypes the format cannot hold
        raise SampleError(
            f"tensor {name!r}: cannot store sample {index} as {compression}: {exc}"
        ) from None


_IMAGE_ENCODERS: dict[str, Callable[[np.ndarray], bytes]] = {
    "png": _native.png_encode,
    "jpeg": _native.jpeg_encode,
    "bmp": _native.bmp_encode,
    "tiff": _native.tiff_encode,
    "webp": _native.webp_encode,
}

_CHANNEL_ADVICE = {
    "webp": "WebP has no grey mode (deeplake writes grey as RGB and cannot read it back): "
    "repeat the channel to RGB or use png",
    "bmp": "A 4-channel BMP reads back as RGB in deeplake: drop the alpha channel or use png",
}


def decode(data: bytes | bytearray | memoryview, fmt: str) -> np.ndarray:
    return image_codecs.decode(data, fmt)
