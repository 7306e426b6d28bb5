"""``video``: decoded frames (uint8), ``(frames, H, W, C)``, stored uncompressed (mp4/mkv/avi
files need a decoder shoal does not have)."""

from __future__ import annotations

from .uncompressed import Uncompressed


class Video(Uncompressed):
    name = "video"
    default_dtype = "uint8"
    media_formats = ("mp4", "mkv", "avi")


HTYPE = Video()
