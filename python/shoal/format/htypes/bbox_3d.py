"""``bbox.3d``: 3-D boxes, ``(N, 8)`` per sample (or one ``(8,)`` box); their convention,
``coords`` (``{"mode": ...}`` only, as deeplake checks), lives in the info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ...errors import InvalidHtypeError
from .shaped import ShapedArray


class BBox3D(ShapedArray):
    name = "bbox.3d"
    default_dtype = "float32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"coords": {}}
    info_keys = ("coords",)
    ndims = (1, 2)
    last_axis = (8,)
    layout = "(N, 8) boxes"

    def check_option(self, key: str, value: Any) -> Any:
        if key == "coords":
            if not isinstance(value, dict):
                raise InvalidHtypeError(
                    f"coords of a bbox.3d tensor must be a dict like {{'mode': 'center'}}, got "
                    f"{value!r}"
                )
            if not set(value) <= {"mode"}:
                raise InvalidHtypeError(
                    f"coords of a bbox.3d tensor takes the key 'mode' only, got {sorted(value)}"
                )
        return value


HTYPE = BBox3D()
