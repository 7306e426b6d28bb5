"""dl_side.py commands that make datasets with deeplake: write-all (every htype and compression),
write-versioned (commits and branches), append (samples from a JSON spec) and create-empty.
"""

from __future__ import annotations

import json

from dl_common import ARRAY_HTYPES_JSON, ARRAY_HTYPES_TEXT, image, open_ds
from dl_offline import deeplake, np

# --------------------------------------------------------------------------------------------
# write-all


def write_all(path: str) -> None:
    rng = np.random.default_rng(1234)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    with ds:
        # generic float32, varying shapes, several chunks
        ds.create_tensor("gen", htype="generic", dtype="float32", max_chunk_size=1000)
        for _ in range(24):
            shape = (int(rng.integers(1, 9)), int(rng.integers(1, 12)))
            ds.gen.append(rng.standard_normal(shape).astype(np.float32))

        ds.create_tensor("fixed", htype="generic", dtype="int16", max_chunk_size=2000)
        ds.fixed.extend(rng.integers(-30000, 30000, size=(60, 4, 5)).astype(np.int16))

        ds.create_tensor("flags", htype="generic", dtype="bool", max_chunk_size=2000)
        for _ in range(40):
            ds.flags.append(rng.integers(0, 2, size=(int(rng.integers(1, 50)),)).astype(bool))

        ds.create_tensor(
            "labels", htype="class_label", class_names=["cat", "dog", "bird"], max_chunk_size=2000
        )
        ds.labels.extend([0, 1, 2, 1, 0])
        ds.labels.extend(["dog", "bird", "cat"])
        ds.labels.append("fish")  # a new name: class_names grows
        ds.labels.append(np.uint32(2))
        for _ in range(600):
            ds.labels.append(int(rng.integers(0, 4)))

        ds.create_tensor("img_png", htype="image", sample_compression="png", max_chunk_size=8000)
        for _ in range(12):
            h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
            ds.img_png.append(image(rng, h, w, 3))
        ds.img_png.append(image(rng, 17, 23, 1))  # grayscale (H, W, 1)
        ds.img_png.append(image(rng, 20, 20, 3))

        ds.create_tensor("img_jpg", htype="image", sample_compression="jpeg", max_chunk_size=5000)
        for _ in range(12):
            h, w = int(rng.integers(8, 48)), int(rng.integers(8, 48))
            ds.img_jpg.append(image(rng, h, w, 3))

        ds.create_tensor(
            "raw_img", htype="image", dtype="uint8", sample_compression=None, max_chunk_size=20000
        )
        for _ in range(10):
            h, w = int(rng.integers(20, 40)), int(rng.integers(20, 40))
            ds.raw_img.append(image(rng, h, w, 3))

        ds.create_tensor("txt", htype="text", max_chunk_size=2000)
        words = ["hello", "wörld", "日本語のテキスト", "emoji 🚀✨", "", "naïve café", "Ελληνικά"]
        for _ in range(80):
            n = int(rng.integers(0, 6))
            ds.txt.append(" ".join(words[int(j)] for j in rng.integers(0, len(words), size=n)))

        ds.create_tensor("js", htype="json", max_chunk_size=2000)
        for i in range(40):
            ds.js.append(
                {
                    "i": i,
                    "name": f"sample-{i}-ü",
                    "tags": [f"t{j}" for j in range(i % 4)],
                    "nested": {"a": [1, 2.5, None, True], "b": {"c": "d" * (i % 7)}},
                    "score": float(i) / 7.0,
                }
            )

        ds.create_tensor("emb", htype="embedding", dtype="float32", max_chunk_size=1000)
        ds.emb.extend(rng.standard_normal((50, 16)).astype(np.float32))

        ds.create_tensor("boxes", htype="bbox", dtype="float32", max_chunk_size=2000)
        for _ in range(40):
            n = int(rng.integers(0, 6))
            ds.boxes.append((rng.random((n, 4)) * 100).astype(np.float32))

        ds.create_tensor(
            "lz4", htype="generic", dtype="float32", chunk_compression="lz4", max_chunk_size=1000
        )
        for _ in range(30):
            n = int(rng.integers(10, 80))
            ds.lz4.append(np.round(rng.standard_normal((n,)), 1).astype(np.float32))

        ds.create_tensor(
            "lz4u8", htype="generic", dtype="uint8", chunk_compression="lz4", max_chunk_size=600
        )
        for i in range(30):
            h, w = int(rng.integers(4, 30)), int(rng.integers(4, 30))
            ds.lz4u8.append((rng.integers(0, 16, size=(h, w)) * (i % 3 + 1)).astype(np.uint8))

        # tiled samples: uncompressed generic and png
        ds.create_tensor("big", htype="generic", dtype="uint8", tiling_threshold=1000)
        ds.big.append(rng.integers(0, 256, size=(5, 6, 1), dtype=np.uint8))
        ds.big.append(rng.integers(0, 256, size=(40, 30, 1), dtype=np.uint8))  # tiled
        ds.big.append(rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8))
        ds.big.append(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))  # tiled
        ds.big.append(rng.integers(0, 256, size=(7, 2, 3), dtype=np.uint8))

        ds.create_tensor("bigpng", htype="image", sample_compression="png", tiling_threshold=1000)
        ds.bigpng.append(image(rng, 10, 12, 3))
        ds.bigpng.append(image(rng, 70, 50, 3))  # tiled: each tile a standalone png
        ds.bigpng.append(image(rng, 9, 9, 3))

        ds.info.update(
            description="shoal interop: every htype",
            stuff={"nested": [1, 2, {"x": "y"}], "ok": True},
            version_tag="ü-1",
        )
        ds.gen.info.update(units="m/s", scale=0.5)
        ds.img_png.info.update(source="synthetic")
    ds.flush()


