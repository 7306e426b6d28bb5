"""shoal writes, deeplake 3.9.52 reads, checks and appends; shoal reads deeplake's appends back.

Lossless tensors must come back bit-exact. For jpeg the stored bytes are shoal's encoding, so the
reference is decoding: deeplake's decode (PIL) must equal shoal's own decode of the same bytes.
"""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal

pytestmark = pytest.mark.interop

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


# --------------------------------------------------------------------------------------------
# fixtures (module scope: shoal writes once; appends happen on copies)


@pytest.fixture(scope="module")
def expected() -> dict[str, list[Any]]:
    return build_expected()


@pytest.fixture(scope="module")
def shoal_path(tmp_path_factory: pytest.TempPathFactory, expected) -> str:
    path = str(tmp_path_factory.mktemp("shoal-written") / "ds")
    write_with_shoal(path, expected)
    gc.collect()
    return path


@pytest.fixture(scope="module")
def shoal_jpeg_decodes(shoal_path) -> list[np.ndarray]:
    """shoal's own decode of the jpeg bytes it stored (the reference for deeplake's decode)."""
    ds = shoal.load(shoal_path, read_only=True)
    return [ds["img_jpg"][i].numpy() for i in range(len(ds["img_jpg"]))]


@pytest.fixture(scope="module")
def dl_view(shoal_path, dl_dump) -> dict[str, Any]:
    return dl_dump(shoal_path)


