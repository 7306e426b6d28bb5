"""A dataset ``shoal.ingest_classification`` made is one deeplake 3.9.52 opens (integrity
check on) and reads exactly as the dataset its own ``ingest_classification`` makes from the
same folder with the same ``random.seed``: same tensors, class names, order, pixels, shapes
and sample info."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import _native

SEED = 5

DEEPLAKE_SIDE = """
import json, random
from dl_common import open_ds
src, ours, theirs, out, seed = argv
random.seed(int(seed))
deeplake.ingest_classification(src, theirs, progressbar=False, summary=False)

def dump(ds):
    return {name: {"values": [a.tolist() for a in t.numpy(aslist=True)],
                   "info": dict(t.info),
                   "samples": [t[i].sample_info for i in range(len(t))] if t.htype == "image"
                   else None}
            for name, t in sorted(ds.tensors.items())}

with open(out, "w") as f:
    json.dump({"ours": dump(open_ds(ours, True)), "theirs": dump(open_ds(theirs, True))}, f)
"""


def picture(seed: int, shape: tuple[int, ...] = (7, 6, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=shape, dtype=np.uint8)


def folder(root: Path, split: bool) -> Path:
    sets = ["train/", "val/"] if split else [""]
    for s, prefix in enumerate(sets):
        for c, name in enumerate(["zebra", "cat", "dog"] if s == 0 else ["cat", "dog", "cow"]):
            for i in range(4):
                path = root / f"{prefix}{name}/{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_native.png_encode(picture(100 * s + 10 * c + i)))
        (root / f"{prefix}cat/photo.jpg").write_bytes(_native.jpeg_encode(picture(7)))
        (root / f"{prefix}dog/gray.png").write_bytes(_native.png_encode(picture(8, (7, 6))))
        (root / f"{prefix}dog/notes.txt").write_text("not a picture")
    return root


@pytest.mark.parametrize("split", [False, True], ids=["classes", "split_folders"])
def test_deeplake_reads_what_it_would_have_made(run_dl: Any, tmp_path: Path, split: bool) -> None:
    src = folder(tmp_path / "src", split)
    ours, theirs, out = tmp_path / "ours", tmp_path / "theirs", tmp_path / "out.json"
    random.seed(SEED)
    shoal.ingest_classification(src, ours, progressbar=False, summary=False)
    script = tmp_path / "side.py"
    script.write_text(DEEPLAKE_SIDE)
    run_dl("exec", script, src, ours, theirs, out, SEED)
    got = json.loads(out.read_text())
    assert got["ours"] == got["theirs"]
    labels = "val/labels" if split else "labels"
    names = ["cat", "cow", "dog", "zebra"] if split else ["cat", "dog", "zebra"]
    assert got["ours"][labels]["info"]["class_names"] == names
    assert len(got["ours"][labels]["values"]) == 15
    assert sorted(got["ours"]) == (
        ["train/images", "train/labels", "val/images", "val/labels"]
        if split
        else ["images", "labels"]
    )
