"""``image``: ``(H, W)`` or ``(H, W, C)`` pixel arrays, or PNG/JPEG files appended as bytes.

Images get an ``_info`` companion (deeplake keeps per-sample image metadata there) and keep
their camera ``intrinsics`` in the tensor info.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import SampleError
from .base import BYTE_COMPRESSIONS, IMAGE_COMPRESSIONS, Encoded, HType, SampleContext


class Image(HType):
    name = "image"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"intrinsics": None}
    info_keys: ClassVar[tuple[str, ...]] = ("intrinsics",)
    sample_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
    chunk_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
    companions: ClassVar[tuple[str, ...]] = ("info", "shape", "id")
    reads_files = True
    # deeplake stores a grey (H, W) array as (H, W, 1), unless the tensor is chunk-compressed
    # (its chunk-compressed path keeps the array's own shape): bound per tensor, see ``bind``
    _grey_gets_channel = True

    def bind(self, meta: Mapping[str, Any]) -> HType:
        return self._bound(_grey_gets_channel=not meta.get("chunk_compression"))

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        if isinstance(sample, (bytes, bytearray, memoryview, os.PathLike)):
            return Encoded(sample)
        encoded = getattr(sample, "__shoal_encoded__", None)  # shoal.read(...)
        if encoded is not None:
            return Encoded(encoded)
        return sample

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if arr.ndim == 2 and (ctx.ndim == 3 or (ctx.ndim is None and self._grey_gets_channel)):
            arr = arr[:, :, None]
        if arr.shape == (0, 0, 0):
            return arr  # an empty sample: what deeplake stores for an appended None
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype 'image') takes (H, W) or (H, W, C) arrays with "
                f"C in 1..4; sample {ctx.index} has shape {arr.shape}"
            )
        return arr

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        # a batch array into an empty tensor keeps its samples' shape: deeplake's batch path
        # (uncompressed chunks) skips the grey-to-(H, W, 1) step its per-sample path takes
        if len(sample_shape) == 2 and ndim == 3:
            sample_shape = (*sample_shape, 1)
        if len(sample_shape) not in (2, 3) or (len(sample_shape) == 3 and sample_shape[2] > 4):
            return None
        return sample_shape


HTYPE = Image()
