"""Updates and pops of png/jpeg chunk-compressed tensors interoperate with deeplake 3.9.52
both ways. Such a chunk is one image of its samples side by side: any change re-encodes the
whole chunk, as deeplake does. The same edits made by shoal and by deeplake give equal values
(jpeg: within its loss), and each library reads and continues the other's dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.interop.snippets import with_deeplake, with_shoal, write

import shoal
from shoal import errors

PRELUDE = """
def seen(ds):
    out = {}
    for name in ("p", "g"):
        out[name] = [a.tolist() for a in ds[name].numpy(aslist=True)]
    # jpeg is lossy: each sample's shape and mean (two encoders agree to within a little)
    out["j"] = [[list(a.shape), float(a.mean())] for a in ds["j"].numpy(aslist=True)]
    out["chunks"] = len(ds.p.chunk_engine.chunk_id_encoder.array) if hasattr(ds.p, "chunk_engine") else None
    return out
"""

MAKE = (
    PRELUDE
    + """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("p", htype="image", chunk_compression="png", max_chunk_size=4000)
ds.create_tensor("g", htype="image", chunk_compression="png", max_chunk_size=4000)
ds.create_tensor("j", htype="image", chunk_compression="jpeg", max_chunk_size=4000)
r = np.random.default_rng(0)
with ds:
    for i in range(40):
        ds.append({"p": r.integers(0, 255, (8 + i % 3, 10, 3), dtype=np.uint8),
                   "g": r.integers(0, 255, (10, 9 + i % 2), dtype=np.uint8),
                   "j": np.full((8, 8, 3), 6 * i, np.uint8)})
if len(argv) > 1:
    ds.commit("base")
print(json.dumps(seen(ds)))
"""
)

EDIT = (
    PRELUDE
    + """
ds = deeplake.load(argv[0])
r = np.random.default_rng(1)
ds.p[3] = r.integers(0, 255, (12, 4, 3), dtype=np.uint8)
ds.p[[20, 21]] = [np.zeros((8, 10, 3), np.uint8), np.ones((9, 3, 3), np.uint8)]
ds.g[5] = np.full((10, 20), 77, np.uint8)
ds.j[2] = np.full((8, 8, 3), 200, np.uint8)
ds[30].update({"p": np.full((2, 2, 3), 5, np.uint8), "j": np.full((8, 8, 3), 40, np.uint8)})
ds.p[7, 0:2] = np.uint8(250)
ds.pop(0)
ds.pop([10, 11, 12, 35])
print(json.dumps(seen(ds)))
"""
)

CONTINUE = (
    PRELUDE
    + """
ds = deeplake.load(argv[0])
ds.append({"p": np.ones((3, 3, 3), np.uint8), "g": np.ones((2, 2), np.uint8),
           "j": np.full((8, 8, 3), 100, np.uint8)})
ds.p[1] = np.full((5, 5, 3), 9, np.uint8)
ds.g[33] = np.full((3, 3), 3, np.uint8)
ds.pop([2, 34])
ds.commit("more")
print(json.dumps(seen(ds)))
"""
)

RECHUNK = (
    PRELUDE
    + """
