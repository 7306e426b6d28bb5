"""``instance_label``: object instance ids (uint32), any shape, as deeplake takes them."""

from __future__ import annotations

from .base import HType


class InstanceLabel(HType):
    name = "instance_label"
    default_dtype = "uint32"


HTYPE = InstanceLabel()
