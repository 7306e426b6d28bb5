"""Sample info (``_<t>_info``) as deeplake 3.9.52 records it: the same files appended, linked
and updated by shoal and by deeplake give equal ``sample_info``, each library reads the other's,
and random EXIF directories come out as deeplake's own reader records them."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.exif_blocks import jpeg_with, png_with, random_items, tiff
from tests.interop.snippets import with_deeplake, with_shoal, write

import shoal
from shoal._exif import image_exif

WRITE = """
ds = deeplake.empty(argv[0], overwrite=True)
d = argv[1]
ds.create_tensor("images", htype="image", sample_compression="jpeg")
ds.images.append(deeplake.read(d + "/cam.jpg"))
ds.images.append(np.zeros((5, 6, 3), "uint8"))
ds.images.append(deeplake.read(d + "/plain.jpg"))
ds.create_tensor("pngs", htype="image", sample_compression="png")
ds.pngs.extend([deeplake.read(d + "/cam.png"), deeplake.read(d + "/gray.png"),
                np.ones((2, 2, 3), "uint8")])
ds.create_tensor("lk", htype="link[image]", sample_compression="jpeg")
ds.lk.extend([deeplake.link(d + "/cam.jpg"), None, deeplake.link(d + "/plain.jpg")])
ds.append({"images": deeplake.read(d + "/cam.jpg"), "pngs": np.ones((2, 2, 3), "uint8"),
           "lk": deeplake.link(d + "/cam.jpg")})
ds.images[1] = deeplake.read(d + "/plain.jpg")
ds.images[0] = np.ones((4, 4, 3), "uint8")
ds.pngs[0, 0:1, 0:1] = np.zeros((1, 1, 3), "uint8")
print(json.dumps(READ_INFO(ds)))
"""

READ = """
ds = deeplake.load(argv[0])
print(json.dumps(READ_INFO(ds)))
"""

READ_INFO = """
def READ_INFO(ds):
    return {"images": ds.images.sample_info, "pngs": ds.pngs.sample_info,
            "lk": ds.lk.sample_info, "one": ds.images[1].sample_info,
            "some": ds.lk[1:3].sample_info}
"""

RECORD = """
import os
from PIL import Image
from deeplake.util.exif import getexif
out = []
for f in sorted(os.listdir(argv[0])):
    try:
        out.append([f, getexif(Image.open(os.path.join(argv[0], f)))])
    except Exception:
        out.append([f, {}])  # deeplake records {} when Pillow cannot read the tags
print(json.dumps(out))
"""


def _files(d: Path) -> Path:
    d.mkdir()
    pixels = (np.arange(20 * 30 * 3) % 251).astype(np.uint8).reshape(20, 30, 3)
    img = Image.fromarray(pixels)
    exif = Image.Exif()
    exif.update({0x010F: "Canon", 0x0110: "EOS", 0x0112: 6, 0x011A: 300.0, 0x0131: "shoal"})
    exif[0x9C9B] = b"t\x00i\x00"
    img.save(d / "cam.jpg", exif=exif.tobytes())
    img.save(d / "cam.png", exif=exif.tobytes())
    img.save(d / "plain.jpg")
    Image.fromarray(pixels[:, :, 0]).save(d / "gray.png")
    return d


def _code(tmp: Path, name: str, body: str) -> Path:
    return write(tmp, name, READ_INFO + body)


def test_sample_info_both_ways(tmp_path: Path, run_dl: Any):
    files = _files(tmp_path / "files")
    by_dl, by_shoal = tmp_path / "dl", tmp_path / "shoal"
    make, read = _code(tmp_path, "make", WRITE), _code(tmp_path, "read", READ)
    dl_wrote = with_deeplake(run_dl, make, by_dl, files)
    shoal_wrote = with_shoal(make, by_shoal, files)
    assert shoal_wrote == dl_wrote
    assert dl_wrote["one"]["exif"] == {}
    assert dl_wrote["images"][1]["filename"].endswith("plain.jpg")
    assert dl_wrote["images"][3]["exif"]["Make"] == "Canon"
    assert dl_wrote["lk"][1] == {} and dl_wrote["lk"][0]["format"] == "jpeg"
    assert dl_wrote["pngs"][1]["shape"] == [20, 30]  # the file's own shape
    # each reads what the other wrote
    assert with_deeplake(run_dl, read, by_shoal) == dl_wrote
    assert with_shoal(read, by_dl) == dl_wrote


def test_random_directories_as_deeplake_records_them(tmp_path: Path, run_dl: Any):
    rng = random.Random(20261203)
    d = tmp_path / "blocks"
    d.mkdir()
    ours = {}
    for i in range(120):
        block = tiff(rng.choice("<>"), random_items(rng))
        if i % 10 == 9:  # damaged: cut anywhere
            block = block[: rng.randint(0, len(block))]
        png = i % 3 == 0
        name = f"{i:03d}.{'png' if png else 'jpg'}"
        data = png_with(block) if png else jpeg_with(block)
        (d / name).write_bytes(data)
        ours[name] = image_exif(data, "png" if png else "jpeg")
    recorded = with_deeplake(run_dl, write(tmp_path, "record", RECORD), d)
    # JSON on both sides: tuples become lists, as in the stored records
    assert [[f, json.loads(json.dumps(ours[f]))] for f, _ in recorded] == recorded


@pytest.mark.parametrize("compression", ["jpeg", "png"])
def test_arrays_record_nothing_and_views_list(tmp_path: Path, compression: str):
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", htype="image", sample_compression=compression)
    ds.create_tensor("plain", dtype="int64")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(buf, "PNG")
    (tmp_path / "a.png").write_bytes(buf.getvalue())
    ds.x.extend([np.zeros((2, 2, 3), np.uint8), shoal.read(tmp_path / "a.png")])
    assert ds.x[0].sample_info == {}
    assert ds.x.sample_info[1]["format"] == "png"
    assert ds.x[1:].sample_info[0]["shape"] == [3, 3, 3]
    assert ds.plain.sample_info is None  # no info kept for generic tensors, as in deeplake
