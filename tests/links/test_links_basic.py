"""Link tensors on local files, SeaweedFS (populated keys) and a loopback http server: the
stored form deeplake writes, reads of single samples, slices and the loader, and the errors
bad input gets (naming the key and the sample, never a secret)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _loop
from shoal.errors import InvalidCredsError, InvalidHtypeError, LinkError, SampleError
from tests.servers.s3_fixtures import S3Server

from .conftest import HTTP_TOKEN, HttpServer, Images

NAMES = ["img0.jpg", "img1.png", "img2.jpg", "img3.png"]


def _upload(s3_server: S3Server, images: Images, bucket: str) -> str:
    prefix = f"links/{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    for n in NAMES:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{n}", Body=images.data(n))
    return prefix


def test_local_links_round_trip_in_deeplakes_layout(tmp_path: Path, images: Images) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    t = ds.create_tensor("images", htype="link[image]", sample_compression="jpeg")
    assert t.htype == "link[image]"
    t.extend([shoal.link(images.path(n)) for n in NAMES[:2]])
    t.append(None)
    t.append(shoal.link(images.path(NAMES[2])))

    again = shoal.load(str(tmp_path / "ds"))
    got = again.images.numpy(aslist=True)
    for n, a in zip([NAMES[0], NAMES[1], None, NAMES[2]], got, strict=True):
        if n is None:
            assert a.size == 0
        else:
            np.testing.assert_array_equal(a, images.arrays[n])
    np.testing.assert_array_equal(again.images[1].numpy(), images.arrays[NAMES[1]])

    meta = json.loads((tmp_path / "ds/images/tensor_meta.json").read_text())
    assert meta["htype"] == "image" and meta["is_link"] is True and meta["verify"] is True
    assert meta["sample_compression"] == "jpeg" and meta["length"] == 4
    shapes = [images.arrays[n].shape for n in NAMES[:3]]
    assert meta["min_shape"] == list(np.min(shapes, axis=0))
    assert meta["max_shape"] == list(np.max(shapes, axis=0))
    assert set(meta["links"]) == {"_images_id", "_images_shape", "_images_info"}
    # the creds index: one run-length row [code 0, last index 3] after the version header
    raw = (tmp_path / "ds/images/creds_index/unsharded").read_bytes()
    assert raw == b"\x063.9.52" + np.array([0, 3], dtype="<u4").tobytes()
    # the _shape companion holds the linked files' shapes
    np.testing.assert_array_equal(again._engine.tensor("_images_shape").meta["max_shape"], [3])


def test_unverified_links_skip_shape_and_info(tmp_path: Path, images: Images) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("im", htype="link[image]", sample_compression="png", verify=False)
    ds.im.append(shoal.link(images.path("does-not-exist.png")))  # not read: not verified
    meta = json.loads((tmp_path / "ds/im/tensor_meta.json").read_text())
    assert meta["verify"] is False and set(meta["links"]) == {"_im_id"}
    assert meta["min_shape"] == [] and meta["max_shape"] == []
    with pytest.raises(LinkError, match=r"sample 0: linked file .*does not exist") as info:
        ds.im[0].numpy()
    assert info.value.index == 0


def test_bad_link_input(tmp_path: Path, images: Images) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    for bad in ("link", "link[generic]", "link[sequence[nope]]", "link[nope]"):
        with pytest.raises(InvalidHtypeError):
            ds.create_tensor("x", htype=bad)
    t = ds.create_tensor("im", htype="link[image]")
    with pytest.raises(SampleError, match="shoal.link"):
        t.append(images.path(NAMES[0]))
    with pytest.raises(InvalidCredsError, match="needs a creds key"):
        t.append(shoal.link("s3://bucket/a.jpg"))
    with pytest.raises(InvalidCredsError, match=r"unknown creds key 'nope' \(sample 1\)"):
        t.extend([shoal.link(images.path(NAMES[0])), shoal.link("s3://b/a.jpg", "nope")])
    with pytest.raises(LinkError, match="sample 1: linked file .*missing.jpg.* does not exist"):
        t.extend([shoal.link(images.path(NAMES[0])), shoal.link(images.path("missing.jpg"))])
    (tmp_path / "notimage.jpg").write_bytes(b"hello")
    with pytest.raises(LinkError, match="not a PNG, JPEG or .npy"):
        t.append(shoal.link(str(tmp_path / "notimage.jpg")))
    assert len(t) == 0  # every failed append left the tensor untouched


def test_s3_links_with_populated_keys(tmp_path: Path, images: Images, s3_server: S3Server) -> None:
    prefix = _upload(s3_server, images, s3_server.other_bucket)  # the admin's bucket only
    url = f"s3://{s3_server.other_bucket}/{prefix}"
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("im", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("admin")
    ds.add_creds_key("reader")
    ds.populate_creds("admin", s3_server.creds(s3_server.admin))
    ds.populate_creds("reader", s3_server.creds(s3_server.reader))
    ds.im.extend([shoal.link(f"{url}/{n}", creds_key="admin") for n in NAMES])
    ds.im.append(shoal.link(images.path(NAMES[0])))
    assert ds.get_creds_keys() == ["admin", "reader"] and ds.get_managed_creds_keys() == []
    stored = json.loads((tmp_path / "ds/linked_creds.json").read_text())
    assert stored == {
        "creds_keys": ["admin", "reader"],
        "managed_creds_keys": [],
        "used_creds_keys": ["admin"],
    }
    with pytest.raises(LinkError, match=r"sample 0: .* refused access with creds key 'reader'"):
        ds.im.append(shoal.link(f"{url}/{NAMES[0]}", creds_key="reader"))

    # secrets are never stored: a new session must populate the key again
    again = shoal.load(str(tmp_path / "ds"))
    with pytest.raises(InvalidCredsError, match=r"sample 2: creds key 'admin' has no credentials"):
        again.im[2].numpy()
    again.populate_creds("admin", s3_server.creds(s3_server.admin))
    got = again.im[1:4].numpy(aslist=True)
    for n, a in zip(NAMES[1:4], got, strict=True):
        np.testing.assert_array_equal(a, images.arrays[n])
    batches = list(again.loader(batch_size=2, tensors=["im"]))
    assert sum(len(b["im"]) for b in batches) == 5

    assert again.im[1].path() == f"{url}/{NAMES[1]}" and again.im[1].creds_key() == "admin"
    assert again.im[3:5].path() == [f"{url}/{NAMES[3]}", images.path(NAMES[0])]
    assert again.im[3:5].creds_key() == ["admin", None]

    # renaming a key keeps its samples readable; a key of the wrong kind is refused
    again.update_creds_key("admin", "owner")
    np.testing.assert_array_equal(again.im[0].numpy(), images.arrays[NAMES[0]])
    assert again.im[0].creds_key() == "owner"
    again.add_creds_key("g")
    again.populate_creds("g", {"gcs_oauth_token": "ya29.not-a-real-token"})
    with pytest.raises(InvalidCredsError, match="creds key 'g' holds gcs credentials.*s3 URL"):
        again.im.append(shoal.link(f"{url}/{NAMES[0]}", creds_key="g"))
    with pytest.raises(LinkError, match=r"sample 1: .*nothere.jpg.* does not exist"):
        again.im.extend(
            [shoal.link(f"{url}/{NAMES[0]}", "owner"), shoal.link(f"{url}/nothere.jpg", "owner")]
        )
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for who in (s3_server.admin, s3_server.reader):
                assert who.secret_key.encode() not in data
    text = repr(again) + repr(again._engine.links) + repr(again.im)
    assert s3_server.admin.secret_key not in text


def test_http_links(tmp_path: Path, images: Images, http_server: HttpServer) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("im", htype="link[image]")
    ds.add_creds_key("web")
    ds.populate_creds("web", {"Authorization": HTTP_TOKEN})
    ds.im.append(shoal.link(f"{http_server.url}/public/{NAMES[1]}"))
    ds.im.append(shoal.link(f"{http_server.url}/private/{NAMES[2]}", creds_key="web"))
    np.testing.assert_array_equal(ds.im[1].numpy(), images.arrays[NAMES[2]])
    with pytest.raises(LinkError, match="sample 0: .*private.* refused access"):
        ds.im.append(shoal.link(f"{http_server.url}/private/{NAMES[2]}"))
    with pytest.raises(LinkError, match="sample 0: .*nope.png.* does not exist"):
        ds.im.append(shoal.link(f"{http_server.url}/public/nope.png"))
    with pytest.raises(LinkError, match="sample 0: http://127.0.0.1:9/x.png is unreachable"):
        ds.im.append(shoal.link("http://127.0.0.1:9/x.png"))
    assert len(ds.im) == 2


def test_dataset_append_rows_with_links(tmp_path: Path, images: Images) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("im", htype="link[image]")
    ds.create_tensor("label", htype="class_label", class_names=["a", "b"])
    ds.append({"im": shoal.link(images.path(NAMES[1])), "label": "b"})
    ds.extend({"im": [shoal.link(images.path(NAMES[3]))], "label": ["a"]})
    with pytest.raises(LinkError, match="sample 0"):
        ds.append({"im": shoal.link(images.path("gone.png")), "label": "a"})
    assert len(ds) == 2 and len(ds.label) == 2
    np.testing.assert_array_equal(ds.im[1].numpy(), images.arrays[NAMES[3]])
    assert ds.im.meta["max_shape"] == list(images.arrays[NAMES[3]].shape)


def test_links_of_other_htypes(tmp_path: Path) -> None:
    np.save(tmp_path / "e1.npy", np.arange(4, dtype=np.float64))
    np.save(tmp_path / "e2.npy", np.arange(4, 8, dtype=np.float32))
    (tmp_path / "t.txt").write_text("hello links")
    (tmp_path / "j.json").write_text(json.dumps({"a": [1, 2]}))
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("e", htype="link[embedding]")
    ds.e.extend([shoal.link(str(tmp_path / "e1.npy")), shoal.link(str(tmp_path / "e2.npy"))])
    ds.create_tensor("t", htype="link[text]")
    ds.t.append(shoal.link(str(tmp_path / "t.txt")))
    ds.create_tensor("j", htype="link[json]")
    ds.j.append(shoal.link(str(tmp_path / "j.json")))
    again = shoal.load(str(tmp_path / "ds"))
    got = again.e.numpy()
    assert got.dtype == np.float32 and again.e.htype == "link[embedding]"
    np.testing.assert_array_equal(got, np.arange(8).reshape(2, 4))
    assert again.t[0].text() == "hello links" and again.j[0].dict() == {"a": [1, 2]}


def test_update_and_pop_links(tmp_path: Path, images: Images, s3_server: S3Server) -> None:
    prefix = _upload(s3_server, images, s3_server.bucket)
    url = f"s3://{s3_server.bucket}/{prefix}"
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("im", htype="link[image]")
    ds.add_creds_key("k")
    ds.populate_creds("k", s3_server.creds(s3_server.reader))
    ds.im.extend([shoal.link(images.path(n)) for n in NAMES])
    ds.im[1] = shoal.link(f"{url}/{NAMES[2]}", creds_key="k")
    with pytest.raises(LinkError, match="sample 0: .*gone.png.* does not exist"):
        ds.im[2] = shoal.link(images.path("gone.png"))
    ds.im.pop(0)
    again = shoal.load(str(tmp_path / "ds"))
    again.populate_creds("k", s3_server.creds(s3_server.reader))
    assert len(again.im) == 3
    assert again.im[0].creds_key() == "k" and again.im[0].path() == f"{url}/{NAMES[2]}"
    assert again.im[1:].creds_key() == [None, None]
    got = again.im.numpy(aslist=True)
    for n, a in zip([NAMES[2], NAMES[2], NAMES[3]], got, strict=True):
        np.testing.assert_array_equal(a, images.arrays[n])
    shapes = _loop.run(again._engine.tensor("_im_shape").read_stacked(np.arange(3)))
    assert shapes.tolist() == [list(images.arrays[n].shape) for n in (NAMES[2], NAMES[2], NAMES[3])]
    raw = (tmp_path / "ds/im/creds_index/unsharded").read_bytes()
    assert raw == b"\x063.9.52" + np.array([1, 0, 0, 2], dtype="<u4").tobytes()
