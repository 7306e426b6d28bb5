"""The corpus entries for ``deeplake.compute`` transforms (see idioms.py): each runs with
deeplake 3.9.52 and with shoal imported under that name, and must give the same result."""

from __future__ import annotations

COMPUTE_CORPUS: dict[str, str] = {}

COMPUTE_CORPUS["compute_fill"] = """
@deeplake.compute
def fill(sample_in, samples_out, mul):
    samples_out.x.append(np.full((2,), sample_in * mul, np.int64))
    samples_out.t.append(str(sample_in))
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("t", htype="text")
fill(mul=3).eval([1, 2, 3], ds, num_workers=0)
fill(2).eval(np.arange(4, 20), ds, num_workers=2, scheduler="threaded", progressbar=False)
result = {"x": ds.x.numpy().tolist(), "t": ds.t.text(), "len": len(ds)}
"""

COMPUTE_CORPUS["compute_samples_out_forms"] = """
@deeplake.compute
def forms(sample_in, samples_out, offset=0):
    if sample_in == 3:
        return  # no rows for this item
    samples_out.append({"g/x": sample_in + offset, "label": sample_in % 2})
    samples_out["g/x"].append(sample_in * 10)
    samples_out.label.append(7)
    samples_out.extend({"g/x": [1, 2], "label": np.array([0, 1])})
    samples_out.g.y.extend(np.zeros((4, 2), np.float32) + sample_in)
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("g/x", dtype="int32")
ds.create_tensor("g/y", dtype="float32")
ds.create_tensor("label", htype="class_label", class_names=["even", "odd"])
forms(100).eval(list(range(6)), ds, progressbar=False, num_workers=3)
result = {"x": ds["g/x"].numpy().ravel().tolist(), "y": ds.g.y.numpy()[:, 0].tolist(),
          "label": ds.label.numpy().ravel().tolist(), "len": len(ds),
          "names": list(ds.label.info.class_names)}
"""

COMPUTE_CORPUS["compute_compose"] = """
@deeplake.compute
def split(sample_in, samples_out, k):
    for j in range(k):
        samples_out.x.append(np.array([sample_in, j]))
        samples_out.t.append("%d-%d" % (sample_in, j))
@deeplake.compute
def scale(sample_in, samples_out, by):
    samples_out.x.append(sample_in.x.numpy() * by)
    samples_out.t.append(str(sample_in.t.numpy()) + "!")
@deeplake.compute
def keep_odd(sample_in, samples_out):
    if int(sample_in.x.numpy()[1]) // 10 % 2 == 0:
        samples_out.x.append(sample_in.x.numpy())
        samples_out.t.append(sample_in["t"].numpy())
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("t", htype="text")
pipeline = deeplake.compose([split(3), scale(by=10), keep_odd()])
pipeline.eval([1, 2, 5], ds, progressbar=False)
deeplake.compose([split(k=1)]).eval([9], ds, num_workers=2, progressbar=False)
result = {"x": ds.x.numpy().tolist(), "t": ds.t.text(), "stages": len(pipeline)}
"""

COMPUTE_CORPUS["compute_dataset_input"] = """
src = deeplake.empty(argv[0] + "/src", overwrite=True)
src.create_tensor("images", htype="image", sample_compression="png")
src.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
src.extend({"images": [np.full((4, 3, 3), i, np.uint8) for i in range(6)],
            "labels": [0, 1, 2, 0, 1, 2]})
@deeplake.compute
def flip(sample_in, samples_out):
    samples_out.append({"images": np.flip(sample_in.images.numpy(), axis=0),
                        "labels": sample_in.labels.numpy()})
out = deeplake.empty(argv[0] + "/out", overwrite=True)
out.create_tensor("images", htype="image", sample_compression="png")
out.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
flip().eval(src, out, num_workers=2, progressbar=False)
flip().eval(src[[4, 1]], out, progressbar=False)
plain = deeplake.empty(argv[0] + "/plain", overwrite=True)
plain.create_tensor("images", htype="image", sample_compression="png")
plain.create_tensor("ids", dtype="int64")
plain.create_tensor("kept")
plain.extend({"images": [np.full((2, 2, 3), i, np.uint8) for i in range(5)],
              "ids": list(range(5)), "kept": np.arange(5.0)})
@deeplake.compute
def renumber(sample_in, samples_out):
    if int(sample_in.ids.numpy()[0]) != 1:
        samples_out.ids.append(100 + int(sample_in.ids.numpy()[0]))
        samples_out.images.append(sample_in.images.numpy() + 1)
renumber().eval(plain, progressbar=False, skip_ok=True)  # in place: written tensors replaced
again = deeplake.load(argv[0] + "/plain")
result = {"out_labels": out.labels.numpy().ravel().tolist(), "out_len": len(out),
          "out_sums": [int(a.sum()) for a in out.images.numpy(aslist=True)],
          "ids": again.ids.numpy().ravel().tolist(), "len": len(again), "max": again.max_len,
          "kept": again.kept.numpy().ravel().tolist(),
          "sums": [int(a.sum()) for a in again.images.numpy(aslist=True)],
          "shape": list(again.images[0].numpy().shape)}
"""

