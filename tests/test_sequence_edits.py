"""Updates, pops and rechunks of sequence tensors, as deeplake 3.9.52 makes them: a sample's
items replaced one for one (whole samples, or some items of one), samples popped with their
items and companions, and the edits deeplake refuses refused with nothing stored changed.
(Byte-for-byte agreement with deeplake: tests/interop/test_sequence_interop.py; crashes:
tests/test_sequence_edit_crash.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _loop, _native, errors
from shoal.engine.sequence_edits import pop_rows
from tests.test_sequences import _ds
from tests.test_tensor_list import files


def _items(t: shoal.Tensor) -> list[list[list[int]]]:
    return [[np.asarray(x).tolist() for x in t[i].numpy(aslist=True)] for i in range(len(t))]


def _hidden(ds: shoal.Dataset, name: str) -> list[int]:
    t = ds._engine.tensor(name)
    return _loop.run(t.read_stacked(np.arange(t.length))).ravel().tolist()


def _g(tmp_path: Path, max_chunk_size: int | None = None) -> shoal.Dataset:
    """``g``: six samples of 2, 1, 0, 3, 1, 1 items (one item a chunk with a small size)."""
    ds = shoal.empty(str(tmp_path / "g"))
    kw = {"max_chunk_size": max_chunk_size} if max_chunk_size else {}
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64", **kw)
    ds.g.extend([[[1, 2], [3, 4]], [[5, 6]], [], [[7, 8], [9, 9], [1, 1]], [[2, 2]], [[3, 3]]])
    ds.commit("six")
    return ds


def test_updates_replace_items_one_for_one(tmp_path: Path) -> None:
    ds = _g(tmp_path)
    ds.g[0] = [np.array([10, 20]), np.array([30, 40])]
    ds.g[4:6] = [[[4, 4]], [[5, 5]]]
    ds.g[[1, 3]] = [[[0, 1]], np.array([[1, 1], [2, 2], [3, 3]])]
    ds[2].update({"g": []})
    ds.g[3][1] = np.array([7, 7, 7])  # one item, of a new shape
    ds.g[3, 0] = np.array([6, 6])
    ds.g[0][0:2] = [np.array([8, 8]), np.array([9, 9])]
    want = [[[8, 8], [9, 9]], [[0, 1]], [], [[6, 6], [7, 7, 7], [3, 3]], [[4, 4]], [[5, 5]]]
    assert _items(ds.g) == want
    again = shoal.load(str(tmp_path / "g"))
    assert _items(again.g) == want
    assert again.g.meta["length"] == 8 and again.g.meta["max_shape"] == [3]
    assert _hidden(again, "_g_shape") == [2, 2, 2, 2, 3, 2, 2, 2]
    assert sorted(again.diff(as_dict=True)["tensor"][0]["g"]["data_updated"]) == [0, 1, 2, 3, 4, 5]
    again.checkout("firstdbf9474d461a19e9333c2fd19b46115348f")
    assert _items(again.g)[0] == [[1, 2], [3, 4]]


@pytest.mark.parametrize("chunk", [None, 40], ids=["one chunk", "an item a chunk"])
def test_pops_remove_samples_items_and_companions(tmp_path: Path, chunk: int | None) -> None:
    ds = _g(tmp_path, chunk)
    ids = _hidden(ds, "_g_id")
    ds.g.pop(3)
    ds.pop([0, 2])
    ds.g.pop()
    want = [[[5, 6]], [[2, 2]]]
    assert _items(ds.g) == want
    again = shoal.load(str(tmp_path / "g"))
    assert _items(again.g) == want and again.g.meta["length"] == 2
    assert _hidden(again, "_g_id") == [ids[1], ids[4]]
    assert _hidden(again, "_g_shape") == [2, 2]
    again.g.append([[1, 2], [3, 4], [5, 6]])  # appends continue after the pops
    again.g[1] = [[0, 0]]
    assert _items(shoal.load(str(tmp_path / "g")).g) == [
        [[5, 6]],
        [[0, 0]],
        [[1, 2], [3, 4], [5, 6]],
    ]
    # the older commit keeps what it held
    again.checkout("firstdbf9474d461a19e9333c2fd19b46115348f")
    assert len(again.g) == 6 and _items(again.g)[3] == [[7, 8], [9, 9], [1, 1]]


def test_pop_rows_as_deeplakes_encoder() -> None:
    """A popped sample's row loses it; a row left empty goes; neighbours are not joined."""
    rows = np.array([[2, 0, 0], [1, 2, 1], [0, 3, 2], [3, 3, 3], [1, 6, 5]], dtype=np.uint32)
    assert pop_rows(rows, [3, 1]).tolist() == [[2, 0, 0], [0, 2, 1], [1, 2, 3]]
    assert pop_rows(rows, [5]).tolist() == [[2, 0, 0], [1, 2, 1], [0, 3, 2], [3, 3, 3], [1, 6, 4]]
    assert pop_rows(rows, [0, 2]).tolist() == [[1, 0, 0], [3, 1, 1], [1, 4, 3]]


