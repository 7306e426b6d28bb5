"""``point_cloud``: points with their attributes (float32), ``(N, C)`` per sample, stored
uncompressed (deeplake's ``las`` files need a decoder shoal does not have)."""

from __future__ import annotations

from .uncompressed import Uncompressed


class PointCloud(Uncompressed):
    name = "point_cloud"
    default_dtype = "float32"
    media_formats = ("las",)


HTYPE = PointCloud()
