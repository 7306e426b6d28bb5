"""``copy`` of link and sequence tensors side by side with deeplake 3.9.52: shoal's copy of
a dataset deeplake wrote is laid out as deeplake's own copy of it (tensor metas, companions,
creds index, ``linked_creds.json``), and deeplake reads shoal's copies.

Where deeplake's copy is wrong shoal does not follow it: deeplake 3.9.52 copies only the
first item of each sequence (and an empty sequence, or a None link, fails its copy), so the
sequence tensors' lengths and sequence index are compared with the source instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tests.interop.snippets import with_deeplake, with_shoal, write

import shoal
from shoal import _native

MAKE = """
d = argv[1]
ds = deeplake.empty(argv[0] + "/src", overwrite=True)
ds.create_tensor("im", htype="link[image]", sample_compression="png")
ds.add_creds_key("k")
ds.add_creds_key("unused")
ds.populate_creds("k", {})
ds.im.extend([deeplake.link(d + "/f0.png", creds_key="k"), deeplake.link(d + "/f1.png"),
              deeplake.link(d + "/f2.png", creds_key="k"), deeplake.link(d + "/f1.png")])
ds.create_tensor("seq", htype="sequence[generic]", dtype="int32")
ds.seq.extend([np.arange(n, dtype="int32").reshape(n, 1) + 10 * i for i, n in enumerate([3, 2, 1, 4])])
ds.create_tensor("simg", htype="sequence[image]", sample_compression="png")
ds.simg.extend([[np.full((4, 3 + i, 3), i, np.uint8)] * n for i, n in enumerate([2, 1, 3, 1])])
ds.create_tensor("lbl", htype="class_label", class_names=["a", "b"])
ds.lbl.extend([0, 1, 1, 0])
ds.commit("c")
ds.copy(argv[0] + "/dl_whole", progressbar=False)
ds[[3, 1]].copy(argv[0] + "/dl_pick", progressbar=False)
print(json.dumps(0))
"""

READ = """
ds = deeplake.load(argv[0], read_only=True)
ds.populate_creds("k", {})
out = {"len": len(ds), "keys": sorted(ds.get_creds_keys())}
for name in sorted(ds.tensors):
    t = ds[name]
    if t.meta.is_sequence:
        out[name] = [[np.asarray(x).tolist() for x in s] for s in t.numpy(aslist=True)]
    else:
        out[name] = [np.asarray(a).tolist() for a in t.numpy(aslist=True)]
    if t.htype.startswith("link") and not t.meta.is_sequence:
        out[name + ".path"] = [str(np.asarray(p).reshape(-1)[0]) for p in t.path(aslist=True)]
print(json.dumps(out))
"""

SEQUENCES = ("seq", "simg")


def _files(d: Path) -> Path:
    for i, (h, w) in enumerate([(12, 16), (20, 10), (8, 8)]):
        (d / f"f{i}.png").write_bytes(_native.png_encode(np.full((h, w, 3), 40 * i + 5, np.uint8)))
    return d


def _meta(root: Path, tensor: str) -> dict[str, Any]:
    return dict(json.loads((root / tensor / "tensor_meta.json").read_text()))


def test_shoal_copy_of_deeplake_links_and_sequences_is_deeplakes_copy(
    tmp_path: Path, run_dl: Any
) -> None:
    files = _files(tmp_path)
    with_deeplake(run_dl, write(tmp_path, "make", MAKE), tmp_path, files)
    src = shoal.load(str(tmp_path / "src"))
    picks = {"whole": [0, 1, 2, 3], "pick": [3, 1]}
    shoal.copy(src, str(tmp_path / "sh_whole"))
    src[picks["pick"]].copy(str(tmp_path / "sh_pick"))
    for name, order in picks.items():
        dl, sh = tmp_path / f"dl_{name}", tmp_path / f"sh_{name}"
        assert json.loads((sh / "linked_creds.json").read_text()) == json.loads(
            (dl / "linked_creds.json").read_text()
        )
        assert (sh / "dataset_info.json").read_text() == (dl / "dataset_info.json").read_text()
        assert (sh / "dataset_diff").read_bytes() == (dl / "dataset_diff").read_bytes()
        tensors = sorted(p.name for p in dl.iterdir() if (p / "tensor_meta.json").exists())
        assert tensors == sorted(p.name for p in sh.iterdir() if (p / "tensor_meta.json").exists())
        for t in tensors:
            mine, theirs = _meta(sh, t), _meta(dl, t)
            if t.strip("_").split("_")[0] in SEQUENCES and "length" in theirs:
                mine.pop("length"), theirs.pop("length")  # deeplake keeps first items only
            assert mine == theirs, (name, t)
        creds = "im/creds_index/unsharded"
        assert (sh / creds).read_bytes() == (dl / creds).read_bytes()
        ours, deeplakes = shoal.load(str(sh)), shoal.load(str(dl))
        assert ours.im.path() == deeplakes.im.path() == [src.im.path()[i] for i in order]
        assert len(ours["_im_id"]) == len(ours["_seq_id"]) == len(order)  # deeplake's are new
        for t in ("_im_shape", "lbl"):
            assert [a.tolist() for a in ours[t].numpy(aslist=True)] == [
                a.tolist() for a in deeplakes[t].numpy(aslist=True)
            ]
        assert ours["_im_info"].data()["value"] == deeplakes["_im_info"].data()["value"]
        for t in SEQUENCES:  # every item, and the index appending those samples makes
            want = [[x.tolist() for x in src[t][i].numpy(aslist=True)] for i in order]
            assert [[x.tolist() for x in s] for s in ours[t].numpy(aslist=True)] == want
            assert ours[t].meta["length"] == sum(len(w) for w in want)
        index = "seq/sequence_index/unsharded"
        if name == "whole":
            assert (sh / index).read_bytes() == (tmp_path / "src" / index).read_bytes()


def test_deeplake_reads_shoal_copies_of_links_and_sequences(tmp_path: Path, run_dl: Any) -> None:
    d = _files(tmp_path)
    f = [str(d / f"f{i}.png") for i in range(3)]
    src = shoal.empty(str(tmp_path / "src"))
    src.create_tensor("im", htype="link[image]", sample_compression="png")
    src.add_creds_key("k")
    src.im.extend([shoal.link(f[0], creds_key="k"), None, shoal.link(f[2]), shoal.link(f[1])])
    src.create_tensor("seq", htype="sequence[generic]", dtype="int32")
    src.seq.extend(
        [np.arange(n, dtype=np.int32).reshape(n, 1) + i for i, n in enumerate([3, 0, 2, 1])]
    )
    src.create_tensor("simg", htype="sequence[image]", sample_compression="png")
    src.simg.extend([[np.full((4, 3 + i, 3), i, np.uint8)] * n for i, n in enumerate([1, 2, 0, 3])])
    src.create_tensor("slink", htype="sequence[link[image]]", sample_compression="png")
    src.slink.extend([[shoal.link(f[i % 3])] * (i % 3) for i in range(4)])
    reader = write(tmp_path, "read", READ)
    whole = with_shoal(reader, tmp_path / "src")
    for name, view in [("whole", src), ("pick", src[[3, 1, 0]]), ("slice", src[1:3])]:
        view.copy(str(tmp_path / name))
        got = with_deeplake(run_dl, reader, tmp_path / name)
        order = list(range(4)) if view is src else [3, 1, 0] if name == "pick" else [1, 2]
        want = {
            k: [v[i] for i in order] if isinstance(v, list) and k != "keys" else v
            for k, v in whole.items()
        }
        want["len"] = len(order)
        assert got == want, name
