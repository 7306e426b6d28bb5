"""Samples deeplake 3.9.52 appends with ``deeplake.link_tiled``: an image made of a grid of
linked files. shoal reads them as deeplake does (every tile fetched and put in its place), in
plain reads and in the loader, says clearly what it does not do with them (a path, an append,
a copy), and a damaged grid entry is an error that names it, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.interop.snippets import with_deeplake, write

import shoal
from shoal.errors import CorruptDataError, LinkError, SampleError
from shoal.links import tiled

MAKE = """
d = argv[1]
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("im", htype="link[image]", sample_compression="png")
grid = np.empty((2, 3), dtype=object)
for j in range(2):
    for i in range(3):
        grid[j, i] = f"{d}/t_{j}_{i}.png"
row = np.array([f"{d}/g_{k}.png" for k in range(3)], dtype=object)
ds.im.append(deeplake.link_tiled(grid))
ds.im.append(deeplake.link_tiled(row))
ds.im.append(deeplake.link_tiled(grid[::-1]))
print(json.dumps([a.tolist() for a in ds.im.numpy(aslist=True)]))
"""


def _tiles(d: Path) -> Path:
    d.mkdir()
    rng = np.random.default_rng(7)
    for j in range(2):
        for i in range(3):
            pixels = rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(d / f"t_{j}_{i}.png")
    for k in range(3):
        Image.fromarray(np.full((4, 5, 3), 40 * k, np.uint8)).save(d / f"g_{k}.png")
    return d


def test_deeplake_link_tiled_samples_read_by_shoal(tmp_path: Path, run_dl: Any):
    files = _tiles(tmp_path / "tiles")
    path = tmp_path / "ds"
    by_dl = with_deeplake(run_dl, write(tmp_path, "make", MAKE), path, files)
    ds = shoal.load(str(path), read_only=True)
    want = [np.array(a, dtype=np.uint8) for a in by_dl]
    assert [a.shape for a in want] == [(16, 30, 3), (12, 5, 3), (16, 30, 3)]
    got = ds.im.numpy(aslist=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(ds.im[2].numpy(), want[2])
    batches = list(ds.loader(batch_size=3, tensors=["im"]))
    np.testing.assert_array_equal(batches[0]["im"][0], want[0])
    with pytest.raises(SampleError, match="sample 1 is a link_tiled sample"):
        ds.im[1].path()
    with pytest.raises(LinkError, match="sample 1 of tensor 'im' is a link_tiled sample"):
        ds[1:3].copy(str(tmp_path / "copy"))  # refused before anything is made
    assert not shoal.exists(str(tmp_path / "copy"))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_damaged_grid_entries_are_named(blob: bytes):
    try:
        grid = tiled.parse(blob, "tensor 'im', sample 3")
    except CorruptDataError as exc:
        assert "tensor 'im', sample 3" in str(exc)
    else:
        assert grid.size >= 1 and all(isinstance(p, str) for p in grid.flat)


def test_grid_entry_round_trip():
    entry = b"\x063.9.52\x02" + (2).to_bytes(4, "little") + (1).to_bytes(4, "little")
    entry += b"a.png\x00b.png\x00"
    assert tiled.parse(entry, "x").tolist() == [["a.png"], ["b.png"]]
    with pytest.raises(CorruptDataError, match="needs 2 paths"):
        tiled.parse(entry[:-7], "x")
