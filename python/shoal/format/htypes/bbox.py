"""``bbox``: boxes, ``(N, 4)`` per sample; ``coords`` (their convention) lives in the info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import SampleError
from .base import HType, SampleContext


class BBox(HType):
    name = "bbox"
    default_dtype = "float32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"coords": {}}
    info_keys = ("coords",)

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if arr.ndim == 0 or arr.shape[-1] != 4:
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype 'bbox') takes (N, 4) boxes; sample {ctx.index} "
                f"has shape {arr.shape}"
            )
        return arr

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        return sample_shape if sample_shape[-1] == 4 else None


HTYPE = BBox()
