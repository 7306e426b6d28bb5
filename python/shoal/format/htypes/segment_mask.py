"""``segment_mask``: per-pixel class ids (uint32), ``(H, W)`` or ``(H, W, N)``; the names of
the classes live in the info's ``class_names`` (set at creation or later, never grown by
appends: samples are ids, not names). deeplake keeps a sample-info companion for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ...errors import InvalidHtypeError
from .shaped import ShapedArray


class SegmentMask(ShapedArray):
    name = "segment_mask"
    default_dtype = "uint32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"class_names": []}
    info_keys = ("class_names",)
    companions = ("info", "shape", "id")
    ndims = (2, 3)
    layout = "(H, W) or (H, W, N) arrays of class ids"
    tile_keeps_last_axis = False

    def check_option(self, key: str, value: Any) -> Any:
        if key == "class_names":
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise InvalidHtypeError(
                    f"class_names of a segment_mask tensor must be a list of strings, got {value!r}"
                )
            return list(value)
        return value


HTYPE = SegmentMask()
