"""Turn what users append into stored bytes and shapes.

The tensor's htype (``format.htypes``) says what a sample may be and turns it into an array,
serialised bytes or an encoded image; this module casts arrays to the tensor's dtype, encodes
sample compressions and decides which samples to tile.

Each converter validates everything before anything is stored, so a bad sample in the middle
of an ``extend`` raises before the tensor changes. Messages name the tensor, the offending
value's type/dtype/shape, and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _native
from ..errors import CodecError, SampleError
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
        if isinstance(sample, os.PathLike):
            with open(sample, "rb") as f:
                data: bytes | bytearray | memoryview = f.read()
        else:
            data = sample
        try:
            fmt, shape, dt = _native.probe_image(data)
        except CodecError as exc:
            raise SampleError(
                f"tensor {self.name!r}: sample {i} is bytes but not a PNG or JPEG image ({exc})"
            ) from None
        if (ndim == 3 and len(shape) == 2) or (ndim is None and len(shape) == 2):
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
    try:
        if compression == "png":
            a = arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
            return _native.png_encode(np.ascontiguousarray(a))
        if compression == "jpeg":
            if arr.dtype != np.uint8:
                raise SampleError(
                    f"tensor {name!r}: jpeg stores uint8 pixels; sample {index} is {arr.dtype}"
                )
            a = arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
            return _native.jpeg_encode(np.ascontiguousarray(a))
        if compression == "lz4":
            return _native.lz4_compress(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
    except CodecError as exc:
        raise SampleError(
            f"tensor {name!r}: could not {compression}-encode sample {index}: {exc}"
        ) from None
    raise SampleError(f"unknown compression {compression!r}")


def decode(data: bytes | bytearray | memoryview, fmt: str) -> np.ndarray:
    if fmt == "png":
        return _native.png_decode(data)
    if fmt == "jpeg":
        return _native.jpeg_decode(data)
    raise CodecError(f"cannot decode {fmt!r}")