ds = deeplake.load(argv[0])
ds.rechunk()
print(json.dumps(seen(ds)))
"""
)

READ = (
    PRELUDE
    + """
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps(seen(ds)))
"""
)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["p"] == b["p"] and a["g"] == b["g"]
    assert [s for s, _ in a["j"]] == [s for s, _ in b["j"]]
    assert all(abs(x - y) <= 2 for (_, x), (_, y) in zip(a["j"], b["j"], strict=True))


def test_chunk_compressed_image_edits_both_ways(tmp_path: Path, run_dl: Any) -> None:
    make, edit, cont, read = (
        write(tmp_path, n, c) for n, c in [("m", MAKE), ("e", EDIT), ("c", CONTINUE), ("r", READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    made = with_deeplake(run_dl, make, ours, "commit")
    assert made["chunks"] >= 3  # the pops cross chunk boundaries
    with_deeplake(run_dl, make, theirs, "commit")
    edited = with_deeplake(run_dl, edit, theirs)
    ours_edited = with_shoal(edit, ours)
    _same(ours_edited, edited)
    _same(with_deeplake(run_dl, read, ours), edited)
    _same(with_shoal(read, theirs), edited)
    _same(with_shoal(write(tmp_path, "rc", RECHUNK), ours), edited)  # cut again, encoded again
    _same(with_deeplake(run_dl, read, ours), edited)
    continued = with_deeplake(run_dl, cont, ours)
    _same(with_shoal(cont, theirs), continued)
    _same(with_shoal(read, ours), continued)
    _same(with_deeplake(run_dl, read, theirs), continued)


def test_shoal_appends_to_chunk_compressed_images(tmp_path: Path, run_dl: Any) -> None:
    make, cont, read = (
        write(tmp_path, n, c) for n, c in [("m", MAKE), ("c", CONTINUE), ("r", READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, make, ours)
    with_deeplake(run_dl, make, theirs)
    appended = with_shoal(cont, ours)
    _same(appended, with_deeplake(run_dl, cont, theirs))
    _same(with_deeplake(run_dl, read, ours), appended)
    # samples of one chunk share its image: mixed channels are refused, nothing written
    ds = shoal.load(str(ours))
    n = len(ds.p)
    with pytest.raises(errors.SampleError, match="same channels"):
        ds.p.extend([np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5, 4), np.uint8)])
    ds.close()
    assert len(shoal.load(str(ours), read_only=True).p) == n


# Made by either library: chunk boundaries follow deeplake's rule, which counts the bytes a
# chunk held when each append call began (image_cuts): one extend fills a chunk past its
# size, appends one at a time are cut near it, and appends outside a batch go on filling the
# last chunk of the previous flush.
CREATE = (
    PRELUDE
    + """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("p", htype="image", dtype="uint8", chunk_compression="png", max_chunk_size=8000)
ds.create_tensor("g", htype="image", dtype="uint8", chunk_compression="png", max_chunk_size=3000)
ds.create_tensor("j", htype="image", dtype="uint8", chunk_compression="jpeg", max_chunk_size=1000)
r = np.random.default_rng(2)
pics = r.integers(0, 256, (90, 16, 12, 3), dtype=np.uint8)
pics[::3] //= 32  # some compress far better than others
with ds:
    ds.p.extend(pics[:30])
    for a in pics[30:70]:
        ds.p.append(a)
    ds.g.extend([a[:, :, 0] for a in pics[:45]])
    for i in range(40):
        ds.j.append(np.full((8, 8 + i % 3, 3), 6 * i, np.uint8))
for a in pics[70:]:  # one flush each
    ds.p.append(a)
    ds.g.append(a[:9, :7, 1])
print(json.dumps(seen(ds)))
"""
)


GO_ON = (
    PRELUDE
    + """
ds = deeplake.load(argv[0])
for k in range(5):
    ds.p.append(np.full((16, 12, 3), 40 * k, np.uint8))
ds.g.append(np.ones((9, 7), np.uint8))
ds.j.append(np.full((8, 8, 3), 100, np.uint8))
ds.p[1] = np.full((5, 5, 3), 9, np.uint8)
ds.commit("more")
print(json.dumps(seen(ds)))
"""
)


def _chunk_rows(path: Path) -> dict[str, list[int]]:
    """The last sample index of each chunk, per tensor (read through shoal)."""
    from shoal import _loop

    ds = shoal.load(str(path), read_only=True)
    engine = ds._engine
    _loop.run(engine.load(["p", "g", "j"], full=True))
    return {n: engine.tensors[n].chunk_ids[:, 1].astype(int).tolist() for n in ("p", "g", "j")}


def test_shoal_creates_chunk_compressed_images_as_deeplake_does(
    tmp_path: Path, run_dl: Any
) -> None:
    create, cont, read = (
        write(tmp_path, n, c) for n, c in [("n", CREATE), ("c", GO_ON), ("r", READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    made = with_shoal(create, ours)
    dl_made = with_deeplake(run_dl, create, theirs)
    _same(made, dl_made)
    rows, dl_rows = _chunk_rows(ours), _chunk_rows(theirs)
    # png: the same boundaries (both encoders land on the same side of each limit here);
    # jpeg encoders differ in size, so its boundaries may too
    assert (rows["p"], rows["g"]) == (dl_rows["p"], dl_rows["g"]), (rows, dl_rows)
    assert len(rows["p"]) >= 3 and len(rows["g"]) >= 2 and len(rows["j"]) >= 3, rows
    _same(with_deeplake(run_dl, read, ours), made)
    # deeplake goes on with shoal's dataset, shoal reads it back
    continued = with_deeplake(run_dl, cont, ours)
    _same(with_shoal(read, ours), continued)
