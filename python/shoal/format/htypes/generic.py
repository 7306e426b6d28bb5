"""``generic``: numeric or bool arrays of any shape, the htype of a tensor created without one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import BYTE_COMPRESSIONS, IMAGE_COMPRESSIONS, HType, SampleContext


class Generic(HType):
    name = "generic"
    # png/jpeg fit generic arrays of image shape too, as in deeplake
    sample_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
    # without a sample compression a tile may cut any axis
    tile_keeps_last_axis = False
    # with an image sample compression deeplake stores a grey (H, W) array as (H, W, 1)
    _grey_gets_channel = False

    def bind(self, meta: Mapping[str, Any]) -> HType:
        return self._bound(_grey_gets_channel=meta.get("sample_compression") in IMAGE_COMPRESSIONS)

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if self._grey_gets_channel and arr.ndim == 2 and ctx.ndim in (None, 3):
            return arr[:, :, None]
        return arr


HTYPE = Generic()
