"""``image.rgb``: uint8 RGB images, ``(H, W, 3)``; gray and RGBA samples are converted (see
``image_modes``)."""

from __future__ import annotations

from .image_modes import ImageMode


class ImageRGB(ImageMode):
    name = "image.rgb"
    channels = 3


HTYPE = ImageRGB()
