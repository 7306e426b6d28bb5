"""Side-by-side snippets (see idioms.py) for deeplake's smaller dataset and tensor attributes:
shape intervals, ``like``, view attributes, ``ignore_errors``, indexing inside samples, and
deleting and renaming groups."""

from __future__ import annotations

ATTRIBUTE_CORPUS: dict[str, str] = {}

ATTRIBUTE_CORPUS["shape_interval"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="uint8")
ds.x.extend([np.zeros((5, 5), np.uint8), np.zeros((6, 4), np.uint8), np.zeros((2, 7), np.uint8)])
seen = [str(ds.x.shape_interval), str(ds.x[0:2].shape_interval), str(ds.x[[2, 0]].shape_interval)]
ds.x[1] = np.zeros((1, 1), np.uint8)  # the bounds the meta keeps do not shrink
seen += [str(ds.x.shape_interval), str(ds.x[1:3].shape_interval), str(ds.x[1].shape_interval)]
iv = ds.x.shape_interval
seen += [list(iv.lower), list(iv.upper), iv.is_dynamic, list(iv.astuple()), repr(iv)]
ds.create_tensor("fixed", dtype="float32")
ds.fixed.extend(np.ones((3, 2), np.float32))
seen += [str(ds.fixed.shape_interval), ds.fixed.shape_interval.is_dynamic, str(ds.fixed[5:].shape_interval)]
ds.create_tensor("s", htype="sequence[generic]", dtype="int32")
ds.s.extend([[np.ones(2, np.int32)] * 3, [np.ones(4, np.int32)], [np.ones(2, np.int32)] * 2])
seen += [str(ds.s.shape_interval), str(ds.s[0:2].shape_interval), str(ds.s[[2]].shape_interval)]
result = seen
"""


ATTRIBUTE_CORPUS["like"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x"); ds.x.append(1)
ds.create_group("g"); ds.g.create_tensor("lab", htype="class_label", class_names=["a"])
ds.create_tensor("img", htype="image", sample_compression="png")
ds.info.update(k=1); ds.img.info.update(z=2)
ds2 = deeplake.like(argv[0] + "_like", ds, overwrite=True)
ds3 = deeplake.like(argv[0] + "_like3", argv[0], tensors=["img", "g/lab"])
ds4 = deeplake.like(argv[0] + "_like4", ds[0:1])
result = [sorted(ds2.tensors), len(ds2), sorted(ds3.tensors), ds3.info["k"], ds3.img.info["z"],
          ds3.img.meta.sample_compression, ds3["g/lab"].info.class_names, len(ds3),
          sorted(ds4.tensors), sorted(deeplake.load(argv[0] + "_like3").tensors)]
"""