COMPUTE_CORPUS["compute_files_and_arrays"] = """
@deeplake.compute
def ingest(path, samples_out, label):
    samples_out.images.append(deeplake.read(path))
    samples_out.labels.append(label)
@deeplake.compute
def rows(row, samples_out):
    samples_out.labels.append(int(row.sum()))
    samples_out.images.append((np.zeros((2, 2, 3), np.uint8) + row[0]).astype(np.uint8))
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("labels", htype="class_label")
ingest(1).eval([argv[1]] * 3, ds, progressbar=False, num_workers=2)
rows().eval(np.arange(6).reshape(3, 2), ds, progressbar=False)
result = {"shapes": [[int(d) for d in ds.images[i].numpy().shape] for i in range(len(ds))], "labels": ds.labels.numpy().ravel().tolist(),
          "sum": int(ds.images[0].numpy().sum()), "len": len(ds)}
"""

COMPUTE_CORPUS["compute_errors"] = """
@deeplake.compute
def picky(sample_in, samples_out):
    if sample_in == "bad":
        raise ValueError("cannot take it")
    samples_out.x.append(int(sample_in))
    samples_out.t.append("n" + sample_in)
def names(e):
    return [c.__name__ for c in type(e).__mro__]
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("t", htype="text")
found = {}
try:
    picky().eval(["bad", "1"], ds, progressbar=False)
except Exception as e:
    found["first"] = ["TransformError" in names(e), e.index, type(e.__cause__).__name__]
found["after_first"] = [len(ds.x), len(ds.t)]
try:
    picky().eval(["1", "2", "bad", "4"], ds, progressbar=False, num_workers=2)
except Exception as e:
    found["middle"] = ["TransformError" in names(e), e.index, "at index 2" in str(e)]
@deeplake.compute
def half(sample_in, samples_out):
    samples_out.x.append(sample_in)
try:
    half().eval([1], ds, progressbar=False)
except Exception as e:
    found["missing"] = ["TransformError" in names(e), e.index]
@deeplake.compute
def uneven(sample_in, samples_out):
    samples_out.x.extend([1, 2])
    samples_out.t.append("a")
try:
    uneven().eval([1], ds, progressbar=False)
except Exception as e:
    found["uneven"] = ["TransformError" in names(e), e.index]
try:
    deeplake.compose([])
except Exception as e:
    found["compose"] = "TransformError" in names(e)
try:
    picky().eval(iter(["1"]), ds, progressbar=False)
except Exception as e:
    found["generator"] = "TransformError" in names(e)
other = deeplake.empty(argv[0] + "_2", overwrite=True)
other.create_tensor("x", dtype="int64")
other.create_tensor("t", htype="text")
picky().eval(["5", "bad", "6", "bad"], other, progressbar=False, ignore_errors=True)
half().eval([8, 9], other, progressbar=False, skip_ok=True)
other.t.append("extra")
try:
    half().eval([3], other, progressbar=False)
except Exception as e:
    found["lengths"] = "TransformError" in names(e)
half().eval([4], other, progressbar=False, check_lengths=False)
result = {"found": found, "x": other.x.numpy().ravel().tolist(), "t": other.t.text()}
"""

COMPUTE_CORPUS["compute_links_sequences_labels"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("img", htype="link[image]", sample_compression="png")
ds.create_tensor("seq", htype="sequence[class_label]")
ds.create_tensor("lab", htype="class_label")
@deeplake.compute
def describe(i, samples_out, path):
    samples_out.img.append(deeplake.link(path))
    samples_out.seq.append([i, i + 1, i])
    samples_out.lab.append(["cat", "dog", "eel"][i % 3])
describe(argv[1]).eval([0, 1, 2, 4], ds, num_workers=2, progressbar=False)
result = {"img": [list(a.shape) for a in ds.img.numpy(aslist=True)],
          "seq": [np.asarray(a).ravel().tolist() for a in ds.seq.numpy(aslist=True)],
          "lab": ds.lab.numpy().ravel().tolist(), "names": list(ds.lab.info.class_names)}
"""

COMPUTE_CORPUS["compute_copy_samples"] = """
src = deeplake.empty(argv[0] + "/src", overwrite=True)
src.create_tensor("images", htype="image", sample_compression="png")
src.create_tensor("labels", htype="class_label", class_names=["a", "b"])
src.create_tensor("t", htype="text")
src.create_tensor("j", htype="json")
src.extend({"images": [np.full((3, 2, 3), i, np.uint8) for i in range(3)],
            "labels": [0, 1, 1], "t": ["x", "y", "z"], "j": [{"i": 0}, {"i": 1}, {"i": 2}]})
out = deeplake.empty(argv[0] + "/out", overwrite=True)
out.create_tensor_like("images", src.images)
out.create_tensor_like("labels", src.labels)
out.create_tensor("t", htype="text")
out.create_tensor("j", htype="json")
@deeplake.compute
def copy(sample_in, samples_out):
    samples_out.images.append(sample_in.images)
    samples_out.labels.append(sample_in.labels)
    samples_out.t.append(sample_in.t)
    samples_out.j.append(sample_in.j)
copy().eval(src, out, num_workers=2, progressbar=False)
result = {"sums": [int(a.sum()) for a in out.images.numpy(aslist=True)],
          "labels": out.labels.numpy().ravel().tolist(),
          "t": [str(out.t[i].numpy().ravel()[0]) for i in range(3)],
          "j": [out.j[i].numpy().ravel()[0]["i"] for i in range(3)]}
"""
