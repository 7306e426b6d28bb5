"""Turn what users append into stored bytes and shapes, per htype.

Each converter validates everything before anything is stored, so a bad sample in the middle
of an ``extend`` raises before the tensor changes. Messages name the tensor, the offending
value's type/dtype/shape, and what to do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _native
from ..errors import CodecError, SampleError

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

    def __len__(self) -> int:
        return len(self.shapes)


class SampleConverter:
    """Converts samples for one tensor, given its meta (read) and info (class names, updated)."""

    def __init__(self, name: str, meta: dict[str, Any], info: dict[str, Any]) -> None:
        self.name = name
        self.meta = meta
        self.info = info
        self.htype: str = meta["htype"]
        self.sc: str | None = meta.get("sample_compression")
        self.cc: str | None = meta.get("chunk_compression")
        threshold = meta.get("tiling_threshold")
        self.tiling_threshold = 16_000_000 if threshold is None else int(threshold)
        self.ndim: int | None = len(meta["min_shape"]) if meta.get("min_shape") else None
        self.dtype: np.dtype | None = (
            np.dtype(meta["dtype"])
            if meta.get("dtype") not in (None, "str", "Any", "List")
            else None
        )

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
        for i, sample in enumerate(samples):
            blob, shape, arr = self._one(sample, i, dtype, ndim, new_class_names)
            if arr is not None and dtype is None and self.htype not in ("text", "json"):
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
            or self.htype not in ("generic", "embedding", "bbox", "class_label", "image")
            or batch.dtype.kind not in "biuf"
        ):
            return None
        dtype = self.dtype
        if dtype is not None and batch.dtype != dtype:
            if not np.can_cast(batch.dtype, dtype, "same_kind"):
                return None  # the per-sample path raises the precise error
            batch = batch.astype(dtype)
        sample_shape = tuple(int(d) for d in batch.shape[1:]) or (1,)
        if self.htype == "image" and len(sample_shape) == 2 and self.ndim == 3:
            sample_shape = (*sample_shape, 1)
        if self.ndim is not None and len(sample_shape) != self.ndim:
            return None
        if self.htype == "image" and (
            len(sample_shape) not in (2, 3) or (len(sample_shape) == 3 and sample_shape[2] > 4)
        ):
            return None
        if self.htype == "bbox" and sample_shape[-1] != 4:
            return None
        if (
            self.htype == "class_label"
            and batch.dtype.kind == "i"
            and batch.size
            and batch.min() < 0
        ):
            return None
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
        self,
        sample: Any,
        i: int,
        dtype: np.dtype | None,
        ndim: int | None,
        new_class_names: list[str],
    ) -> tuple[bytes | memoryview | None, tuple[int, ...], np.ndarray | None]:
        htype = self.htype
        if htype == "text":
            if isinstance(sample, np.ndarray) and sample.dtype.kind == "U" and sample.size == 1:
                sample = str(sample.reshape(()))
            if not isinstance(sample, str):
                raise SampleError(
                    f"tensor {self.name!r} (htype 'text') takes str samples; sample {i} is "
                    f"{type(sample).__name__}"
                )
            return sample.encode("utf-8"), (1,), None
        if htype == "json":
            try:
                text = json.dumps(sample, cls=_JsonEncoder)
            except (TypeError, ValueError) as exc:
                raise SampleError(
                    f"tensor {self.name!r} (htype 'json') could not serialise sample {i}: {exc}. "
                    "Use dicts, lists, str, numbers, bools and None"
                ) from None
            return text.encode("utf-8"), (1,), None
        if htype == "class_label":
            sample = self._class_ids(sample, i, new_class_names)
        if htype == "image" and isinstance(sample, (bytes, bytearray, memoryview, os.PathLike)):
            return self._encoded_image(sample, i, dtype, ndim)
        arr = self._array(sample, i, dtype)
        if htype == "image":
            if arr.ndim == 2 and ndim == 3:
                arr = arr[:, :, None]
            if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
                raise SampleError(
                    f"tensor {self.name!r} (htype 'image') takes (H, W) or (H, W, C) arrays with "
                    f"C in 1..4; sample {i} has shape {arr.shape}"
                )
        if htype == "bbox" and (arr.ndim == 0 or arr.shape[-1] != 4):
            raise SampleError(
                f"tensor {self.name!r} (htype 'bbox') takes (N, 4) boxes; sample {i} has shape "
                f"{arr.shape}"
            )
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
        if self.tiling_threshold < 0 or self.htype in ("text", "json"):
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
                f"tensor {self.name!r} (htype {self.htype!r}) takes numeric arrays; sample {i} "
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
            f"tensor {self.name!r} stores {dtype}; sample {i} has dtype {arr.dtype}, which would "
            f"lose information. Cast it with .astype('{dtype}') or create the tensor with "
            f"dtype='{arr.dtype}'"
        )

    def _class_ids(self, sample: Any, i: int, new_names: list[str]) -> Any:
        names: list[str] = self.info.setdefault("class_names", [])

        def one(label: Any) -> int:
            if isinstance(label, str):
                if label not in names:
                    names.append(label)
                    new_names.append(label)
                return names.index(label)
            if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and label >= 0:
                return int(label)
            raise SampleError(
                f"tensor {self.name!r} (class_label): sample {i} has label {label!r}; labels are "
                "class-name strings or non-negative ints"
            )

        if isinstance(sample, str):
            return np.array([one(sample)], dtype=np.uint32)
        if isinstance(sample, (list, tuple)) and any(isinstance(s, str) for s in sample):
            return np.array([one(s) for s in sample], dtype=np.uint32)
        if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool):
            return np.array([one(sample)], dtype=np.uint32)
        arr = np.asarray(sample)
        if arr.dtype.kind in "iu" and arr.size and arr.min() < 0:
            raise SampleError(
                f"tensor {self.name!r} (class_label): sample {i} has a negative label {arr.min()}"
            )
        return sample

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


class _JsonEncoder(json.JSONEncoder):
    """numpy scalars and arrays become plain JSON numbers and lists."""

    def default(self, o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return super().default(o)
