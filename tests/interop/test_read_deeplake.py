"""deeplake 3.9.52 writes, shoal reads: every htype, tiles, many chunks, versions and branches.

The reference values are deeplake's own reads of the same dataset (``dl_side.py dump``), so the
comparisons are exact: same dtype, same shape, same bytes; texts and json objects equal.
"""

from __future__ import annotations

import os
import shutil
import zlib
from typing import Any

import numpy as np
import pytest

import shoal

pytestmark = pytest.mark.interop

# what dl_side.py write-all creates (kept in sync by test_tensor_set)
ALL_TENSORS = [
    "gen",
    "fixed",
    "flags",
    "labels",
    "img_png",
    "img_jpg",
    "raw_img",
    "txt",
    "js",
    "emb",
    "boxes",
    "lz4",
    "lz4u8",
    "big",
    "bigpng",
]
FIXED_SHAPE = ["fixed", "labels", "emb"]
VERSIONED_TENSORS = ["x", "lbl", "txt", "img"]


# --------------------------------------------------------------------------------------------
# shoal-side read helpers


def read_one(t: Any, i: int, kind: str) -> Any:
    if kind == "text":
        return t[i].text()
    if kind == "json":
        return t[i].dict()
    return t[i].numpy()


def read_many(view: Any, kind: str) -> list[Any]:
    """All samples of a tensor or of an indexed view, as a list."""
    if kind == "text":
        return list(view.text())
    if kind == "json":
        return list(view.dict())
    return list(view.numpy(aslist=True))


def compare_samples(got: list[Any], want: list[Any], kind: str, where: str, eq: Any) -> None:
    assert len(got) == len(want), f"{where}: {len(got)} samples, deeplake has {len(want)}"
    for j, (g, w) in enumerate(zip(got, want, strict=True)):
        eq(g, w, kind, f"{where}[{j}]")


def compare_tensor_fully(ds: Any, name: str, td: dict[str, Any], where: str, eq: Any) -> None:
    t = ds[name]
    kind = td["kind"]
    assert len(t) == td["length"], f"{where}.{name}: len {len(t)} != {td['length']}"
    assert t.htype == td["htype"], f"{where}.{name}: htype {t.htype} != {td['htype']}"
    if kind == "array":
        assert np.dtype(t.dtype) == np.dtype(td["dtype"]), f"{where}.{name}: dtype"
    for i, want in enumerate(td["samples"]):
        eq(read_one(t, i, kind), want, kind, f"{where}.{name}[{i}]")
    compare_samples(read_many(t, kind), td["samples"], kind, f"{where}.{name}[:]", eq)


@pytest.fixture(scope="module")
def shoal_all(dl_all):
    path, _ = dl_all
    return shoal.load(path, read_only=True)


# --------------------------------------------------------------------------------------------
# write-all


def test_tensor_set(dl_all, shoal_all):
    _, dump = dl_all
    assert sorted(dump["tensors"]) == sorted(ALL_TENSORS), "dl_side.py and ALL_TENSORS diverged"
    assert sorted(shoal_all.tensors) == sorted(ALL_TENSORS)  # hidden tensors are not listed
    assert len(shoal_all) == dump["len"]


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_meta(dl_all, shoal_all, name):
    td = dl_all[1]["tensors"][name]
    t = shoal_all.tensors[name]
    assert t.htype == td["htype"]
    assert len(t) == td["length"]
    if td["kind"] == "array":
        assert np.dtype(t.dtype) == np.dtype(td["dtype"])


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_every_sample_one_by_one(dl_all, shoal_all, sample_equal, name):
    td = dl_all[1]["tensors"][name]
    t = shoal_all[name]
    for i, want in enumerate(td["samples"]):
        sample_equal(read_one(t, i, td["kind"]), want, td["kind"], f"{name}[{i}]")
    # negative indices count from the end
    sample_equal(read_one(t, -1, td["kind"]), td["samples"][-1], td["kind"], f"{name}[-1]")


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_whole_tensor(dl_all, shoal_all, sample_equal, name):
    td = dl_all[1]["tensors"][name]
    compare_samples(
        read_many(shoal_all[name], td["kind"]), td["samples"], td["kind"], name, sample_equal
    )