ATTRIBUTE_CORPUS["view_attributes"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int32")
ds.create_tensor("y", dtype="int32")
ds.x.extend(np.arange(5, dtype=np.int32))
ds.y.extend([np.zeros(2, np.int32), np.zeros(3, np.int32)])

def vals(v):
    return [[e.value.start, e.value.stop, e.value.step] if isinstance(e.value, slice)
            else list(e.value) if isinstance(e.value, tuple) else e.value
            for e in v.index.values]

result = [ds.num_samples, ds[1:3].num_samples, ds.x.num_samples, ds.x[1:3].num_samples,
          ds.x.is_dynamic, ds.y.is_dynamic, ds.y[0:1].is_dynamic, vals(ds), vals(ds[1]),
          vals(ds[1:3]), vals(ds[[3, 1]]), vals(ds.x[2]), ds.index.is_trivial(),
          ds[1:].index.is_trivial(), len(ds[1:2].no_view_dataset), ds.x.is_link,
          [int(s.index.values[0].value) for s in ds]]
"""


ATTRIBUTE_CORPUS["extend_ignore_errors"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int32")
ds.create_tensor("t", htype="text")
ds.extend({"x": [1, "bad", 3], "t": ["a", "b", "c"]}, ignore_errors=True)
r = [[a.tolist() for a in ds.x.numpy(aslist=True)], ds.t.text(), len(ds)]
ds.x.extend([4, "bad", np.zeros((2, 2))], ignore_errors=True)
ds.x.extend([[5]], progressbar=False)
ds.t.extend(["d", "e", "f", "g"], progressbar=False, ignore_errors=False)
try:
    ds.x.extend(["bad"])
except Exception:
    r.append("raised")
result = r + [[a.tolist() for a in ds.x.numpy(aslist=True)], len(ds.x), ds.t.text()]
"""


ATTRIBUTE_CORPUS["index_inside_samples"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int32")
ds.x.extend(np.arange(2 * 4 * 5, dtype=np.int32).reshape(2, 4, 5))
ds.create_tensor("d", dtype="int32")
ds.d.extend([np.zeros((3, 4), np.int32), np.ones((5, 4), np.int32)])
result = [ds.x[0, 1:3].numpy().tolist(), ds.x[:, 0, 0].numpy().tolist(),
          ds.x[1][2:, ::2].numpy().tolist(), ds.x[0:2, 3].numpy().tolist(),
          ds.x[1, -1, -1].numpy().tolist(), list(ds.x[0, 1:3].shape),
          ds.d[:, 0].numpy().tolist(), list(ds.d[1][2:].shape),
          [a.tolist() for a in ds.d[:, 3:].numpy(aslist=True)], ds[1].x[0].numpy().tolist()]
ds.x[0, 1:3] = np.full((2, 5), 7, np.int32)
result.append(ds.x[0].numpy()[:, 0].tolist())
# (deeplake gives ds.x[:, 0].shape as (2, 4, 5), the shape without the inner index; shoal
# gives (2, 5), the shape of what numpy() returns)
"""


ATTRIBUTE_CORPUS["delete_and_rename_groups"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_group("train")
ds.train.create_tensor("images", dtype="uint8")
ds.train.create_tensor("labels", htype="class_label", class_names=["a", "b"])
ds.create_group("train/extra")
ds["train/extra"].create_tensor("z")
# (no sibling group whose name starts like "train": deeplake 3.9.52 renames and deletes by
# name prefix, and its rename_group then raises KeyError; shoal's test_groups checks that case)
ds.create_tensor("top")
ds.train.images.extend(np.ones((3, 2, 2), np.uint8))
ds.train.labels.extend([0, 1, 1])
ds["train/extra/z"].extend([1, 2, 3])
ds.commit("groups")
ds.rename_group("train", "training")
r = [sorted(ds.tensors), sorted(ds.groups), ds["training/labels"].numpy().ravel().tolist(),
     ds.training.extra.z.numpy().ravel().tolist(), ds["training/labels"].info.class_names]
ds.commit("renamed")
ds2 = deeplake.load(argv[0])
r += [sorted(ds2.tensors), sorted(ds2.training.tensors)]
ds2.delete_group("training/extra")
r += [sorted(ds2.tensors), sorted(ds2.groups)]
ds2.delete_group("training")
r += [sorted(ds2.tensors), sorted(ds2.groups), len(ds2.top)]
result = r
"""


ATTRIBUTE_CORPUS["tobytes_and_sample_indices"] = """
from PIL import Image
Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(argv[0] + ".png")
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("img", htype="image", sample_compression="png")
ds.create_tensor("x", dtype="int32")
ds.create_tensor("c", dtype="int32", chunk_compression="lz4")
ds.create_tensor("t", htype="text")
ds.create_tensor("j", htype="json")
ds.append({"img": deeplake.read(argv[0] + ".png"), "x": np.arange(3, dtype=np.int32),
           "c": np.arange(3, dtype=np.int32), "t": "hi", "j": {"a": 1}})
ds.append({"img": deeplake.read(argv[0] + ".png"), "x": np.arange(2, dtype=np.int32),
           "c": np.arange(2, dtype=np.int32), "t": "", "j": {}})
with open(argv[0] + ".png", "rb") as f:
    png = f.read()
r = [ds.img[0].tobytes() == png, list(ds.x[1].tobytes()), ds.t[0].tobytes().decode(),
     ds.j[0].tobytes().decode(), ds.t[1].tobytes().decode()]
for bad in (lambda: ds.c[0].tobytes(), lambda: ds.x.tobytes()):
    try:
        bad()
        r.append("no error")
    except Exception:
        r.append("raised")
# (not ds.x[1:].sample_indices: deeplake 3.9.52 gives [0, 1] there, shoal [1])
r += [list(ds[[1, 0]].sample_indices), list(ds[0:2].sample_indices), ds.x.hidden]
result = r
"""


ATTRIBUTE_CORPUS["grey_arrays_into_image_tensors"] = """
ds = deeplake.empty(argv[0], overwrite=True)
cases = {"png": {"htype": "image", "sample_compression": "png"},
         "jpeg": {"htype": "image", "sample_compression": "jpeg"},
         "none": {"htype": "image", "sample_compression": None},
         "lz4": {"htype": "image", "sample_compression": "lz4"},
         "chunk_png": {"htype": "image", "chunk_compression": "png"},
         "generic_png": {"sample_compression": "png"},
         "batch_none": {"htype": "image", "sample_compression": None},
         "batch_png": {"htype": "image", "sample_compression": "png"},
         "list_none": {"htype": "image", "sample_compression": None}}
for name, kwargs in cases.items():
    ds.create_tensor(name, **kwargs)
grey = np.arange(30, dtype=np.uint8).reshape(5, 6)
for name in ["png", "jpeg", "none", "lz4", "chunk_png", "generic_png"]:
    ds[name].append(grey)
ds.batch_none.extend(np.stack([grey] * 3))
ds.batch_png.extend(np.stack([grey] * 3))
ds.list_none.extend([grey, grey])
ds.png.append(np.zeros((2, 3, 1), np.uint8))
result = {name: [list(ds[name].shape), list(ds[name][0].numpy().shape)] for name in cases}
result["values"] = ds.png[0].numpy().ravel().tolist()
"""
