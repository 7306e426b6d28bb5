"""``shoal.copy`` of link tensors (their stored URLs and creds keys, never secrets) and of
sequence tensors (the selected samples' items, the sequence index made anew). deeplake's
own copy of the same datasets is compared in tests/interop/test_copy_interop.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _native
from shoal.errors import InvalidCredsError


def _files(root: Path) -> list[str]:
    out = []
    for i, (h, w) in enumerate([(12, 16), (20, 10), (8, 8)]):
        p = root / f"f{i}.png"
        p.write_bytes(_native.png_encode(np.full((h, w, 3), 40 * i + 5, np.uint8)))
        out.append(str(p))
    return out


def _links(path: str, files: list[str]) -> shoal.Dataset:
    ds = shoal.empty(path)
    ds.create_tensor("im", htype="link[image]", sample_compression="png")
    ds.add_creds_key("k")
    ds.add_creds_key("unused")
    ds.populate_creds("k", {})
    ds.im.extend(
        [
            shoal.link(files[0], creds_key="k"),
            shoal.link(files[1]),
            None,
            shoal.link(files[2], creds_key="k"),
        ]
    )
    ds.create_tensor("raw", htype="link[image]", sample_compression="png", verify=False)
    ds.raw.extend([shoal.link(f) for f in [*files, files[0]]])
    ds.commit("c")
    return ds


def test_copy_keeps_link_entries_and_creds_key_names(tmp_path: Path) -> None:
    files = _files(tmp_path)
    src = _links(str(tmp_path / "src"), files)
    part = src[[3, 1, 2]].copy(str(tmp_path / "part"))
    stored = json.loads((tmp_path / "part" / "linked_creds.json").read_text())
    assert stored == {
        "creds_keys": ["k", "unused"],
        "managed_creds_keys": [],
        "used_creds_keys": ["k"],
    }
    again = shoal.load(str(tmp_path / "part"))
    assert again.im.path() == [files[2], files[1], ""]
    assert again.raw.path() == [files[0], files[1], files[2]]
    assert again.im.htype == "link[image]" and again.raw.meta["verify"] is False
    # the secrets stayed with the source (the copy holds the key names only)
    assert part._a._engine.links.creds.secrets == {}
    with pytest.raises(InvalidCredsError, match="populate_creds"):
        again.im.append(shoal.link("s3://bucket/x.png", creds_key="k"))
    again.populate_creds("k", {})
    got = again.im.numpy(aslist=True)
    for a, b in zip(got, [src.im[i].numpy() for i in (3, 1, 2)], strict=True):
        np.testing.assert_array_equal(a, b)
    # the shape bounds are the copied files', the companions the source's entries
    assert again.im.meta["max_shape"] == [20, 10, 3] and again.im.meta["min_shape"] == [8, 8, 3]
    for name in ("_im_shape", "_im_id"):
        want = [src[name][i].numpy().tolist() for i in (3, 1, 2)]
        assert [a.tolist() for a in again[name].numpy(aslist=True)] == want, name
    # appending to the copy uses the copied keys
    again.im.append(shoal.link(files[0], creds_key="k"))
    np.testing.assert_array_equal(again.im[3].numpy(), src.im[0].numpy())


def test_copy_takes_every_creds_key_whatever_tensors_it_copies(tmp_path: Path) -> None:
    files = _files(tmp_path)
    src = _links(str(tmp_path / "src"), files)
    src.create_tensor("n", dtype="int64")
    src.n.extend(list(range(4)))
    only = shoal.copy(src, str(tmp_path / "only"), tensors=["n"])
    assert sorted(only.tensors) == ["n"] and only.get_creds_keys() == ["k", "unused"]


def test_copy_keeps_managed_key_names(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _links(str(tmp_path / "src"), files)
    doc = {
        "creds_keys": ["k", "unused"],
        "managed_creds_keys": ["unused"],
        "used_creds_keys": ["k"],
    }
    (tmp_path / "src" / "linked_creds.json").write_text(json.dumps(doc))
    shoal.copy(str(tmp_path / "src"), str(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "linked_creds.json").read_text()) == doc


def _sequences(path: str, files: list[str]) -> shoal.Dataset:
    ds = shoal.empty(path)
    ds.create_tensor("seq", htype="sequence[generic]", dtype="int32")
    ds.create_tensor("simg", htype="sequence[image]", sample_compression="png")
    ds.create_tensor("slink", htype="sequence[link[image]]", sample_compression="png")
    lengths = [3, 2, 0, 4, 4, 1]
    ds.seq.extend(
        [np.arange(n, dtype=np.int32).reshape(n, 1) + 10 * i for i, n in enumerate(lengths)]
    )
    ds.simg.extend([[np.full((4, 3 + i, 3), i, np.uint8)] * n for i, n in enumerate(lengths)])
    ds.slink.extend(
        [[shoal.link(files[(i + j) % 3]) for j in range(n)] for i, n in enumerate(lengths)]
    )
    return ds


def _appended(path: str, src: shoal.Dataset, picks: list[int], files: list[str]) -> shoal.Dataset:
    """The same samples appended one by one: the layout copy must give."""
    ds = shoal.empty(path)
    ds.create_tensor("seq", htype="sequence[generic]", dtype="int32")
    ds.create_tensor("simg", htype="sequence[image]", sample_compression="png")
    for i in picks:
        ds.seq.append(list(src.seq[i].numpy(aslist=True)))
        ds.simg.append(list(src.simg[i].numpy(aslist=True)))
    return ds


@pytest.mark.parametrize("picks", [None, [3, 1, 2, 5], list(range(1, 4))])
def test_copy_of_sequences_brings_every_item(tmp_path: Path, picks: list[int] | None) -> None:
    files = _files(tmp_path)
    src = _sequences(str(tmp_path / "src"), files)
    view = src if picks is None else src[picks]
    out = view.copy(str(tmp_path / "out"))
    order = list(range(len(src))) if picks is None else picks
    assert len(out) == len(order)
    for name in ("seq", "simg", "slink"):
        want = [src[name][i].numpy(aslist=True) for i in order]
        got = [out[name][j].numpy(aslist=True) for j in range(len(order))]
        for a, b in zip(got, want, strict=True):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
        items = sum(len(w) for w in want)
        assert out[name].meta["length"] == items
        assert len(out[f"_{name}_shape"]) == items and len(out[f"_{name}_id"]) == len(order)
    assert len(out["_simg_info"]) == sum(len(src.simg[i].numpy(aslist=True)) for i in order)
    ref = _appended(str(tmp_path / "ref"), src, order, files)
    for name in ("seq", "simg"):
        mine = (tmp_path / "out" / name / "sequence_index" / "unsharded").read_bytes()
        theirs = (tmp_path / "ref" / name / "sequence_index" / "unsharded").read_bytes()
        assert mine == theirs, name
        for k in ("min_shape", "max_shape", "dtype", "typestr", "length"):
            assert out[name].meta[k] == ref[name].meta[k], (name, k)
