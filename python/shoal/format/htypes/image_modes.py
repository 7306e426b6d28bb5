"""``image.rgb`` and ``image.gray``: images converted to one colour mode on append, as deeplake
converts them: RGB drops alpha and repeats a gray channel three times; gray takes a weighted
sum of red, green and blue. Arrays and files convert with the formula deeplake uses for each
(its array path truncates each weighted channel; its file path is Pillow's rounded one).

This module defines no htype itself; ``image_rgb`` and ``image_gray`` subclass
:class:`ImageMode`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import SampleError
from .. import image_codecs
from .base import BYTE_COMPRESSIONS, IMAGE_COMPRESSIONS, Encoded, SampleContext
from .image import Image

_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2 luma


def gray_of_array(arr: np.ndarray) -> np.ndarray:
    """deeplake's array conversion: each weighted channel truncated to uint8, then summed."""
    gray: np.ndarray = (arr[:, :, :3] * _WEIGHTS).astype(np.uint8).sum(axis=2, dtype=np.uint8)
    return gray


def gray_of_file(arr: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")``, which deeplake applies to image files: rounded fixed point."""
    rgb = arr[:, :, :3].astype(np.uint32)
    luma = rgb[:, :, 0] * 19595 + rgb[:, :, 1] * 38470 + rgb[:, :, 2] * 7471 + 0x8000
    return (luma >> 16).astype(np.uint8)


class ImageMode(Image):
    """An image htype that stores one colour mode; ``channels``: 3 (RGB) or 1 (gray)."""

    default_dtype = "uint8"
    meta_defaults: ClassVar[Mapping[str, Any]] = {}
    info_keys: ClassVar[tuple[str, ...]] = ()
    companions: ClassVar[tuple[str, ...]] = ("shape", "id")
    channels: ClassVar[int] = 3
    # the tensor's sample compression is an image format (bound per tensor, see ``bind``)
    _image_compressed = False
    sample_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
    chunk_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS

    def bind(self, meta: Mapping[str, Any]) -> ImageMode:
        return self._bound(_image_compressed=meta.get("sample_compression") in IMAGE_COMPRESSIONS)

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        converted = super().convert(sample, ctx)
        if not isinstance(converted, Encoded):
            return converted
        where = f"tensor {ctx.tensor!r} (htype {self.name!r}): sample {ctx.index}"
        data, fmt, shape, dtype = image_codecs.read_and_probe(converted.data, where)
        channels = shape[2] if len(shape) == 3 else 1
        if channels == self.channels:
            return Encoded(data)  # already in this mode: stored as the file is
        if dtype != "uint8":
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}): sample {ctx.index} is a {dtype} "
                f"image with {channels} channels; shoal converts uint8 images only"
            )
        arr = image_codecs.decode(data, fmt)
        arr = arr.reshape(shape) if len(shape) == 3 else arr.reshape(*shape, 1)
        if self.channels == 3:
            return self._to_rgb(arr[:, :, :1] if channels == 2 else arr, ctx)
        return gray_of_file(np.repeat(arr, 3, axis=2) if channels == 2 else arr)

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if self.channels == 3:
            arr = self._to_rgb(arr, ctx)
        elif arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = gray_of_array(arr)
        elif arr.ndim == 3 and arr.shape[2] == 1 and arr.dtype == np.uint8:
            pass  # a file's single channel, already gray
        elif arr.ndim != 2:
            raise self._bad_shape(arr, ctx)
        if arr.ndim == 2 and (self._image_compressed or ctx.ndim == 3):
            arr = arr[:, :, None]  # deeplake keeps a channel axis in png/jpeg samples
        return arr

    def _to_rgb(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if arr.ndim == 2:
            return np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim == 3 and arr.shape[2] == 1:
            return np.repeat(arr, 3, axis=2)
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            return arr[:, :, :3]
        raise self._bad_shape(arr, ctx)

    def _bad_shape(self, arr: np.ndarray, ctx: SampleContext) -> SampleError:
        return SampleError(
            f"tensor {ctx.tensor!r} (htype {self.name!r}) takes (H, W), (H, W, 3) or (H, W, 4) "
            f"images; sample {ctx.index} has shape {arr.shape} (dtype {arr.dtype})"
        )

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        wanted = len(sample_shape) == 3 and sample_shape[2] == 3
        if self.channels == 1:
            wanted = len(sample_shape) == 2 and not self._image_compressed and ndim != 3
        return sample_shape if wanted else None