# --------------------------------------------------------------------------------------------
# write-versioned


def write_versioned(path: str) -> dict:
    rng = np.random.default_rng(99)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    commits = {}
    with ds:
        ds.create_tensor("x", htype="generic", dtype="int32", max_chunk_size=400)
        ds.create_tensor("lbl", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("img", htype="image", sample_compression="png", max_chunk_size=4000)
        for i in range(20):
            ds.append(
                {
                    "x": np.arange(i % 5 + 1, dtype=np.int32) + 100 * i,
                    "lbl": i % 2,
                    "txt": f"main-{i}",
                    "img": image(rng, 6 + i % 3, 7, 3),
                }
            )
        ds.info.update(stage="first")
    commits["first"] = ds.commit("first commit")

    with ds:
        for i in range(20, 26):
            ds.append(
                {
                    "x": np.full((3,), i, dtype=np.int32),
                    "lbl": "c",  # new class name after the first commit
                    "txt": f"main-{i}-ü",
                    "img": image(rng, 5, 5, 3),
                }
            )
        # copy-on-write updates of samples stored in chunks of the first commit
        ds.x[1] = np.array([-1, -2, -3, -4], dtype=np.int32)
        ds.txt[0] = "updated-0"
        ds.img[2] = image(rng, 11, 4, 3)
        ds.info.update(stage="second")
    commits["second"] = ds.commit("second commit")

    ds.checkout("dev", create=True)
    with ds:
        for i in range(26, 30):
            ds.append(
                {
                    "x": np.full((2,), -i, dtype=np.int32),
                    "lbl": 0,
                    "txt": f"dev-{i}",
                    "img": image(rng, 4, 6, 3),
                }
            )
        ds.x[21] = np.array([7, 7], dtype=np.int32)
        ds.info.update(stage="dev")
    commits["dev"] = ds.commit("dev commit")

    ds.checkout("main")
    with ds:
        ds.append(
            {
                "x": np.array([42], dtype=np.int32),
                "lbl": 1,
                "txt": "uncommitted on main",
                "img": image(rng, 3, 3, 3),
            }
        )
    ds.flush()
    return commits


# --------------------------------------------------------------------------------------------
# append


def _spec_sample(t, s):
    htype = t.htype
    if htype in ARRAY_HTYPES_TEXT:
        return s
    if htype in ARRAY_HTYPES_JSON:
        return s
    if isinstance(s, str):  # class_label names
        return s
    if isinstance(s, dict):
        if "image_random" in s:
            h, w, c, seed = s["image_random"]
            return image(np.random.default_rng(seed), h, w, c)
        if "array" in s:
            arr = np.asarray(s["array"], dtype=s.get("dtype") or t.meta.dtype)
            return arr.reshape(s["shape"]) if "shape" in s else arr
        raise ValueError(f"unknown sample spec {s!r}")
    dtype = t.meta.dtype
    return np.asarray(s, dtype=dtype) if dtype not in (None, "str", "Any", "List") else s


def append(path: str, spec_text: str, branch: str | None = None) -> None:
    """Append samples described by a JSON spec, then flush (and commit if "__commit__" is set).

    Spec: {tensor_name: [sample, ...]} or {tensor_name: {"dtype": D, "samples": [...]}}; a sample
    is a nested list (cast to D or the tensor's dtype), {"array": nested, "dtype": D,
    "shape": [...]}, {"image_random": [h, w, c, seed]} (a uint8 picture), a str (text, or a
    class_label name) or, for json tensors, any JSON value as is. Every sample is converted
    before the first append, so a bad spec leaves the dataset untouched.
    """
    if spec_text.startswith("@"):
        with open(spec_text[1:], encoding="utf-8") as f:
            spec = json.load(f)
    else:
        spec = json.loads(spec_text)
    ds = open_ds(path, read_only=False)
    if branch:
        ds.checkout(branch)
    plan = []
    for name, samples in spec.items():
        if name.startswith("__"):
            continue
        t = ds[name]
        if isinstance(samples, dict) and "samples" in samples:
            dtype = samples.get("dtype")
            values = [
                np.asarray(s, dtype=dtype)
                if dtype and not isinstance(s, (str, dict))
                else _spec_sample(t, s)
                for s in samples["samples"]
            ]
        else:
            values = [_spec_sample(t, s) for s in samples]
        plan.append((t, values))
    with ds:
        for t, values in plan:
            for v in values:
                t.append(v)
    if spec.get("__commit__"):
        ds.commit(str(spec["__commit__"]))
    ds.flush()


def create_empty(path: str, spec_arg: str) -> None:
    """A dataset of empty tensors, one per ``create_tensor`` call of the spec (inline JSON or
    @file), to compare the metas, infos and hidden companions deeplake writes with shoal's."""
    if spec_arg.startswith("@"):
        with open(spec_arg[1:], encoding="utf-8") as f:
            spec = json.load(f)
    else:
        spec = json.loads(spec_arg)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    with ds:
        for name, kwargs in spec.items():
            ds.create_tensor(name, **kwargs)
