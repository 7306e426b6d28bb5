"""The dataset shoal writes for deeplake to read (every htype, compressions, infos, labels), the
samples expected back, what deeplake appends to a copy of it, and shoal-side read helpers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import shoal

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
LOSSY = {"img_jpg"}
KIND = {"txt": "text", "js": "json"}
DS_INFO = {
    "description": "written by shoal",
    "nested": {"a": [1, 2.5, {"b": None}], "ok": True},
    "unicode": "ü✓",
}
GEN_INFO = {"units": "m/s", "scale": 0.5}
CLASS_NAMES = ["cat", "dog", "bird"]


def kind_of(name: str) -> str:
    return KIND.get(name, "array")


def image(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    """A smooth-ish uint8 picture (gradient + noise), so jpeg behaves like on a photo."""
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([(xx * (3 + k) + yy * (5 - k) + 40 * k) % 256 for k in range(c)], axis=-1)
    arr = arr.astype(np.int32) + rng.integers(-12, 13, size=arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def build_expected() -> dict[str, list[Any]]:
    """The samples shoal will write, per tensor (class labels as their expected uint32 ids)."""
    rng = np.random.default_rng(2024)
    e: dict[str, list[Any]] = {}
    e["gen"] = [
        rng.standard_normal((int(rng.integers(1, 9)), int(rng.integers(1, 12)))).astype(np.float32)
        for _ in range(30)
    ]
    e["fixed"] = list(rng.integers(-30000, 30000, size=(70, 4, 5)).astype(np.int16))
    e["flags"] = [
        rng.integers(0, 2, size=(int(rng.integers(1, 60)),)).astype(bool) for _ in range(40)
    ]
    e["img_png"] = [
        image(rng, int(rng.integers(8, 40)), int(rng.integers(8, 40)), 3) for _ in range(12)
    ]
    e["img_png"].insert(5, image(rng, 17, 23, 1))  # grayscale, stored (H, W, 1)
    e["img_jpg"] = [
        image(rng, int(rng.integers(8, 48)), int(rng.integers(8, 48)), 3) for _ in range(12)
    ]
    e["raw_img"] = [
        image(rng, int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3) for _ in range(10)
    ]
    words = ["hello", "wörld", "日本語のテキスト", "emoji 🚀✨", "", "naïve café", "Ελληνικά"]
    e["txt"] = [
        " ".join(words[int(j)] for j in rng.integers(0, len(words), size=int(rng.integers(0, 6))))
        for _ in range(80)
    ]
    e["txt"][3] = ""
    e["js"] = [
        {
            "i": i,
            "name": f"s-{i}-ü",
            "tags": [f"t{j}" for j in range(i % 4)],
            "nested": {"a": [1, 2.5, None, True], "b": {"c": "d" * (i % 7)}},
            "score": i / 7.0,
        }
        for i in range(40)
    ]
    e["emb"] = list(rng.standard_normal((50, 16)).astype(np.float32))
    e["boxes"] = [
        (rng.random((int(rng.integers(0, 6)), 4)) * 100).astype(np.float32) for _ in range(40)
    ]
    e["boxes"][2] = np.zeros((0, 4), dtype=np.float32)
    e["lz4"] = [
        np.round(rng.standard_normal((int(rng.integers(10, 80)),)), 1).astype(np.float32)
        for _ in range(30)
    ]
    e["lz4u8"] = [
        (rng.integers(0, 16, size=(int(rng.integers(4, 30)), int(rng.integers(4, 30)))) * 3).astype(
            np.uint8
        )
        for _ in range(30)
    ]
    e["big"] = [
        rng.integers(0, 256, size=(5, 6, 1), dtype=np.uint8),
        rng.integers(0, 256, size=(40, 30, 1), dtype=np.uint8),  # tiled
        rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8),
        rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8),  # tiled
        rng.integers(0, 256, size=(7, 2, 3), dtype=np.uint8),
    ]
    e["bigpng"] = [image(rng, 10, 12, 3), image(rng, 70, 50, 3), image(rng, 9, 9, 3)]  # [1] tiled
    return e


# label inputs: ints and names, including a new name that extends class_names
LABEL_INPUTS: list[Any] = [0, 1, 2, "dog", "bird", "cat", "fish", 2, 0] + [
    i % 4 for i in range(300)
]
LABEL_NAMES_AFTER = [*CLASS_NAMES, "fish"]


def label_ids() -> list[np.ndarray]:
    return [
        np.array([LABEL_NAMES_AFTER.index(v) if isinstance(v, str) else v], dtype=np.uint32)
        for v in LABEL_INPUTS
    ]


def write_with_shoal(path: str, e: dict[str, list[Any]]) -> None:
    ds = shoal.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("gen", htype="generic", dtype="float32", max_chunk_size=1000)
        for a in e["gen"]:
            ds["gen"].append(a)
        ds.create_tensor("fixed", htype="generic", dtype="int16", max_chunk_size=2000)
        ds["fixed"].extend(np.stack(e["fixed"]))
        ds.create_tensor("flags", htype="generic", dtype="bool", max_chunk_size=2000)
        ds["flags"].extend(e["flags"])
        ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES, max_chunk_size=600)
        ds["labels"].extend(LABEL_INPUTS[:3])
        for v in LABEL_INPUTS[3:9]:
            ds["labels"].append(v)
        ds["labels"].extend(LABEL_INPUTS[9:])
        ds.create_tensor("img_png", htype="image", sample_compression="png", max_chunk_size=8000)
        for a in e["img_png"]:
            ds["img_png"].append(a)
        ds.create_tensor("img_jpg", htype="image", sample_compression="jpeg", max_chunk_size=5000)
        ds["img_jpg"].extend(e["img_jpg"])
        ds.create_tensor(
            "raw_img", htype="image", dtype="uint8", sample_compression=None, max_chunk_size=20000
        )
        ds["raw_img"].extend(e["raw_img"])
        ds.create_tensor("txt", htype="text", max_chunk_size=2000)
        for s in e["txt"]:
            ds["txt"].append(s)
        ds.create_tensor("js", htype="json", max_chunk_size=2000)
        ds["js"].extend(e["js"])
        ds.create_tensor("emb", htype="embedding", dtype="float32", max_chunk_size=1000)
        ds["emb"].extend(np.stack(e["emb"]))
        ds.create_tensor("boxes", htype="bbox", dtype="float32", max_chunk_size=2000)
        for a in e["boxes"]:
            ds["boxes"].append(a)
        ds.create_tensor(
            "lz4", htype="generic", dtype="float32", chunk_compression="lz4", max_chunk_size=1000
        )
        ds["lz4"].extend(e["lz4"])
        ds.create_tensor(
            "lz4u8", htype="generic", dtype="uint8", chunk_compression="lz4", max_chunk_size=600
        )
        for a in e["lz4u8"]:
            ds["lz4u8"].append(a)
        ds.create_tensor("big", htype="generic", dtype="uint8", tiling_threshold=1000)
        for a in e["big"]:
            ds["big"].append(a)
        ds.create_tensor("bigpng", htype="image", sample_compression="png", tiling_threshold=1000)
        for a in e["bigpng"]:
            ds["bigpng"].append(a)
        ds.info.update(DS_INFO)
        ds["gen"].info.update(GEN_INFO)
    release(ds)


def release(ds: Any) -> None:
    """Flush and close the dataset (dropping any write lock) before deeplake opens it.

    Callers also drop their reference and run ``gc.collect()`` afterwards, for an implementation
    that lets go of its lock only when the object dies.
    """
    ds.flush()
    close = getattr(ds, "close", None)
    if callable(close):
        close()


# deeplake appends these to a copy of shoal's dataset (see dl_side.py append)
APPEND_SPEC: dict[str, Any] = {
    "gen": [[[1.5, 2.5], [3.0, 4.0]], {"array": [[1, 2, 3]], "dtype": "float32"}],
    "fixed": {"dtype": "int16", "samples": [[[1, 2, 3, 4, 5]] * 4]},
    "flags": [[True, False, True]],
    "labels": [1, "bird", "newclass"],
    "img_png": [{"image_random": [10, 12, 3, 5]}, {"image_random": [7, 9, 1, 6]}],
    "img_jpg": [{"image_random": [16, 16, 3, 7]}],
    "raw_img": [{"image_random": [5, 6, 3, 8]}],
    "txt": ["appended by deeplake ü", ""],
    "js": [{"a": [1, {"b": None}]}, {"deep": {"er": [[], {}]}}],
    "emb": [[0.5, 0.25] + [0.0] * 13 + [1.0]],
    "boxes": [[[1, 2, 3, 4]], {"array": [], "shape": [0, 4]}],
    "lz4": [[1, 2, 3]],
    "lz4u8": [[[1, 2], [3, 4]]],
    "big": [{"array": [[[1]]], "dtype": "uint8"}, {"image_random": [50, 50, 3, 9]}],
    "bigpng": [{"image_random": [60, 40, 3, 10]}],
}
# the lossless ones, as shoal must read them back
APPENDED_EXACT: dict[str, list[Any]] = {
    "gen": [np.array([[1.5, 2.5], [3.0, 4.0]], np.float32), np.array([[1, 2, 3]], np.float32)],
    "fixed": [np.array([[1, 2, 3, 4, 5]] * 4, np.int16)],
    "flags": [np.array([True, False, True])],
    "labels": [np.array([1], np.uint32), np.array([2], np.uint32), np.array([4], np.uint32)],
    "txt": ["appended by deeplake ü", ""],
    "js": [{"a": [1, {"b": None}]}, {"deep": {"er": [[], {}]}}],
    "emb": [np.array([0.5, 0.25] + [0.0] * 13 + [1.0], np.float32)],
    "boxes": [np.array([[1, 2, 3, 4]], np.float32), np.zeros((0, 4), np.float32)],
    "lz4": [np.array([1, 2, 3], np.float32)],
    "lz4u8": [np.array([[1, 2], [3, 4]], np.uint8)],
    "big": [np.array([[[1]]], np.uint8)],
}


def n_appended(name: str) -> int:
    spec = APPEND_SPEC[name]
    return len(spec["samples"] if isinstance(spec, dict) else spec)


# --------------------------------------------------------------------------------------------
# shoal-side read helpers


def read_all(ds: Any, name: str) -> list[Any]:
    t = ds[name]
    k = kind_of(name)
    if k == "text":
        return [t[i].text() for i in range(len(t))]
    if k == "json":
        return [t[i].dict() for i in range(len(t))]
    return [t[i].numpy() for i in range(len(t))]
