"""``polygon``: each sample a list of polygons, each an ``(n, d)`` array of points (float32 by
default; every polygon of a tensor in the same ``d``). deeplake serialises a sample as
``[count u16][n of each polygon u16 ...][points, in the tensor's dtype]`` (``core/polygon.py``);
its shape is ``(polygons, most points, d)``. Reads give a list of arrays per sample, never one
stacked array, as deeplake's do. ``sample_compression="lz4"`` compresses those bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import CodecError, CorruptDataError, SampleError
from .base import BYTE_COMPRESSIONS, Blob, HType, SampleContext, array_dtype

_U16_MAX = 65535


class Polygon(HType):
    name = "polygon"
    default_dtype = "float32"
    sample_compressions = BYTE_COMPRESSIONS
    chunk_compressions = BYTE_COMPRESSIONS
    _dtype = np.dtype(np.float32)  # bound per tensor, see ``bind``

    @property
    def is_object(self) -> bool:
        return True  # serialised bytes per sample, though the meta names a numeric dtype

    def bind(self, meta: Mapping[str, Any]) -> HType:
        return self._bound(_dtype=array_dtype(meta.get("dtype")) or np.dtype(np.float32))

    # -- appending ---------------------------------------------------------------------------
    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        polygons = self._polygons(sample, ctx)
        if not polygons:
            return Blob(b"", (0, 0, 0))
        lengths = np.array([len(p) for p in polygons], dtype=np.uint16)
        parts = [len(polygons).to_bytes(2, "little"), lengths.tobytes()]
        parts += [np.ascontiguousarray(p).tobytes() for p in polygons]
        data = b"".join(parts)
        dims = polygons[0].shape[1]
        shape = (len(polygons), int(lengths.max()), dims)
        # with sample_compression="lz4", the engine compresses it (as every object sample)
        return Blob(data, shape)

    def _polygons(self, sample: Any, ctx: SampleContext) -> list[np.ndarray]:
        where = f"tensor {ctx.tensor!r} (htype 'polygon'): sample {ctx.index}"
        if sample is None:
            return []
        if not isinstance(sample, (list, tuple)) and not (
            isinstance(sample, np.ndarray) and sample.ndim == 3
        ):
            raise SampleError(
                f"{where} is {type(sample).__name__}; a sample is a list of polygons, each an "
                "(n, 2) or (n, 3) array of points (or one (polygons, n, d) array)"
            )
        out: list[np.ndarray] = []
        for k, poly in enumerate(sample):
            try:
                arr = np.asarray(poly)
            except (ValueError, TypeError):
                arr = np.asarray(poly, dtype=object)
            if arr.size == 0:
                raise SampleError(
                    f"{where}: polygon {k} is empty; a sample may be empty, a polygon in it not"
                )
            if arr.ndim != 2 or arr.dtype.kind not in "biuf":
                raise SampleError(
                    f"{where}: polygon {k} has shape {arr.shape} (dtype {arr.dtype}); each "
                    "polygon is an (n, d) array of numeric points"
                )
            if out and arr.shape[1] != out[0].shape[1]:
                raise SampleError(
                    f"{where}: polygon {k} has {arr.shape[1]}-D points, polygon 0 has "
                    f"{out[0].shape[1]}-D; the polygons of a sample share one dimension"
                )
            if len(arr) > _U16_MAX or arr.shape[1] > 255:
                raise SampleError(
                    f"{where}: polygon {k} has shape {arr.shape}; deeplake stores at most "
                    f"{_U16_MAX} points of at most 255 dimensions per polygon"
                )
            out.append(arr.astype(self._dtype, copy=False))
        if len(out) > _U16_MAX:
            raise SampleError(
                f"{where} has {len(out)} polygons; deeplake stores at most {_U16_MAX}"
            )
        return out

    # -- reading -----------------------------------------------------------------------------
    def decode(self, data: bytes, tensor: str) -> Any:
        try:
            if not data:
                return []
            count = int.from_bytes(data[:2], "little")
            head = 2 + 2 * count
            lengths = np.frombuffer(data[2:head], dtype=np.uint16).astype(np.int64)
            body = np.frombuffer(data[head:], dtype=self._dtype).copy()
            points = int(lengths.sum())
            if len(lengths) != count or not points or not body.size or body.size % points:
                raise ValueError("sizes disagree")
            flat = body.reshape(points, body.size // points)
        except (CodecError, ValueError):
            raise CorruptDataError(
                f"tensor {tensor!r}: a stored polygon sample does not parse; the chunk is damaged"
            ) from None
        ends = np.cumsum(lengths)
        return [flat[e - n : e] for n, e in zip(lengths.tolist(), ends.tolist(), strict=True)]

    def numpy_form(self, values: list[Any], scalar: bool, aslist: bool) -> Any:
        """A sample's polygons as a list of arrays; several samples as a list of those."""
        return values[0] if scalar else values

    def value_shape(self, value: Any) -> tuple[int, ...]:
        if not value:
            return (0, 0, 0)
        return (len(value), max(len(p) for p in value), int(value[0].shape[1]))

    def public_dtype(self, stored: np.dtype | None) -> np.dtype | None:
        return stored


HTYPE = Polygon()