def test_images_links_labels_and_text(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}.png"
        p.write_bytes(_native.png_encode(np.full((4, 5, 3), 50 * i, np.uint8)))
        paths.append(str(p))
    ds.create_tensor("lk", htype="sequence[link[image]]", sample_compression="png")
    ds.create_tensor("jp", htype="sequence[image]", sample_compression="jpeg")
    ds.lk.extend([[shoal.link(p) for p in paths], [shoal.link(paths[0])]])
    ds.jp.extend([[np.full((8, 8, 3), 10, np.uint8)] * 2, [np.full((8, 8, 3), 20, np.uint8)]])
    ds.frames[1] = [np.full((4, 5, 3), 7, np.uint8), np.full((2, 2, 3), 8, np.uint8)]
    ds.frames[0][2] = np.full((4, 5, 3), 6, np.uint8)
    ds.labels[0] = ["eel", "fox"]  # a new class name
    ds.txt[1] = ["z"]
    ds.lk[1] = [shoal.link(paths[2])]
    ds.jp[0][1] = np.full((8, 8, 3), 200, np.uint8)
    again = shoal.load(str(tmp_path / "ds"))
    assert (
        again.frames[1][1].numpy().shape == (2, 2, 3) and again.frames[0][2].numpy()[0, 0, 0] == 6
    )
    assert again.labels[0].data()["text"] == [["eel"], ["fox"]]
    assert again.labels.info.class_names == ["cat", "dog", "eel", "fox"]
    assert again.txt[1].text() == ["z"]
    assert again.lk[1][0].numpy()[0, 0, 0] == 100
    assert abs(int(again.jp[0][1].numpy()[0, 0, 0]) - 200) <= 2
    assert abs(int(again.jp[0][0].numpy()[0, 0, 0]) - 10) <= 2
    again.pop(0)
    assert again.lk[0][0].numpy()[0, 0, 0] == 100 and len(again.frames[0].numpy(aslist=True)) == 2
    assert again.txt[0].text() == ["z"] and again.labels[0].data()["text"] == [
        ["dog"],
        ["cat"],
        ["eel"],
    ]
    assert again.frames.sample_info[0] == [{}, {}]


BAD = [
    (
        lambda ds: ds.g.__setitem__(1, [[1, 2]]),
        errors.SampleError,
        "has 2 items and the new value has 1",
    ),
    (lambda ds: ds.g.__setitem__(0, []), errors.SampleError, "give 3 items, or pop"),
    (
        lambda ds: ds.g.__setitem__(0, [[1.5, 2]] * 3),
        errors.SampleError,
        r"sample 0 \(its item 0\)",
    ),
    (lambda ds: ds.g[1].__setitem__(1, [1.5, 2]), errors.SampleError, r"sample 1 \(its item 1\)"),
    (lambda ds: ds.g[0][1].__setitem__(0, 5), errors.ShoalError, "part of an item"),
    (lambda ds: ds.g.__setitem__((0, 1, 0), 5), errors.ShoalError, "part of an item"),
    (lambda ds: ds.g[0].__setitem__(5, [1, 2]), errors.SampleIndexError, "sample 0 has 3 items"),
    (lambda ds: ds.g.__setitem__(2, [[1, 2]]), IndexError, "out of range"),
    (lambda ds: ds.g[0].__setitem__(slice(0, 2), [[1, 2]]), errors.SampleError, "list of 2 items"),
    (lambda ds: ds.g.pop(2), errors.SampleIndexError, "index 2 is out of range"),
    (lambda ds: ds.pop([0, 0]), errors.SampleIndexError, "repeated"),
    (lambda ds: ds.txt.pop(-1), errors.SampleIndexError, "negative"),
    (
        lambda ds: ds.frames[0].__setitem__(0, np.zeros((4, 5, 3), np.float32)),
        errors.SampleError,
        "its item 0",
    ),
]


@pytest.mark.parametrize("edit,error,match", BAD)
def test_refused_edits_name_the_tensor_and_change_nothing(
    tmp_path: Path, edit: object, error: type, match: str
) -> None:
    ds = _ds(tmp_path)
    ds.flush()
    before = files(tmp_path / "ds")
    with pytest.raises(error, match=match):
        edit(ds)  # type: ignore[operator]
    ds.flush()
    assert files(tmp_path / "ds") == before
    ds.g[1] = [[5, 5], [6, 6, 6]]  # still editable
    assert _items(shoal.load(str(tmp_path / "ds")).g)[1] == [[5, 5], [6, 6, 6]]


def test_link_items_are_replaced_with_their_sample(tmp_path: Path) -> None:
    p = tmp_path / "f.png"
    p.write_bytes(_native.png_encode(np.zeros((4, 5, 3), np.uint8)))
    ds = shoal.empty(str(tmp_path / "l"))
    ds.create_tensor("lk", htype="sequence[link[image]]", sample_compression="png")
    ds.lk.append([shoal.link(str(p))] * 2)
    before = files(tmp_path / "l")
    with pytest.raises(errors.ShoalError, match=r"replace the whole sample: t\[0\]"):
        ds.lk[0][1] = shoal.link(str(p))
    assert files(tmp_path / "l") == before


def test_rechunk_keeps_samples(tmp_path: Path) -> None:
    ds = _g(tmp_path, 40)
    ds.g.pop([1, 3])
    want = _items(ds.g)
    chunks = len(list((tmp_path / "g" / "g" / "chunks").iterdir()))
    ds.rechunk(["g"])
    again = shoal.load(str(tmp_path / "g"))
    assert _items(again.g) == want
    assert len(list((tmp_path / "g" / "g" / "chunks").iterdir())) <= chunks


def test_edits_inside_a_batch(tmp_path: Path) -> None:
    """Updates are read back at once; a pop writes what is staged first, as for any tensor."""
    ds = shoal.empty(str(tmp_path / "b"))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64")
    ds.g.extend([[[1, 2], [3, 4]], [[5, 6]]])
    with ds:
        ds.g.append([[7, 7]])
        ds.g[2] = [[8, 8]]
        ds.g[0][1] = [9, 9]
        assert _items(ds.g) == [[[1, 2], [9, 9]], [[5, 6]], [[8, 8]]]
        ds.g.pop(1)
        ds.g.append([[1, 1], [2, 2], [3, 3]])
    want = [[[1, 2], [9, 9]], [[8, 8]], [[1, 1], [2, 2], [3, 3]]]
    assert _items(shoal.load(str(tmp_path / "b")).g) == want
