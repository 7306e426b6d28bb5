"""bmp, tiff and webp image tensors (sample and chunk compression) interoperate with deeplake
3.9.52 both ways: the same snippet run by each library makes datasets the other reads to the
same arrays, and each continues the other's. Files appended with ``read()`` are stored as they
are (deeplake's ``tobytes()`` of shoal's sample is the file).

deeplake encodes with Pillow's defaults (webp lossy at quality 80, bmp and tiff uncompressed)
and shoal webp losslessly, so what the two *write* for one array differs for webp; what each
*reads* from one dataset is the same, bit for bit (libwebp's and shoal's lossy decoders agree).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tests.interop.snippets import with_deeplake, with_shoal, write

# name -> (compression keyword, format)
TENSORS = {
    "w": ("sample_compression", "webp"),
    "wa": ("sample_compression", "webp"),
    "b": ("sample_compression", "bmp"),
    "bg": ("sample_compression", "bmp"),
    "t": ("sample_compression", "tiff"),
    "ta": ("sample_compression", "tiff"),
    "tg": ("sample_compression", "tiff"),
    "cw": ("chunk_compression", "webp"),
    "cb": ("chunk_compression", "bmp"),
    "ct": ("chunk_compression", "tiff"),
}

PRELUDE = """
import hashlib

def seen(ds):
    return {n: [a.tolist() for a in ds[n].numpy(aslist=True)] for n in sorted(ds.tensors)}

def stored(ds):
    # the stored bytes of the samples appended from files (the last ones of w, wa, b, t)
    return {n: [hashlib.sha1(ds[n][i].tobytes()).hexdigest()
                for i in range(len(ds[n]) - k, len(ds[n]))]
            for n, k in (("w", 2), ("wa", 1), ("b", 1), ("t", 3))}
"""

MAKE = (
    PRELUDE
    + f"""
TENSORS = {TENSORS!r}
ds = deeplake.empty(argv[0], overwrite=True)
d = argv[1]
r = np.random.default_rng(0)
with ds:
    for name, (kw, fmt) in TENSORS.items():
        ds.create_tensor(name, htype="image", max_chunk_size=3000, **{{kw: fmt}})
    for i in range(7):
        rgb = r.integers(0, 256, (6 + i, 9, 3), dtype=np.uint8)
        rgba = r.integers(0, 256, (5, 4 + i, 4), dtype=np.uint8)
        for name in ("w", "b", "t", "cw", "cb", "ct"):
            ds[name].append(rgb)
        ds.wa.append(rgba)
        ds.ta.append(rgba)
        ds.tg.append(rgb[:, :, :1])
        ds.bg.append(rgb[:, :, 1:2])
    ds.w.extend([deeplake.read(d + "/lossy.webp"), deeplake.read(d + "/lossless.webp")])
    ds.wa.append(deeplake.read(d + "/alpha.webp"))
    ds.b.append(deeplake.read(d + "/rgb.bmp"))
    ds.t.extend([deeplake.read(d + "/rgb.tif"), deeplake.read(d + "/lzw.tif"),
                 deeplake.read(d + "/deflate.tif")])
print(json.dumps(seen(ds)))
"""
)

CONTINUE = (
    PRELUDE
    + """
ds = deeplake.load(argv[0])
r = np.random.default_rng(1)
rgb = r.integers(0, 256, (7, 5, 3), dtype=np.uint8)
with ds:
    for name in ("w", "b", "t", "cw", "cb", "ct"):
        ds[name].append(rgb)
        ds[name][1] = rgb[:4]
    ds.wa[0] = r.integers(0, 256, (3, 3, 4), dtype=np.uint8)
    ds.tg.append(rgb[:, :, 2:])
    ds.bg[2] = rgb[:, :, :1]
    ds.ct.pop(0)
print(json.dumps(seen(ds)))
"""
)

READ = (
    PRELUDE
    + """
