"""``image.gray``: uint8 gray images, ``(H, W)`` (``(H, W, 1)`` when png/jpeg-compressed, as
deeplake stores them); RGB(A) samples are converted (see ``image_modes``)."""

from __future__ import annotations

from .image_modes import ImageMode


class ImageGray(ImageMode):
    name = "image.gray"
    channels = 1


HTYPE = ImageGray()
