"""The everyday htypes both ways: shoal creates and appends, deeplake 3.9.52 appends more and
reads; deeplake creates and appends, shoal appends more and reads. All four reads (after the
second writer, by each library) must be the same values, shapes, dtypes and infos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.interop import snippets
from tests.interop.everyday_snippet import SNIPPET

from shoal import _native

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snippets.write(tmp_path_factory.mktemp("everyday"), "everyday", SNIPPET)


@pytest.fixture(scope="module")
def pngs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An RGB and a gray png file (the gray tensors convert the first like Pillow does)."""
    tmp = tmp_path_factory.mktemp("pngs")
    rgb = np.random.default_rng(5).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    (tmp / "rgb.png").write_bytes(_native.png_encode(rgb))
    (tmp / "gray.png").write_bytes(_native.png_encode(np.ascontiguousarray(rgb[:, :, 1])))
    return tmp / "rgb.png", tmp / "gray.png"


def _dl(run_dl: Any, script: Path, *args: Any) -> dict[str, Any]:
    """What deeplake read, after checking that it checked every tensor's companions."""
    out: dict[str, Any] = snippets.with_deeplake(run_dl, script, *args)
    assert out.pop("_companions_checked") >= 2 * len(out) - 3  # tags have no shape companion
    return out


def _differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, {}), b.get(name, {})
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key) and f"{name}.{key}" not in ignore:
                out.append(f"{name}.{key}: {x.get(key)!r:.300} != {y.get(key)!r:.300}")
    return out


def test_shoal_writes_deeplake_appends_and_both_read_the_same(
    script: Path, pngs: tuple[Path, Path], tmp_path: Path, run_dl: Any
) -> None:
    path = tmp_path / "ds"
    first = snippets.with_shoal(script, path, "create", "a", *pngs)
    theirs = _dl(run_dl, script, path, "open", "b", *pngs)
    ours = snippets.with_shoal(script, path, "open", "-", *pngs)
    again = _dl(run_dl, script, path, "open", "-", *pngs)
    assert first["poly"]["len"] == 3
    assert not _differences(theirs, ours), "\n".join(_differences(theirs, ours))
    assert not _differences(theirs, again), "\n".join(_differences(theirs, again))


def test_deeplake_writes_shoal_appends_and_both_read_the_same(
    script: Path, pngs: tuple[Path, Path], tmp_path: Path, run_dl: Any
) -> None:
    path = tmp_path / "ds"
    _dl(run_dl, script, path, "create", "a", *pngs)
    ours = snippets.with_shoal(script, path, "open", "b", *pngs)
    theirs = _dl(run_dl, script, path, "open", "-", *pngs)
    assert not _differences(ours, theirs), "\n".join(_differences(ours, theirs))


def test_both_ways_store_the_same_samples(
    script: Path, pngs: tuple[Path, Path], tmp_path: Path, run_dl: Any
) -> None:
    snippets.with_shoal(script, tmp_path / "s", "create", "a", *pngs)
    snippets.with_shoal(script, tmp_path / "s", "open", "b", *pngs)
    _dl(run_dl, script, tmp_path / "d", "create", "a", *pngs)
    _dl(run_dl, script, tmp_path / "d", "open", "b", *pngs)
    ours = snippets.with_shoal(script, tmp_path / "s", "open", "-", *pngs)
    theirs = snippets.with_shoal(script, tmp_path / "d", "open", "-", *pngs)
    assert not _differences(ours, theirs), "\n".join(_differences(ours, theirs))


def test_updates_by_either_library_read_the_same(
    script: Path, pngs: tuple[Path, Path], tmp_path: Path, run_dl: Any
) -> None:
    snippets.with_shoal(script, tmp_path / "s", "create", "a", *pngs)
    snippets.with_shoal(script, tmp_path / "s", "open", "u", *pngs)
    theirs = _dl(run_dl, script, tmp_path / "s", "open", "-", *pngs)
    _dl(run_dl, script, tmp_path / "d", "create", "a", *pngs)
    _dl(run_dl, script, tmp_path / "d", "open", "u", *pngs)
    ours = snippets.with_shoal(script, tmp_path / "d", "open", "-", *pngs)
    assert theirs["lst"]["values"][0] == ["new", [1, 2], 3.5]
    # Neither library narrows min/max_shape when an update shrinks a sample, so both metas
    # say tags are 1 or 2 long; deeplake's t.shape then looks at the samples' shapes (all 1
    # now), shoal's at the meta (None) — for every htype, generic too, not only tags.
    ignore = ("tags.shape",)
    assert not _differences(theirs, ours, ignore), "\n".join(_differences(theirs, ours, ignore))


LINKED_MASKS = """
import json
path, mode, png = argv[0], argv[1], argv[2]
if mode == "create":
    ds = deeplake.empty(path, overwrite=True)
    ds.create_tensor("mask", htype="link[binary_mask]")
    ds.create_tensor("seg", htype="link[segment_mask]")
else:
    ds = deeplake.load(path)
with ds:
    ds.mask.append(deeplake.link(png))
    ds.seg.append(deeplake.link(png))
print(json.dumps({
    name: [ds[name].meta.dtype, [a.astype(int).tolist() for a in ds[name].numpy(aslist=True)]]
    for name in ("mask", "seg")
}))
"""


def test_linked_mask_files_read_the_same_values(tmp_path: Path, run_dl: Any) -> None:
    """A png per mask, linked: equal values either way (deeplake returns the file's uint8,
    shoal the tensor's dtype: bool masks, uint32 class ids)."""
    script = snippets.write(tmp_path, "linked_masks", LINKED_MASKS)
    png = tmp_path / "mask.png"
    png.write_bytes(_native.png_encode(np.array([[0, 1, 1], [1, 0, 0]], np.uint8)))
    want = [[[0, 1, 1], [1, 0, 0]]] * 2
    snippets.with_shoal(script, tmp_path / "s", "create", png)
    theirs = snippets.with_deeplake(run_dl, script, tmp_path / "s", "open", png)
    snippets.with_deeplake(run_dl, script, tmp_path / "d", "create", png)
    ours = snippets.with_shoal(script, tmp_path / "d", "open", png)
    expected = {"mask": ["bool", want], "seg": ["uint32", want]}
    assert theirs == ours == expected
