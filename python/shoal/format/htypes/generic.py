"""``generic``: numeric or bool arrays of any shape, the htype of a tensor created without one."""

from __future__ import annotations

from .base import BYTE_COMPRESSIONS, IMAGE_COMPRESSIONS, HType


class Generic(HType):
    name = "generic"
    # png/jpeg fit generic arrays of image shape too, as in deeplake
    sample_compressions = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
    # without a sample compression a tile may cut any axis
    tile_keeps_last_axis = False


HTYPE = Generic()
