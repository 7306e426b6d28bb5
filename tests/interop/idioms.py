"""A corpus of everyday deeplake-3 code, run unchanged with deeplake 3.9.52 and with shoal
(see test_idioms.py). Each snippet works in ``argv[0]`` (a fresh directory), may read the
PNG file ``argv[1]``, and leaves what it found in ``result`` (plain JSON values)."""

from __future__ import annotations

CORPUS: dict[str, str] = {}

CORPUS["create_append_read"] = """
ds = deeplake.empty(argv[0], overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.images.append(np.zeros((8, 8, 3), np.uint8))
    ds.labels.append(1)
ds.append({"images": np.ones((8, 8, 3), np.uint8), "labels": 0})
result = {
    "len": len(ds),
    "shape": list(ds.images.shape),
    "labels": ds.labels.numpy().ravel().tolist(),
    "class_names": list(ds.labels.info.class_names),
    "tensors": list(ds.tensors.keys()),
    "first": int(ds.images[0].numpy().sum()),
    "stack": list(ds.images[0:2].numpy().shape),
}
"""

CORPUS["extend_columns_and_views"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="float32")
ds.create_tensor("y", htype="class_label")
ds.extend({"x": np.arange(12, dtype=np.float32).reshape(6, 2), "y": [0, 1, 1, 0, 2, 1]})
view = ds[1:5]
result = {
    "len": len(ds),
    "view_len": len(view),
    "view_x": view.x.numpy().tolist(),
    "picked": ds.y[[0, 2, 4]].numpy().ravel().tolist(),
    "rows": [int(s.y.numpy()[0]) for s in ds],
    "aslist": [a.tolist() for a in ds.x.numpy(aslist=True)][:2],
}
"""

CORPUS["update_in_place"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("labels", htype="class_label")
with ds:
    for i in range(10):
        ds.append({"images": np.full((4, 4, 3), i, np.uint8), "labels": i % 3})
ds.labels[2] = 5
ds.labels[3:5] = [7, 8]
ds.images[1] = np.full((6, 5, 3), 200, np.uint8)
ds[0].update({"images": np.zeros((4, 4, 3), np.uint8), "labels": 9})
with ds:
    for i in range(5, 10):
        ds.labels[i] = 100 + i
result = {
    "labels": ds.labels.numpy().ravel().tolist(),
    "img1": list(ds.images[1].numpy().shape),
    "img0": int(ds.images[0].numpy().sum()),
    "max_shape": list(ds.images.meta.max_shape),
}
"""