@pytest.fixture(scope="module")
def appended_path(shoal_path, run_dl, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of shoal's dataset that deeplake has appended APPEND_SPEC to."""
    path = tmp_path_factory.mktemp("dl-appended") / "ds"
    shutil.copytree(shoal_path, path)
    spec = path.parent / "spec.json"
    spec.write_text(json.dumps(APPEND_SPEC), encoding="utf-8")
    run_dl("append", path, f"@{spec}")
    return str(path)


@pytest.fixture(scope="module")
def dl_view_after_append(appended_path, dl_dump) -> dict[str, Any]:
    return dl_dump(appended_path)


# --------------------------------------------------------------------------------------------
# deeplake reads what shoal wrote


def test_deeplake_integrity_check(shoal_path, run_dl):
    run_dl("check", shoal_path)


def test_deeplake_sees_the_tensors(dl_view, expected):
    assert sorted(dl_view["tensors"]) == sorted(ALL_TENSORS)
    for name in ALL_TENSORS:
        td = dl_view["tensors"][name]
        n = len(LABEL_INPUTS) if name == "labels" else len(expected[name])
        assert td["length"] == n, name
        assert td["kind"] == kind_of(name), name
    assert dl_view["len"] == min(td["length"] for td in dl_view["tensors"].values())
    want = {
        "gen": ("generic", "float32"),
        "fixed": ("generic", "int16"),
        "flags": ("generic", "bool"),
        "labels": ("class_label", "uint32"),
        "img_png": ("image", "uint8"),
        "img_jpg": ("image", "uint8"),
        "raw_img": ("image", "uint8"),
        "txt": ("text", "str"),
        "js": ("json", "Any"),
        "emb": ("embedding", "float32"),
        "boxes": ("bbox", "float32"),
        "lz4": ("generic", "float32"),
        "lz4u8": ("generic", "uint8"),
        "big": ("generic", "uint8"),
        "bigpng": ("image", "uint8"),
    }
    got = {n: (td["htype"], td["dtype"]) for n, td in dl_view["tensors"].items()}
    assert got == want
    compr = {
        n: (td["sample_compression"], td["chunk_compression"])
        for n, td in dl_view["tensors"].items()
    }
    assert compr["img_png"] == ("png", None) and compr["bigpng"] == ("png", None)
    assert compr["img_jpg"] == ("jpeg", None)
    assert compr["lz4"] == (None, "lz4") and compr["lz4u8"] == (None, "lz4")
    assert compr["raw_img"] == (None, None)


@pytest.mark.parametrize("name", sorted(set(ALL_TENSORS) - LOSSY))
def test_deeplake_reads_exact_values(dl_view, expected, sample_equal, name):
    want = label_ids() if name == "labels" else expected[name]
    got = dl_view["tensors"][name]["samples"]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        sample_equal(g, w, kind_of(name), f"{name}[{i}]")


def test_deeplake_jpeg_decode_equals_shoal_decode(
    dl_view, expected, shoal_jpeg_decodes, sample_equal
):
    got = dl_view["tensors"]["img_jpg"]["samples"]
    assert len(got) == len(shoal_jpeg_decodes) == len(expected["img_jpg"])
    for i, (g, mine, orig) in enumerate(
        zip(got, shoal_jpeg_decodes, expected["img_jpg"], strict=True)
    ):
        sample_equal(g, mine, "array", f"img_jpg[{i}] deeplake vs shoal decode")
        assert g.shape == orig.shape
        err = np.abs(g.astype(np.int16) - orig.astype(np.int16)).mean()
        assert err < 24, (
            f"img_jpg[{i}]: mean abs error {err:.2f} vs the original: not a jpeg of it?"
        )


def test_deeplake_sees_info(dl_view):
    assert dl_view["info"] == DS_INFO
    assert dl_view["tensor_info"]["labels"]["class_names"] == LABEL_NAMES_AFTER
    gen_info = dl_view["tensor_info"]["gen"]
    assert {k: gen_info.get(k) for k in GEN_INFO} == GEN_INFO


def test_layout_has_many_chunks_and_tiles(shoal_path):
    """Guards the scenario: several chunks per tensor, and tiles where asked."""
    root = Path(shoal_path)
    for name in ALL_TENSORS:
        assert len(list((root / name / "chunks").iterdir())) >= 2, name
    for name in ("big", "bigpng"):
        assert (root / name / "tiles_index" / "unsharded").stat().st_size > 15, name
        assert len(list((root / name / "chunks").iterdir())) > 5, name


# --------------------------------------------------------------------------------------------
# deeplake appends to shoal's dataset; shoal reads old and new samples


def test_deeplake_check_after_append(appended_path, run_dl):
    run_dl("check", appended_path)


def test_deeplake_append_grew_every_tensor(dl_view, dl_view_after_append):
    for name in ALL_TENSORS:
        before = dl_view["tensors"][name]["length"]
        assert dl_view_after_append["tensors"][name]["length"] == before + n_appended(name), name
    assert dl_view_after_append["tensor_info"]["labels"]["class_names"] == [
        *LABEL_NAMES_AFTER,
        "newclass",
    ]


@pytest.mark.parametrize("name", ALL_TENSORS)
def test_shoal_reads_after_deeplake_append(
    appended_path, dl_view_after_append, expected, shoal_jpeg_decodes, sample_equal, name
):
    ds = shoal.load(appended_path, read_only=True)
    got = read_all(ds, name)
    dl = dl_view_after_append["tensors"][name]["samples"]
    k = kind_of(name)
    assert len(got) == len(dl)
    # everything equals what deeplake reads from the same bytes
    for i, (g, w) in enumerate(zip(got, dl, strict=True)):
        sample_equal(g, w, k, f"{name}[{i}] shoal vs deeplake")
    # the old samples are still what shoal wrote
    old = label_ids() if name == "labels" else expected[name]
    if name in LOSSY:
        old = shoal_jpeg_decodes
    for i, w in enumerate(old):
        sample_equal(got[i], w, k, f"{name}[{i}] old sample")
    # the lossless new ones are what was appended
    for j, w in enumerate(APPENDED_EXACT.get(name, [])):
        sample_equal(got[len(old) + j], w, k, f"{name}[{len(old) + j}] appended")
    # bulk and random-access reads agree too
    t = ds[name]
    if k == "array":
        bulk = list(t.numpy(aslist=True))
    elif k == "text":
        bulk = list(t.text())
    else:
        bulk = list(t.dict())
    for i, (g, w) in enumerate(zip(bulk, dl, strict=True)):
        sample_equal(g, w, k, f"{name}[:][{i}]")
    idx = [len(dl) - 1, 0, len(dl) // 2, len(dl) - 2]
    view = t[idx]
    sel = (
        list(view.numpy(aslist=True))
        if k == "array"
        else list(view.text() if k == "text" else view.dict())
    )
    for j, i in enumerate(idx):
        sample_equal(sel[j], dl[i], k, f"{name}[{idx}][{j}]")


def test_shoal_info_after_deeplake_append(appended_path):
    ds = shoal.load(appended_path, read_only=True)
    assert dict(ds.info) == DS_INFO
    assert list(ds["labels"].info.class_names) == [*LABEL_NAMES_AFTER, "newclass"]
    assert {k: ds["gen"].info[k] for k in GEN_INFO} == GEN_INFO


# --------------------------------------------------------------------------------------------
# and round again: shoal appends to what deeplake appended to; deeplake checks and reads


def test_shoal_appends_after_deeplake(
    appended_path, run_dl, dl_dump, dl_view_after_append, sample_equal, tmp_path
):
    path = tmp_path / "ds"
    shutil.copytree(appended_path, path)
    rng = np.random.default_rng(77)
    new = {
        "gen": np.arange(6, dtype=np.float32).reshape(2, 3),
        "labels": "bird",
        "txt": "shoal again ✓",
        "js": {"round": 3},
        "img_png": image(rng, 13, 11, 3),
        "big": rng.integers(0, 256, size=(45, 41, 3), dtype=np.uint8),  # tiled
        "lz4": np.array([9.5, -1], dtype=np.float32),
    }
    ds = shoal.load(str(path))
    with ds:
        for name, v in new.items():
            ds[name].append(v)
    release(ds)
    del ds
    gc.collect()

    run_dl("check", path)
    after = dl_dump(path)
    for name, td in after["tensors"].items():
        before = dl_view_after_append["tensors"][name]["samples"]
        k = kind_of(name)
        assert len(td["samples"]) == len(before) + (1 if name in new else 0), name
        for i, w in enumerate(before):
            sample_equal(td["samples"][i], w, k, f"{name}[{i}] kept")
    want_last = dict(new, labels=np.array([2], dtype=np.uint32))
    for name, w in want_last.items():
        sample_equal(after["tensors"][name]["samples"][-1], w, kind_of(name), f"{name}[-1]")
    # and shoal reads the same as deeplake
    ds = shoal.load(str(path), read_only=True)
    for name in new:
        got = read_all(ds, name)
        for i, w in enumerate(after["tensors"][name]["samples"]):
            sample_equal(got[i], w, kind_of(name), f"{name}[{i}] shoal")