@pytest.mark.parametrize("name", FIXED_SHAPE)
def test_fixed_shape_numpy_stacks(dl_all, shoal_all, name):
    td = dl_all[1]["tensors"][name]
    got = shoal_all[name].numpy()
    want = np.stack(td["samples"])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want, strict=True)
    sl = shoal_all[name][3:11].numpy()
    np.testing.assert_array_equal(sl, want[3:11], strict=True)


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_index_lists_and_strided_slices(dl_all, shoal_all, sample_equal, name):
    td = dl_all[1]["tensors"][name]
    kind, want = td["kind"], td["samples"]
    n = len(want)
    t = shoal_all[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for _trial in range(3):
        k = min(n, 7)
        idx = [int(i) for i in rng.choice(n, size=k, replace=False)]  # unsorted, unique
        got = read_many(t[idx], kind)
        compare_samples(got, [want[i] for i in idx], kind, f"{name}[{idx}]", sample_equal)
    for sl in (slice(1, None, 3), slice(2, n - 1, 5), slice(None, None, 1), slice(n - 4, n)):
        got = read_many(t[sl], kind)
        compare_samples(got, want[sl], kind, f"{name}[{sl}]", sample_equal)


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_shape(dl_all, shoal_all, name):
    td = dl_all[1]["tensors"][name]
    assert tuple(shoal_all[name].shape) == td["shape"]


def test_tiled_samples_really_are_tiled(dl_all):
    """Guards the fixture: the big/bigpng samples must be stored as several tiles."""
    path, _ = dl_all
    for name in ("big", "bigpng"):
        n_chunks = len(os.listdir(os.path.join(path, name, "chunks")))
        assert n_chunks > 5, f"{name} has only {n_chunks} chunks: not tiled?"
        assert os.path.getsize(os.path.join(path, name, "tiles_index", "unsharded")) > 15


def test_many_chunks(dl_all):
    """Guards the fixture: every tensor spans several chunks."""
    path, _ = dl_all
    for name in ALL_TENSORS:
        assert len(os.listdir(os.path.join(path, name, "chunks"))) >= 2, name


def test_grayscale_png_is_hw1(dl_all, shoal_all):
    _, dump = dl_all
    shapes = [s.shape for s in dump["tensors"]["img_png"]["samples"]]
    gi = [i for i, s in enumerate(shapes) if s[-1] == 1]
    assert gi, "fixture lost its grayscale sample"
    for i in gi:
        assert shoal_all["img_png"][i].numpy().shape == shapes[i]


def test_info(dl_all, shoal_all):
    _, dump = dl_all
    assert dict(shoal_all.info) == dump["info"]
    for name in ALL_TENSORS:
        assert dict(shoal_all[name].info) == dump["tensor_info"][name], name


def test_class_labels(dl_all, shoal_all):
    _, dump = dl_all
    names = dump["tensor_info"]["labels"]["class_names"]
    assert names == ["cat", "dog", "bird", "fish"]
    t = shoal_all["labels"]
    assert list(t.info.class_names) == names
    ids = t.numpy()
    assert ids.dtype == np.uint32 and ids.shape == (len(t), 1)
    for i in (0, 5, 8, len(t) - 1):
        d = t[i].data()
        np.testing.assert_array_equal(d["value"], dump["tensors"]["labels"]["samples"][i])
        assert list(d["text"]) == [names[int(ids[i, 0])]]


def test_text_data(dl_all, shoal_all):
    _, dump = dl_all
    want = dump["tensors"]["txt"]["samples"]
    assert shoal_all["txt"][1].data()["value"] == want[1]
    assert any(any(ord(c) > 127 for c in s) for s in want)  # fixture has non-ASCII text


def test_open_with_dataset_function(dl_all, sample_equal, tmp_path):
    """shoal.dataset() opens an existing deeplake dataset (on a copy: it may open for writing)."""
    path, dump = dl_all
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    ds = shoal.dataset(str(copy))
    assert sorted(ds.tensors) == sorted(ALL_TENSORS)
    sample_equal(ds["gen"][3].numpy(), dump["tensors"]["gen"]["samples"][3], "array", "gen[3]")
    sample_equal(ds["txt"][2].text(), dump["tensors"]["txt"]["samples"][2], "text", "txt[2]")


# --------------------------------------------------------------------------------------------
# write-versioned: commits, copy-on-write updates, two branches, an uncommitted head


def open_ref(path: str, commits: dict[str, str], ref: str) -> Any:
    if ref == "main":
        return shoal.load(path, read_only=True)
    if ref == "dev@path":
        return shoal.load(path + "@dev", read_only=True)
    ds = shoal.load(path, read_only=True)
    ds.checkout(commits.get(ref, ref))
    return ds


REFS = ["main", "dev", "dev@path", "first", "second"]


def _dump_for(dumps: dict[str, Any], commits: dict[str, str], ref: str) -> dict[str, Any]:
    if ref in ("main", "dev"):
        return dumps[ref]
    if ref == "dev@path":
        return dumps["dev"]
    return dumps[commits[ref]]


def test_versioned_branches(dl_versioned):
    path, _, dumps = dl_versioned
    ds = shoal.load(path, read_only=True)
    assert sorted(ds.branches) == sorted(dumps["main"]["branches"]) == ["dev", "main"]


@pytest.mark.parametrize("ref", REFS)
def test_versioned_samples(dl_versioned, sample_equal, ref):
    path, commits, dumps = dl_versioned
    dump = _dump_for(dumps, commits, ref)
    ds = open_ref(path, commits, ref)
    assert sorted(ds.tensors) == sorted(VERSIONED_TENSORS)
    assert len(ds) == dump["len"]
    for name in VERSIONED_TENSORS:
        compare_tensor_fully(ds, name, dump["tensors"][name], ref, sample_equal)


@pytest.mark.parametrize("ref", REFS)
def test_versioned_info(dl_versioned, ref):
    path, commits, dumps = dl_versioned
    dump = _dump_for(dumps, commits, ref)
    ds = open_ref(path, commits, ref)
    assert dict(ds.info) == dump["info"]
    for name in VERSIONED_TENSORS:
        assert dict(ds[name].info) == dump["tensor_info"][name], (ref, name)


def test_versioned_fixture_shape(dl_versioned):
    """Guards the fixture: the refs really differ where the story says they should."""
    _, commits, dumps = dl_versioned
    main, dev = dumps["main"], dumps["dev"]
    first, second = dumps[commits["first"]], dumps[commits["second"]]
    assert [d["tensors"]["x"]["length"] for d in (first, second, main, dev)] == [20, 26, 27, 30]
    assert first["tensors"]["txt"]["samples"][0] == "main-0"
    assert second["tensors"]["txt"]["samples"][0] == "updated-0"  # copy-on-write update
    assert main["tensors"]["txt"]["samples"][-1] == "uncommitted on main"
    assert dev["tensors"]["txt"]["samples"][-1] == "dev-29"
    assert first["tensor_info"]["lbl"]["class_names"] == ["a", "b"]
    assert main["tensor_info"]["lbl"]["class_names"] == ["a", "b", "c"]
    assert [d["info"]["stage"] for d in (first, second, main, dev)] == [
        "first",
        "second",
        "second",
        "dev",
    ]
    np.testing.assert_array_equal(dev["tensors"]["x"]["samples"][21], [7, 7])
    np.testing.assert_array_equal(main["tensors"]["x"]["samples"][21], [21, 21, 21])


def test_versioned_random_access(dl_versioned, sample_equal):
    path, commits, dumps = dl_versioned
    rng = np.random.default_rng(5)
    for ref in ("main", "dev"):
        ds = open_ref(path, commits, ref)
        for name in VERSIONED_TENSORS:
            td = dumps[ref]["tensors"][name]
            kind, want = td["kind"], td["samples"]
            idx = [int(i) for i in rng.choice(len(want), size=9, replace=False)]
            compare_samples(
                read_many(ds[name][idx], kind),
                [want[i] for i in idx],
                kind,
                f"{ref}.{name}[{idx}]",
                sample_equal,
            )
            compare_samples(
                read_many(ds[name][::4], kind), want[::4], kind, f"{ref}.{name}[::4]", sample_equal
            )
