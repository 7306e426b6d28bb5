"""``binary_mask``: bool masks, ``(H, W)`` or ``(H, W, N)`` for N objects, as deeplake stores
them (one byte per pixel). Arrays of another dtype are refused, as deeplake refuses them:
append ``mask > 0`` or ``mask.astype(bool)``; plain lists of 0/1 are taken."""

from __future__ import annotations

from .shaped import ShapedArray


class BinaryMask(ShapedArray):
    name = "binary_mask"
    default_dtype = "bool"
    ndims = (2, 3)
    layout = "(H, W) or (H, W, N) masks"
    tile_keeps_last_axis = False


HTYPE = BinaryMask()
