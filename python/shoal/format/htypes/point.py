"""``point``: 2-D or 3-D points (int32), ``(N, 2)`` or ``(N, 3)`` per sample."""

from __future__ import annotations

from .shaped import ShapedArray


class Point(ShapedArray):
    name = "point"
    default_dtype = "int32"
    ndims = (2,)
    last_axis = (2, 3)
    layout = "(N, 2) or (N, 3) points"


HTYPE = Point()