CORPUS["pop_samples"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64", max_chunk_size=400)
ds.create_tensor("t", htype="text")
ds.extend({"x": list(range(40)), "t": ["s%d" % i for i in range(40)]})
ds.pop(0)
ds.pop([3, 10, 30])
ds.x.pop()
ds.t.pop(5)
result = {"x": ds.x.numpy().ravel().tolist(), "t": ds.t.text(), "max": ds.max_len,
          "min": ds.min_len, "len": len(ds)}
"""

CORPUS["groups"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_group("train")
ds.train.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("train/labels", htype="class_label")
ds.create_group("val/easy")
ds["val/easy"].create_tensor("ids", dtype="int32")
ds.train.images.append(np.zeros((3, 3, 3), np.uint8))
ds["train/labels"].append(1)
ds.val.easy.ids.extend([1, 2, 3])
result = {
    "tensors": sorted(ds.tensors),
    "train": sorted(ds.train.tensors),
    "groups": sorted(ds.groups),
    "val_groups": sorted(ds.val.groups),
    "ids": ds["val/easy/ids"].numpy().ravel().tolist(),
    "train_len": len(ds.train),
    "label": ds.train.labels[0].numpy().tolist(),
}
"""

CORPUS["rename_and_delete"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("a", dtype="int64")
ds.create_tensor("b", htype="text")
ds.extend({"a": [1, 2, 3], "b": ["x", "y", "z"]})
ds.rename_tensor("a", "c")
ds.delete_tensor("b")
again = deeplake.load(argv[0])
result = {"tensors": list(again.tensors), "c": again.c.numpy().ravel().tolist()}
"""

CORPUS["meta_and_info"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("images", htype="image", sample_compression="jpeg")
ds.create_tensor("boxes", htype="bbox")
ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
ds.info.update(description="test", version=2)
ds.labels.info.update(extra=[1, 2])
m = ds.images.meta
result = {
    "compression": m.sample_compression,
    "htype": m.htype,
    "chunk": m.chunk_compression,
    "labels_dtype": str(ds.labels.meta.dtype),
    "boxes": ds.boxes.htype,
    "info": dict(deeplake.load(argv[0]).info),
    "labels_info": list(ds.labels.info.class_names),
    "extra": list(deeplake.load(argv[0]).labels.info.extra),
}
"""

CORPUS["read_files"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("raw", htype="image", dtype="uint8", sample_compression=None)
sample = deeplake.read(argv[1])
ds.images.append(sample)
ds.raw.append(deeplake.read(argv[1]))
ds.images.extend([deeplake.read(argv[1]), deeplake.read(argv[1])])
result = {
    "len": len(ds.images),
    "shape": list(ds.images[0].numpy().shape),
    "same": bool((ds.images[2].numpy() == ds.raw[0].numpy()).all()),
    "sum": int(ds.images.numpy().sum()),
    "read_shape": list(sample.shape),
    "compression": sample.compression,
}
"""

CORPUS["filter_views"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("labels", htype="class_label")
ds.create_tensor("x", dtype="int64")
ds.extend({"labels": [0, 1, 0, 2, 1, 1], "x": [10, 11, 12, 13, 14, 15]})
view = ds.filter(lambda s: int(s.labels.numpy()[0]) == 1)
result = {"len": len(view), "x": view.x.numpy().ravel().tolist(),
          "none": len(ds.filter(lambda s: False))}
"""

CORPUS["reopen_and_continue"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="float64")
ds.x.extend([1.5, 2.5])
ds = deeplake.load(argv[0])
ds.x.append(3.5)
ds.x[0] = -1.0
ro = deeplake.load(argv[0], read_only=True)
result = {"x": ro.x.numpy().ravel().tolist(), "exists": deeplake.exists(argv[0]),
          "read_only": ro.read_only}
"""

CORPUS["rechunk"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64", max_chunk_size=400)
ds.x.extend(np.arange(60))
ds.pop(list(range(0, 60, 2)))
ds.rechunk()
result = {"x": ds.x.numpy().ravel().tolist()}
"""

CORPUS["text_and_json"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("t", htype="text")
ds.create_tensor("j", htype="json")
ds.append({"t": "hello", "j": {"a": 1}})
ds.append({"t": "world", "j": {"b": [1, 2]}})
ds.t[0] = "bye"
ds.j[1] = {"c": None}
result = {"t": ds.t.text(), "j": ds.j.dict(), "one": ds.t[1].text(), "d": ds.j[0].dict()}
"""

CORPUS["sample_shapes"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("img", htype="image", sample_compression="png")
ds.img.extend([np.zeros((4, 5, 3), np.uint8), np.zeros((6, 5, 3), np.uint8)])
ds.img.append(np.zeros((2, 2, 3), np.uint8))
ds.create_tensor("t", htype="text")
ds.t.extend(["a", "bb", "ccc"])
ds.create_tensor("e", dtype="float32")
ds.e.extend([np.ones((2, 3), np.float32)] * 3)
ds.create_tensor("n", dtype="int32", create_shape_tensor=False, create_id_tensor=False)
ds.n.extend([np.ones(2, np.int32), np.ones(3, np.int32), np.ones(1, np.int32)])
result = {name: [ds[name].shapes().tolist(), ds[name][1].shapes().tolist(),
                 ds[name][[2, 0]].shapes().tolist(), str(ds[name].shapes().dtype)]
          for name in ["img", "t", "e", "n"]}
result["views"] = [ds.is_view, ds[0:2].is_view, ds[1].is_view, ds[[0, 1]].is_view]
result["tensors"] = sorted(deeplake.load(argv[0]).tensors)
"""

CORPUS["create_options_and_like"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
ds.create_tensor("t", htype="text", exist_ok=True, verbose=False)
ds.create_tensor("t", htype="text", exist_ok=True)
try:
    ds.create_tensor("t", htype="json", exist_ok=True)
    clash = None
except ValueError:
    clash = "refused"
ds.labels.info.update(note="x")
ds.create_tensor_like("labels2", ds.labels)
ds.labels2.extend([1, 0])
ds.create_tensor_like("t2", ds.t)
ds.t2.append("hi")
again = deeplake.load(argv[0])
result = {"clash": clash, "labels2": again.labels2.numpy().ravel().tolist(),
          "names": list(again.labels2.info.class_names), "note": again.labels2.info.note,
          "htype": again.labels2.htype, "t2": again.t2.text(),
          "dtype": str(again.labels2.dtype)}
"""

CORPUS["version_control"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.x.extend([1, 2, 3])
first = ds.commit("first")
ds.checkout("dev", create=True)
ds.x.append(4)
ds.x[0] = 10
ds.commit("dev work")
ds.checkout("main")
before = ds.x.numpy().ravel().tolist()
ds.merge("dev")
ds.x.append(5)
pending = ds.has_head_changes
ds.reset()
details = ds.get_commit_details(first)
ds.checkout("gone", create=True)
ds.checkout("main")
ds.delete_branch("gone")
result = {"before": before, "after": ds.x.numpy().ravel().tolist(),
          "branches": sorted(ds.branches), "branch": ds.branch, "pending": pending,
          "clean": ds.has_head_changes, "message": details["message"],
          "commits": [c["message"].split()[0] for c in ds.commits][-2:]}
"""

CORPUS["deepcopy_history"] = """
ds = deeplake.empty(argv[0] + "/src", overwrite=True)
ds.create_tensor("img", htype="image", sample_compression="png")
ds.create_tensor("g/lbl", htype="class_label", class_names=["a", "b"])
ds.extend({"img": [np.full((3, 3, 3), i, np.uint8) for i in range(4)], "g/lbl": [0, 1, 1, 0]})
ds.commit("one")
ds.checkout("dev", create=True)
ds["g/lbl"][0] = 1
ds.commit("two")
ds.checkout("main")
copy = deeplake.deepcopy(argv[0] + "/src", argv[0] + "/copy", progressbar=False)
main = copy["g/lbl"].numpy().ravel().tolist()
copy.checkout("dev")
only = deeplake.deepcopy(ds, argv[0] + "/only", tensors=["g"], verbose=False)
only["g/lbl"].append(1)
try:
    deeplake.deepcopy(argv[0] + "/src", argv[0] + "/only")
    again = None
except Exception:
    again = "refused"
result = {"branches": sorted(copy.branches), "main": main,
          "dev": copy["g/lbl"].numpy().ravel().tolist(), "img": int(copy.img.numpy().sum()),
          "only": sorted(only.tensors), "only_len": len(only["g/lbl"]), "again": again}
"""

CORPUS["split_size_read_only_delete"] = """
ds = deeplake.empty(argv[0] + "/a", overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("t", htype="text")
ds.extend({"x": list(range(10)), "t": [str(i) for i in range(10)]})
train, test = ds.random_split([0.75, 0.25])
parts = ds[1:8].random_split([4, 2, 1])
values = sorted(train.x.numpy().ravel().tolist() + test.x.numpy().ravel().tolist())
part_values = sorted(v for p in parts for v in p.x.numpy().ravel().tolist())
ds.read_only = True
try:
    ds.x.append(1)
    refused = None
except Exception:
    refused = "refused"
ro = ds.read_only
ds = deeplake.load(argv[0] + "/a")  # deeplake 3.9.52 cannot set read_only back to False
ds.x.append(10)
ds.t.append("10")
size = ds.size_approx()
ds.allow_delete = False
try:
    ds.delete()
    kept = None
except Exception:
    kept = deeplake.exists(argv[0] + "/a")
flag = deeplake.load(argv[0] + "/a").allow_delete
ds.allow_delete = True
ds.delete()
result = {"split": [len(train), len(test)], "parts": [len(p) for p in parts],
          "all": values, "part_values": part_values,
          "refused": refused, "len": len(ds.x), "size": size, "kept": kept,
          "flag": flag, "gone": not deeplake.exists(argv[0] + "/a"), "ro": ro}
"""

CORPUS["clear_and_small_accessors"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("seq", htype="sequence[class_label]")
ds.create_tensor("l", htype="class_label", class_names=["a", "b"])
ds.x.extend(list(range(300)))
ds.l.extend([0, 1, 1])
ds.commit("filled")
ds.x.clear()
ds.x.extend([7, 8])
ds.l.pop(0)  # (deeplake 3.9.52 cannot append to a class_label tensor cleared after a commit)
ds.x.pop(0)
again = deeplake.load(argv[0])
result = {"x": again.x.numpy().ravel().tolist(), "l": again.l.numpy().ravel().tolist(),
          "base": [ds.seq.base_htype, ds.l.base_htype],
          "fetch": ds.x.numpy(fetch_chunks=True).ravel().tolist(),
          "old": len(deeplake.load(argv[0] + "@" + ds.commits[0]["commit"]).x)}
"""

CORPUS["copy_without_history"] = """
ds = deeplake.empty(argv[0] + "/src", overwrite=True)
ds.create_tensor("img", htype="image", sample_compression="png")
ds.create_tensor("lbl", htype="class_label", class_names=["x", "y"])
ds.create_tensor("t", htype="text")
ds.extend({"img": [np.full((4, 3, 3), i * 10, np.uint8) for i in range(12)],
           "lbl": [i % 2 for i in range(12)], "t": [str(i) for i in range(12)]})
ds.info.update(desc="d")
ds.commit("c")
ds.t[0] = "zero"
whole = deeplake.copy(argv[0] + "/src", argv[0] + "/whole", progressbar=False)
part = ds[[5, 3, 4, 11]].copy(argv[0] + "/part", progressbar=False)
some = deeplake.copy(ds, argv[0] + "/some", tensors=["t"], progressbar=False)
whole.t.append("more")
again = deeplake.load(argv[0] + "/whole")
result = {"len": len(again), "t": again.t.text(), "lbl": again.lbl.numpy().ravel().tolist(),
          "info": dict(again.info), "names": list(again.lbl.info.class_names),
          "commits": len(again.commits), "img": int(again.img.numpy().sum()),
          "part": [part.t.text(), part.lbl.numpy().ravel().tolist(), int(part.img.numpy().sum())],
          "some": sorted(some.tensors)}
"""

CORPUS["ingest_classification"] = """
import os, shutil
def folder(root, layout):
    for rel in layout:
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        if rel.endswith(".png"):
            shutil.copy(argv[1], os.path.join(root, rel))
        else:
            with open(os.path.join(root, rel), "w") as f:
                f.write("not a picture")
folder(argv[0] + "/flat", ["dog/d1.png", "cat/c1.png", "cat/c2.png", "cat/readme.txt",
                           "ant/a1.png", ".hidden/h.png"])
folder(argv[0] + "/split", ["train/cat/1.png", "train/dog/2.png", "val/dog/3.png",
                            "val/cow/4.png"])
def rows(ds, images, labels):
    names = ds[labels].info.class_names
    pairs = [(os.path.basename(ds[images][i].sample_info.get("filename", "")),
              names[int(ds[labels][i].numpy()[0])], list(ds[images][i].shape))
             for i in range(len(ds[images]))]
    return sorted(pairs)
flat = deeplake.ingest_classification(argv[0] + "/flat", argv[0] + "/ds", progressbar=False,
                                      summary=False)
m = flat.images.meta
result = {
    "tensors": sorted(flat.tensors), "len": len(flat),
    "meta": [m.htype, m.sample_compression, str(m.dtype), flat.labels.htype],
    "class_names": list(flat.labels.info.class_names),
    "rows": rows(flat, "images", "labels"),
    "pixels": sorted(int(a.sum()) for a in flat.images.numpy(aslist=True)),
}
again = deeplake.ingest_classification(argv[0] + "/flat", argv[0] + "/ds", shuffle=False,
                                       image_params={"name": "pics"}, progressbar=False,
                                       summary=False, overwrite=True)
split = deeplake.ingest_classification(argv[0] + "/split", argv[0] + "/split_ds",
                                       progressbar=False, summary=False)
try:
    deeplake.ingest_classification(argv[0] + "/missing", argv[0] + "/x", progressbar=False)
    missing = None
except Exception:
    missing = "refused"
os.makedirs(argv[0] + "/empty")
try:
    deeplake.ingest_classification(argv[0] + "/empty", argv[0] + "/y", progressbar=False)
    empty = None
except Exception:
    empty = "refused"
loaded = deeplake.load(argv[0] + "/split_ds")
result.update({
    "renamed": sorted(again.tensors), "again": rows(again, "pics", "labels"),
    "split": sorted(loaded.tensors), "split_groups": [g for g in sorted(loaded.groups)
                                                     if not g.startswith("__temp")],
    "split_names": list(loaded["val/labels"].info.class_names),
    "train": rows(loaded, "train/images", "train/labels"),
    "val": rows(loaded, "val/images", "val/labels"),
    "errors": [missing, empty],
})
"""

from tests.interop.idioms_attributes import ATTRIBUTE_CORPUS  # noqa: E402
from tests.interop.idioms_compute import COMPUTE_CORPUS  # noqa: E402  (the transforms' own file)
from tests.interop.idioms_queries import QUERY_CORPUS  # noqa: E402

CORPUS.update(COMPUTE_CORPUS)
CORPUS.update(ATTRIBUTE_CORPUS)
CORPUS.update(QUERY_CORPUS)