ds = deeplake.load(argv[0], read_only=True)
out = seen(ds)
if len(argv) > 1:
    # the files' records (deeplake also records one for an array sample that opens a chunk,
    # which shoal does not, for any compression)
    out["info"] = {n: ds[n].sample_info[len(ds[n]) - k:]
                   for n, k in (("w", 2), ("wa", 1), ("b", 1), ("t", 3))}
if argv[1:] == ["stored"]:
    out["stored"] = stored(ds)
print(json.dumps(out))
"""
)


def _files(d: Path) -> dict[str, str]:
    """Image files as Pillow writes them; their sha1s."""
    d.mkdir()
    r = np.random.default_rng(5)
    rgb = Image.fromarray(r.integers(0, 256, (20, 14, 3), dtype=np.uint8))
    rgba = Image.fromarray(r.integers(0, 256, (11, 13, 4), dtype=np.uint8))
    rgb.save(d / "lossy.webp")
    exif = Image.Exif()
    exif[0x010F] = "shoal"
    rgb.save(d / "lossless.webp", lossless=True, exif=exif.tobytes())
    rgba.save(d / "alpha.webp")
    rgb.save(d / "rgb.bmp")
    rgb.save(d / "rgb.tif")
    rgb.save(d / "lzw.tif", compression="tiff_lzw")
    rgb.save(d / "deflate.tif", compression="tiff_adobe_deflate")
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in d.iterdir()}


def test_image_formats_both_ways(tmp_path: Path, run_dl: Any) -> None:
    sha = _files(tmp_path / "files")
    make, cont, read = (
        write(tmp_path, n, c) for n, c in [("m", MAKE), ("c", CONTINUE), ("r", READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    made_by_shoal = with_shoal(make, ours, tmp_path / "files")
    made_by_deeplake = with_deeplake(run_dl, make, theirs, tmp_path / "files")
    for name, (_, fmt) in TENSORS.items():
        if fmt != "webp":  # lossless: both libraries store exactly the arrays given
            assert made_by_shoal[name] == made_by_deeplake[name], name
    # what shoal wrote, deeplake reads as shoal does; the files are stored unchanged
    dl_reads_ours = with_deeplake(run_dl, read, ours, "stored")
    stored = dl_reads_ours.pop("stored")
    # the files' sample info (exif of the tiff directory and webp EXIF chunk, shapes, ...)
    info = dl_reads_ours.pop("info")
    assert info == with_deeplake(run_dl, read, theirs, "info")["info"]
    assert info == with_shoal(read, ours, "info")["info"]
    assert with_shoal(read, ours, "stored")["stored"] == stored  # shoal's tobytes() too
    assert info["t"][-1]["exif"]["Compression"] == 8.0  # deflate
    assert info["w"][-1]["exif"] == {"Make": "shoal"}
    assert dl_reads_ours == made_by_shoal
    assert stored == {
        "w": [sha["lossy.webp"], sha["lossless.webp"]],
        "wa": [sha["alpha.webp"]],
        "b": [sha["rgb.bmp"]],
        "t": [sha["rgb.tif"], sha["lzw.tif"], sha["deflate.tif"]],
    }
    # what deeplake wrote (lossy webp from Pillow), shoal decodes to deeplake's own arrays
    assert with_shoal(read, theirs) == with_deeplake(run_dl, read, theirs)
    # each continues the other's: both then read the same arrays (a fresh read: the writer's
    # own cache still holds what it was given, not what lossy webp stored)
    continued_by_deeplake = with_deeplake(run_dl, cont, ours)
    ours_now = with_shoal(read, ours)
    assert ours_now == with_deeplake(run_dl, read, ours)
    continued_by_shoal = with_shoal(cont, theirs)
    theirs_now = with_deeplake(run_dl, read, theirs)
    assert theirs_now == with_shoal(read, theirs)
    for name, (_, fmt) in TENSORS.items():
        if fmt != "webp":
            assert ours_now[name] == continued_by_deeplake[name] == continued_by_shoal[name]
        else:
            shapes = [np.shape(a) for a in ours_now[name]]
            assert shapes == [np.shape(a) for a in continued_by_shoal[name]], name
