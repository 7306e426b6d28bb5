"""Array htypes whose samples deeplake documents with a fixed layout (points ``(N, 2|3)``,
3-D boxes ``(N, 8)``, masks ``(H, W[, N])``, ...): one check, and the message it raises.

This module defines no htype itself; the htype modules subclass :class:`ShapedArray`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...errors import SampleError
from .base import HType, SampleContext


class ShapedArray(HType):
    """An array htype whose samples must have one of ``ndims`` dimensions, a last axis of one
    of ``last_axis`` sizes and a first axis that is a multiple of ``first_axis_step``."""

    ndims: ClassVar[tuple[int, ...]] = ()  # empty: any
    last_axis: ClassVar[tuple[int, ...]] = ()  # empty: any
    first_axis_step: ClassVar[int] = 1
    layout: ClassVar[str] = ""  # the documented layout, for messages: "(N, 8) boxes"

    def fits(self, shape: tuple[int, ...]) -> bool:
        if self.ndims and len(shape) not in self.ndims:
            return False
        if self.last_axis and (not shape or shape[-1] not in self.last_axis):
            return False
        return not shape or shape[0] % self.first_axis_step == 0

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if not self.fits(tuple(arr.shape)):
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}) takes {self.layout}; sample "
                f"{ctx.index} has shape {arr.shape} (dtype {arr.dtype}). Reshape it, or store "
                "it in a 'generic' tensor"
            )
        return arr

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        return sample_shape if self.fits(sample_shape) else None
