"""Sequence tensors (``sequence[...]``): appends of whole sequences, reads of samples and
items, versions, the loader, and bad input that changes nothing stored (edits:
tests/test_sequence_edits.py).
(Byte-for-byte agreement with deeplake: tests/interop/test_sequence_interop.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors
from shoal.engine.sequences import SequenceIndex
from tests.test_tensor_list import files


def _ds(tmp_path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("frames", htype="sequence[image]", sample_compression="png")
    ds.create_tensor("labels", htype="sequence[class_label]")
    ds.create_tensor("g", htype="sequence[generic]", dtype="int32")
    ds.create_tensor("txt", htype="sequence[text]")
    ds.frames.append([np.full((4, 5, 3), i, np.uint8) for i in range(3)])
    ds.frames.append([np.full((4, 5, 3), 9, np.uint8)] * 2)
    ds.labels.extend([["cat", "dog"], ["dog", "cat", "eel"]])
    ds.g.extend([np.arange(6, dtype=np.int32).reshape(3, 2), [np.arange(2), np.arange(3)]])
    ds.txt.extend([["a", "b"], ["c"]])
    return ds


def test_create_and_read_back(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    assert ds.frames.htype == "sequence[image]" and ds.frames.is_sequence
    assert ds.frames.meta["htype"] == "image" and ds.frames.meta["is_sequence"]
    assert ds.frames.meta["length"] == 5  # items, as deeplake counts them
    assert len(ds.frames) == ds.frames.num_samples == 2 and len(ds) == 2
    assert ds.frames.shape == (2, None, 4, 5, 3)
    assert ds.frames[0].shape == (3, 4, 5, 3) and ds.frames[0][1].shape == (4, 5, 3)
    np.testing.assert_array_equal(ds.frames[0].numpy()[:, 0, 0, 0], [0, 1, 2])
    assert ds.frames[0, 2].numpy()[0, 0, 0] == 2
    assert ds.frames[0][1:].numpy().shape == (2, 4, 5, 3)
    assert [len(s) for s in ds.frames.numpy(aslist=True)] == [3, 2]
    with pytest.raises(errors.DynamicShapeError, match="numbers of items"):
        ds.frames.numpy()
    assert ds.frames[1:].numpy().shape == (1, 2, 4, 5, 3)
    # class labels, ragged generic items, text
    assert ds.labels.info.class_names == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(ds.labels[1].numpy(), [[1], [0], [2]])
    assert ds.labels[0].data()["text"] == [["cat"], ["dog"]]
    assert ds.g[1].shape == (2, None)
    with pytest.raises(errors.DynamicShapeError, match="items asked for"):
        ds.g[1].numpy()
    assert [a.tolist() for a in ds.g[1].numpy(aslist=True)] == [[0, 1], [0, 1, 2]]
    assert ds.g[0][2].numpy().tolist() == [4, 5]
    assert ds.txt[0].text() == ["a", "b"] and ds.txt.text() == [["a", "b"], ["c"]]
    assert ds.txt[0].numpy().tolist() == [["a"], ["b"]]
    assert ds.txt[0][1].numpy().tolist() == ["b"]
    # the reopened dataset reads the same
    again = shoal.load(str(tmp_path / "ds"), read_only=True)
    assert len(again.frames) == 2 and again.labels[1].numpy().ravel().tolist() == [1, 0, 2]


def test_empty_samples_and_batch_arrays(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "e"))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int32")
    ds.g.append([])
    ds.g.append(None)
    ds.g.extend(np.ones((2, 3, 4), np.int32))  # two samples of three items each
    assert len(ds.g) == 4 and ds.g.meta["length"] == 6
    assert ds.g[0].numpy().shape == (0, 0) and ds.g[1].numpy(aslist=True) == []
    assert ds.g[2:].numpy().shape == (2, 3, 4)
    assert ds.g.shape == (4, None, 4)


def test_ds_append_and_async(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    ds.append(
        {
            "frames": [np.zeros((4, 5, 3), np.uint8)],
            "labels": ["eel"],
            "g": [np.array([7, 7])],
            "txt": ["d", "e"],
        }
    )
    assert len(ds) == 3 and ds.txt[2].text() == ["d", "e"]

    async def main() -> None:
        ads = await shoal.load_async(str(tmp_path / "ds"))
        await ads.g.append_async([np.array([1]), np.array([2])])
        assert len(ads.g) == 4
        got = await ads.g[3].numpy_async()
        assert got.tolist() == [[1], [2]]
        assert (await ads.g[3][1].numpy_async()).tolist() == [2]

    asyncio.run(main())


def test_versions_keep_the_sequence_index(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    first = ds.commit("two samples")
    ds.txt.append(["x", "y", "z"])
    ds.g.append([np.array([1, 2, 3])])
    assert len(ds.txt) == 3
    second = ds.commit("three")
    ds.checkout(first)
    assert len(ds.txt) == 2 and ds.txt.text() == [["a", "b"], ["c"]]
    ds.checkout(second)
    assert ds.txt[2].text() == ["x", "y", "z"]
    ds.checkout("main")
    ds.checkout("side", create=True)
    ds.txt.append(["side"])
    ds.checkout("main")
    assert len(ds.txt) == 3
    ds.checkout("side")
    assert ds.txt[3].text() == ["side"]


def test_loader_yields_samples_of_items(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    batches = list(ds.loader(batch_size=2, shuffle=False, tensors=["frames", "txt", "g"]))
    assert len(batches) == 1
    b = batches[0]
    assert [f.shape for f in b["frames"]] == [(3, 4, 5, 3), (2, 4, 5, 3)]
    assert b["txt"] == [["a", "b"], ["c"]]
    assert b["g"][0].shape == (3, 2) and [a.tolist() for a in b["g"][1]] == [[0, 1], [0, 1, 2]]
    one = list(ds.loader(batch_size=1, shuffle=True, seed=1, tensors=["frames"]))
    assert sorted(x["frames"].shape for x in one) == [(1, 2, 4, 5, 3), (1, 3, 4, 5, 3)]


GOOD = {
    "g": [np.arange(2, dtype=np.int32)],
    "frames": [np.zeros((4, 5, 3), np.uint8)],
    "txt": ["ok"],
    "labels": ["cat"],
}


@pytest.mark.parametrize(
    ("tensor", "sample", "match"),
    [
        ("g", [np.array([1.5])], r"sample 1 \(its item 0\) has dtype float64"),
        ("g", [np.array([1]), np.array([2.5])], r"sample 1 \(its item 1\)"),
        ("g", [[[1, 2], [3]]], "ragged"),
        ("g", "abc", "sample 1 of sequence tensor 'g' is str; a sample is a list of items"),
        ("g", 5, "a sample is a list of items"),
        ("frames", [np.zeros((4, 5, 3), np.float32)], "stores uint8"),
        ("frames", [np.zeros((4, 5, 3, 2), np.uint8)], r"sample 1 \(its item 0\) has shape"),
        ("txt", "hello", "a sample is a list of items"),
        ("txt", ["ok", 3], r"sample 1 \(its item 1\) is int"),
        ("labels", [1.5], "stores uint32"),
    ],
)
def test_bad_samples_change_nothing(
    tmp_path: Path, tensor: str, sample: object, match: str
) -> None:
    ds = _ds(tmp_path)
    ds.flush()
    before = files(tmp_path / "ds")
    with pytest.raises(errors.SampleError, match=match):
        ds[tensor].extend([GOOD[tensor], sample])
    with pytest.raises(errors.SampleError, match=match.replace("sample 1", "sample 0")):
        ds.append({"frames": GOOD["frames"], tensor: sample}, skip_ok=True)
    assert len(ds[tensor]) == 2 and len(ds.frames) == 2
    ds.flush()
    assert files(tmp_path / "ds") == before
    ds[tensor].append(GOOD[tensor])  # still appendable
    assert len(ds[tensor]) == 3


def test_htype_names(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "h"))
    ds.create_tensor("a", htype="link[sequence[image]]", sample_compression="png")
    ds.create_tensor("b", htype="sequence[link[image]]", sample_compression="png")
    assert ds.a.htype == ds.b.htype == "link[sequence[image]]"
    assert ds.a.meta["is_link"] and ds.a.meta["is_sequence"]
    for bad in ("sequence", "sequence[]", "sequence[nope]", "sequence[image"):
        with pytest.raises(errors.InvalidHtypeError):
            ds.create_tensor("c", htype=bad)
    assert "c" not in ds.tensors


def test_sequence_index_layout() -> None:
    """deeplake's rows: [items per sample, first item, last sample index], a run of samples
    with the same number of items sharing a row; rows as stored are only ever extended."""
    idx = SequenceIndex.empty()
    idx.stage([3, 3, 0, 0, 2])
    assert idx.table().tolist() == [[3, 0, 1], [0, 6, 3], [2, 6, 4]]
    parsed = SequenceIndex.parse(idx.serialize(), 8, "x")
    assert parsed.starts.tolist() == [0, 3, 6, 6, 6, 8]
    # two neighbouring rows of one count (deeplake leaves them so after a pop) stay apart
    odd = np.array([[2, 0, 0], [2, 2, 1]], dtype=np.uint32)
    split = SequenceIndex(odd, np.array([0, 2, 4]))
    split.stage([2])
    assert split.table().tolist() == [[2, 0, 0], [2, 2, 2]]
    with pytest.raises(errors.CorruptDataError):
        SequenceIndex.parse(idx.serialize(), 9, "x")
    with pytest.raises(errors.CorruptDataError):
        SequenceIndex.parse(None, 4, "x")


def test_batches_many_chunks_and_an_abandoned_batch(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "b"))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=4000)
    expected = []
    with ds:
        for i in range(300):
            sample = [np.full((i % 5 + 1,), i * 10 + j) for j in range(i % 4)]
            ds.g.append(sample)
            expected.append(sample)
    again = shoal.load(str(tmp_path / "b"))
    assert len(again.g) == 300 and again.g.meta["length"] == sum(len(s) for s in expected)
    assert len(list((tmp_path / "b" / "g" / "chunks").iterdir())) > 3
    for i in (0, 1, 7, 150, 299):
        got = again.g[i].numpy(aslist=True)
        assert [a.tolist() for a in got] == [a.tolist() for a in expected[i]]
    before = files(tmp_path / "b")
    with pytest.raises(RuntimeError, match="boom"), again:
        again.g.append([np.array([1])])
        assert len(again.g) == 301
        raise RuntimeError("boom")
    assert len(again.g) == 300
    assert files(tmp_path / "b") == before
    again.g.append([np.array([5, 5])])
    assert shoal.load(str(tmp_path / "b")).g[300].numpy().tolist() == [[5, 5]]


def test_sample_info_per_item(tmp_path: Path) -> None:
    from shoal import _native

    paths = []
    for i in range(2):
        p = tmp_path / f"f{i}.png"
        p.write_bytes(_native.png_encode(np.full((4, 5, 3), i, np.uint8)))
        paths.append(p)
    ds = shoal.empty(str(tmp_path / "s"))
    ds.create_tensor("f", htype="sequence[image]", sample_compression="png")
    ds.f.append([shoal.read(str(paths[0])), np.zeros((4, 5, 3), np.uint8)])
    ds.f.append([shoal.read(str(paths[1]))])
    info = ds.f[0].sample_info
    assert len(info) == 2 and info[0]["format"] == "png" and info[1] == {}
    assert ds.f[1][0].sample_info["filename"].endswith("f1.png")
    assert [len(x) for x in ds.f.sample_info] == [2, 1]
    assert ds.f[1][0].numpy()[0, 0, 0] == 1
