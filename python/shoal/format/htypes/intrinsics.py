"""``intrinsics``: camera intrinsic matrices (float32), usually ``(3, 3)``; deeplake does not
check their shape, nor does shoal."""

from __future__ import annotations

from .base import HType


class Intrinsics(HType):
    name = "intrinsics"
    default_dtype = "float32"


HTYPE = Intrinsics()
