"""``keypoints_coco``: COCO keypoints (int32), ``(3 * K, N)`` per sample: x, y and visibility
of K keypoints for N objects. The keypoint names and the ``[a, b]`` pairs of connected
keypoints live in the info (``keypoints``, ``connections``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ...errors import InvalidHtypeError
from .shaped import ShapedArray


class KeypointsCoco(ShapedArray):
    name = "keypoints_coco"
    default_dtype = "int32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"keypoints": [], "connections": []}
    info_keys = ("keypoints", "connections")
    ndims = (2,)
    first_axis_step = 3
    layout = "(3 * K, N) arrays (x, y, visibility of K keypoints for N objects)"
    tile_keeps_last_axis = False

    def check_option(self, key: str, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise InvalidHtypeError(
                f"{key} of a keypoints_coco tensor must be a list, got {value!r}"
            )
        if key == "keypoints" and not all(isinstance(v, str) for v in value):
            raise InvalidHtypeError(f"keypoints must be a list of names (str), got {value!r}")
        if key == "connections" and not all(
            isinstance(c, (list, tuple)) and len(c) == 2 for c in value
        ):
            raise InvalidHtypeError(
                f"connections must be a list of [a, b] keypoint index pairs, got {value!r}"
            )
        return [list(c) for c in value] if key == "connections" else list(value)


HTYPE = KeypointsCoco()
