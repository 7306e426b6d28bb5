"""Samples deeplake appended with ``deeplake.link_tiled(path_array)``: one image made of a grid
of linked files (tiles of equal shape). The link tensor's chunk holds, for such a sample, the
grid's shape and its files' paths (not one URL), and the tile encoder holds the whole image's
shape and the tile's shape.

shoal reads these samples (each tile fetched with the sample's creds key, decoded, and put in
its place); it does not append them.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CorruptDataError, SampleError
from . import decode

if TYPE_CHECKING:
    from ..engine.tensor import TensorEngine
    from .resolve import LinkResolver

_MAX_NDIM = 8


def parse(blob: bytes | memoryview, where: str) -> np.ndarray:
    """The grid of paths (an object array of str) a tiled sample's chunk entry holds: a
    length-prefixed version, the grid's rank and dimensions (u32 little-endian), then each
    path NUL-terminated, in C order."""
    data = bytes(blob)

    def bad(what: str) -> CorruptDataError:
        return CorruptDataError(
            f"{where}: a link_tiled entry of {len(data)} bytes is damaged: {what}"
        )

    if not data:
        raise bad("it is empty")
    pos = 1 + data[0]
    if pos >= len(data):
        raise bad("it ends inside its version")
    ndim = data[pos]
    pos += 1
    if not 1 <= ndim <= _MAX_NDIM or pos + 4 * ndim > len(data):
        raise bad(f"its grid has {ndim} dimensions")
    shape = tuple(
        int.from_bytes(data[pos + 4 * i : pos + 4 * i + 4], "little") for i in range(ndim)
    )
    pos += 4 * ndim
    count = int(np.prod(shape, dtype=np.int64))
    paths = data[pos:].split(b"\x00")
    if count == 0 or len(paths) < count + 1 or any(p for p in paths[count:]):
        raise bad(f"a grid of {shape} needs {count} paths, it holds {len(paths) - 1}")
    try:
        names = [p.decode("ascii") for p in paths[:count]]
    except UnicodeDecodeError:
        raise bad("a path is not ASCII") from None
    grid = np.empty(count, dtype=object)
    grid[:] = names
    return grid.reshape(shape)


def refuse_append(sample: Any, name: str, i: int) -> SampleError:
    return SampleError(
        f"tensor {name!r}, sample {i}: shoal reads link_tiled samples (made by deeplake) but does "
        "not append them; append the tiles as one image, or link each file with shoal.link"
    )


async def read(
    t: TensorEngine,
    res: LinkResolver,
    index: int,
    blob: bytes | memoryview,
    key: str | None,
    dtype: np.dtype | None,
) -> np.ndarray:
    """Sample ``index``: every tile fetched, decoded on the CPU pool, and placed."""
    assert t.tiles is not None
    shape, tile = (tuple(int(d) for d in s) for s in t.tiles[index])
    where = f"tensor {t.name!r}, sample {index}"
    grid = parse(blob, where)
    if grid.ndim < len(tile):
        grid = grid.reshape(grid.shape + (1,) * (len(tile) - grid.ndim))
    if grid.ndim != len(tile) or any(
        g * d < s for g, d, s in zip(grid.shape, tile, shape, strict=True)
    ):
        raise CorruptDataError(
            f"{where}: a grid of {grid.shape} tiles of {tile} cannot hold an image of {shape}"
        )
    paths = [str(p) for p in grid.flat]
    datas = await asyncio.gather(*(res.get(index, p, key, view=True) for p in paths))
    ndim = len(shape)

    def assemble() -> np.ndarray:
        out: np.ndarray | None = None
        positions = itertools.product(*(range(g) for g in grid.shape))
        for pos, path, data in zip(positions, paths, datas, strict=True):
            arr = decode.to_array(data, ndim, index, path)
            if arr.shape != tile:
                raise SampleError(
                    f"{where}: tile {path!r} has shape {arr.shape}, the sample's tiles {tile}"
                )
            if out is None:
                out = np.empty(shape, dtype=dtype or arr.dtype)
            part = tuple(
                slice(p * d, min((p + 1) * d, s)) for p, d, s in zip(pos, tile, shape, strict=True)
            )
            out[part] = arr[tuple(slice(0, sl.stop - sl.start) for sl in part)]
        assert out is not None
        return out

    return await asyncio.get_running_loop().run_in_executor(t.cpu_pool(), assemble)
