"""Link tensors both ways with deeplake 3.9.52: a dataset of links written by deeplake reads
in shoal, and one written by shoal reads in deeplake, the same pixels and keys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

import shoal
from shoal import _native

DL_LINKS = Path(__file__).resolve().parent / "dl_links.py"


def _files(root: Path) -> list[str]:
    rng = np.random.default_rng(3)
    out = []
    for i, (h, w) in enumerate([(12, 16), (20, 10), (8, 8)]):
        arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        p = root / f"f{i}.png"
        p.write_bytes(_native.png_encode(arr))
        out.append(str(p))
    return out


def _run(py: str, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [py, str(DL_LINKS), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_deeplake_links_read_in_shoal(
    tmp_path: Path, deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    files = _files(tmp_path)
    path = tmp_path / "dl"
    _run(deeplake_python, deeplake_env, "write", str(path), json.dumps(files))
    ds = shoal.load(str(path))
    assert ds.im.htype == "link[image]" and len(ds.im) == 4
    assert ds.get_creds_keys() == ["k"]
    got = ds.im.numpy(aslist=True)
    for f, a in zip(files, got[:3], strict=True):
        np.testing.assert_array_equal(a, _native.png_decode(Path(f).read_bytes()))
    assert got[3].size == 0
    np.testing.assert_array_equal(ds.raw[1].numpy(), got[1])
    # appending to deeplake's tensor keeps it readable by both
    ds.im.append(shoal.link(files[2]))
    np.testing.assert_array_equal(ds.im[4].numpy(), got[2])
    out = tmp_path / "read.json"
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    seen = json.loads(out.read_text())
    assert [s[1] for s in seen["samples"] if s[0] == "im"][4] == list(got[2].shape)


def test_shoal_links_read_in_deeplake(
    tmp_path: Path, deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    files = _files(tmp_path)
    path = tmp_path / "sh"
    ds = shoal.empty(str(path))
    ds.create_tensor("im", htype="link[image]", sample_compression="png")
    ds.add_creds_key("k")
    ds.im.extend([shoal.link(f) for f in files])
    ds.create_tensor("raw", htype="link[image]", sample_compression="png", verify=False)
    ds.raw.append(shoal.link(files[0]))
    out = tmp_path / "read.json"
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    seen = json.loads(out.read_text())
    expect = [_native.png_decode(Path(f).read_bytes()) for f in files]
    assert [s for s in seen["samples"] if s[0] == "im"] == [
        ["im", list(a.shape), int(a.astype(np.int64).sum())] for a in expect
    ]
    assert seen["samples"][-1] == ["raw", list(expect[0].shape), int(expect[0].sum())]
    assert seen["creds_keys"] == ["k"] and seen["paths"] == files


def _only_chunk(tensor_dir: Path) -> bytes:
    (chunk,) = (tensor_dir / "chunks").iterdir()
    return chunk.read_bytes()


def test_none_links_shape_entries_match_deeplake(
    tmp_path: Path, deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    """A None sample's ``_shape`` entry is what deeplake writes, byte for byte: ``[0]`` when
    appended on its own, padded to the images' rank when extended among them."""
    files = _files(tmp_path)[:2]
    _run(deeplake_python, deeplake_env, "nones", str(tmp_path / "dl"), json.dumps(files))
    ds = shoal.empty(str(tmp_path / "sh"))
    for t in ("a", "b", "c"):
        ds.create_tensor(t, htype="link[image]", sample_compression="png")
    links = [shoal.link(f) for f in files]
    ds.a.append(links[0])
    ds.a.append(None)
    ds.a.extend([links[1]])
    ds.b.extend([links[0], None, links[1]])
    ds.c.extend([None])
    ds.c.append(links[0])
    ds.flush()
    for t in ("a", "b", "c"):
        shape_dir = f"_{t}_shape"
        ours, theirs = tmp_path / "sh" / shape_dir, tmp_path / "dl" / shape_dir
        assert _only_chunk(ours) == _only_chunk(theirs), t
        assert json.loads((ours / "tensor_meta.json").read_bytes()) == json.loads(
            (theirs / "tensor_meta.json").read_bytes()
        )
    assert [list(s) for s in shoal.load(str(tmp_path / "dl"))["_a_shape"].numpy(aslist=True)] == [
        [12, 16, 3],
        [0],
        [20, 10, 3],
    ]
    for t in ("a", "b"):  # the None sample reads as empty, in both datasets
        for root in ("sh", "dl"):
            assert shoal.load(str(tmp_path / root))[t][1].numpy().size == 0
