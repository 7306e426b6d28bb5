"""Edits of sequence tensors made the same way by shoal and by deeplake 3.9.52 (imported by
dl_sequences.py under the deeplake venv and by test_sequence_interop.py): numpy only, the
library's ``link`` passed in. They follow dl_sequences.py ``write`` (and its ``sm`` tensor)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: ``sm``: one item a chunk, so a pop crosses chunk boundaries (six samples of 2, 1, 0, 3, 1
#: and 1 items)
SMALL = [[[1, 2], [3, 4]], [[5, 6]], [], [[7, 8], [9, 9], [1, 1]], [[2, 2]], [[3, 3]]]


def frames(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (8, 6, 3), dtype=np.uint8) for _ in range(n)]


def create_small(ds: Any) -> None:
    ds.create_tensor("sm", htype="sequence[generic]", dtype="int64", max_chunk_size=40)
    ds.sm.extend([[np.array(x, dtype=np.int64) for x in s] for s in SMALL])


def edit(ds: Any, link: Any, files: list[str]) -> None:
    """Updates of whole samples and of items, pops (one across chunks, as the first change
    of its tensor in the commit), then a commit."""
    ds.sm.pop([2, 3])  # (deeplake's pop of an empty sequence does nothing: not popped here)
    ds.frames[0][1] = frames(5, 1)[0]
    ds.frames[1] = frames(4, 2)
    ds.labels[0] = ["d", "a"]
    ds.g[0] = np.arange(6, 12, dtype=np.int64).reshape(3, 2)
    ds.txt[0][1] = "you"
    ds[0].update({"lk": [link(files[2]), link(files[1]), link(files[0])]})
    ds.pop(1)
    ds.commit("edits")


def edit_more(ds: Any, link: Any, files: list[str]) -> None:
    """The other library's continuation: appends, updates and pops, then a commit."""
    ds.frames.append(frames(3, 1))
    ds.frames[1] = frames(7, 1)
    ds.frames[0][0] = frames(8, 1)[0]
    ds.labels.pop(0)
    ds.g[0, 2] = np.array([1, 1], dtype=np.int64)  # (deeplake: g[0][2] only while 2 < len(g))
    ds.sm.append([np.array([4, 4], dtype=np.int64)])
    ds.sm.pop(0)
    ds.lk.append([link(files[0])])
    ds.lk[1] = [link(files[1])]
    ds.txt.pop()
    ds.commit("edits 2")


def branch_updates(ds: Any, link: Any, files: list[str]) -> None:
    """Updates (and a pop) on a branch ``alt``, a change of another sample on main: what
    ``merge`` then merges."""
    ds.checkout("alt", create=True)
    ds.frames[0][1] = frames(9, 1)[0]
    ds.g[1] = [np.array([5, 5], dtype=np.int64), np.array([6, 6, 6], dtype=np.int64)]
    ds.labels[1] = ["c", "a", "a"]
    ds.txt[0] = ["p", "q"]  # (deeplake's merge of a link tensor's update fails: none here)
    ds.sm.pop(0)  # a merge does not pop (deeplake's nor shoal's)
    ds.commit("alt edits")
    ds.checkout("main")
    ds.g[0, 0] = np.array([0, 0], dtype=np.int64)
    ds.commit("main edits")


def merge(ds: Any, link: Any, files: list[str]) -> None:
    ds.merge("alt")
