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
from tests.interop.written_dataset import (
    ALL_TENSORS,
    APPEND_SPEC,
    APPENDED_EXACT,
    DS_INFO,
    GEN_INFO,
    LABEL_INPUTS,
    LABEL_NAMES_AFTER,
    LOSSY,
    build_expected,
    image,
    kind_of,
    label_ids,
    n_appended,
    read_all,
    release,
    write_with_shoal,
)

import shoal

pytestmark = pytest.mark.interop


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
