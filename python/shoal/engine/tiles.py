"""Tiling of samples larger than a tensor's tiling threshold.

A tiled sample is stored as one chunk per tile, in C order over the tile grid; the tile
encoder records ``(sample_shape, tile_shape)`` for its index. Edge tiles are smaller.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np


def tile_shape(
    shape: tuple[int, ...], estimated_bytes: float, threshold: int, keep_last_axis: bool
) -> tuple[int, ...]:
    """Halve the largest axis (the channel axis excluded for images) until a tile fits."""
    dims = [float(d) for d in shape]
    axes = list(range(len(shape) - 1 if keep_last_axis and len(shape) > 1 else len(shape)))
    ratio = estimated_bytes / max(threshold, 1)
    while ratio > 1:
        axis = max(axes, key=lambda a: dims[a])
        if dims[axis] < 2:
            break  # cannot split further; the tile holds what is left
        dims[axis] /= 2
        ratio /= 2
    return tuple(math.ceil(d) for d in dims)


def grid(shape: tuple[int, ...], tile: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-s // t) if t else 1 for s, t in zip(shape, tile, strict=True))


def tile_slices(shape: tuple[int, ...], tile: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    """Slices of each tile of a sample, in C order."""
    for pos in itertools.product(*(range(g) for g in grid(shape, tile))):
        yield tuple(
            slice(p * t, min((p + 1) * t, s)) for p, t, s in zip(pos, tile, shape, strict=True)
        )


def split(arr: np.ndarray, tile: tuple[int, ...]) -> list[np.ndarray]:
    return [np.ascontiguousarray(arr[s]) for s in tile_slices(arr.shape, tile)]
