"""The htype registry: every htype appends and reads back through the public API, lookups of
unknown htypes name the known ones, and an htype defined in one place (here, a test-local
subclass registered at runtime) works end to end."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

import shoal
from shoal import _native, errors
from shoal.format import htypes
from shoal.format.htypes import HType, SampleContext
from tests.test_htypes_everyday import EVERYDAY_CASES


def _path() -> str:
    return f"mem://htypes-{uuid.uuid4().hex}"


def _png(arr: np.ndarray) -> bytes:
    return bytes(_native.png_encode(np.ascontiguousarray(arr)))


IMAGE = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.asarray(a).dtype == np.asarray(b).dtype


# htype -> (create_tensor kwargs, sample to append, check of what the reopened tensor gives back)
CASES: dict[str, tuple[dict[str, Any], Any, Callable[[Any], None]]] = {
    "generic": (
        {"dtype": "int16"},
        np.arange(6, dtype=np.int16).reshape(2, 3),
        lambda t: _same(t[0].numpy(), np.arange(6, dtype=np.int16).reshape(2, 3)),
    ),
    "class_label": (
        {"class_names": ["cat", "dog"]},
        ["dog", "bird"],
        lambda t: (
            _same(t[0].numpy(), np.array([1, 2], np.uint32)),
            _check_equal(t[0].data()["text"], ["dog", "bird"]),
            _check_equal(list(t.info["class_names"]), ["cat", "dog", "bird"]),
        ),
    ),
    "image": (
        {"sample_compression": "png"},
        _png(IMAGE),
        lambda t: _same(t[0].numpy(), IMAGE),
    ),
    "text": (
        {},
        "héllo wörld",
        lambda t: (
            _check_equal(t[0].text(), "héllo wörld"),
            _check_equal(t[0].data(), {"value": "héllo wörld"}),
            _check_equal(t.dtype, np.dtype(str)),
        ),
    ),
    "json": (
        {},
        {"a": [1, 2.5, None], "b": {"c": "d"}, "n": np.int64(3)},
        lambda t: (
            _check_equal(t[0].dict(), {"a": [1, 2.5, None], "b": {"c": "d"}, "n": 3}),
            _check_equal(t.dtype, np.dtype(object)),
        ),
    ),
    "embedding": (
        {},
        [0.5, 1.5, -2.0],
        lambda t: _same(t[0].numpy(), np.array([0.5, 1.5, -2.0], np.float32)),
    ),
    "bbox": (
        {"coords": {"type": "pixel", "mode": "LTWH"}},
        np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32),
        lambda t: (
            _same(t[0].numpy(), np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)),
            _check_equal(dict(t.info["coords"]), {"type": "pixel", "mode": "LTWH"}),
        ),
    ),
}


CASES.update(EVERYDAY_CASES)


def _check_equal(got: Any, want: Any) -> None:
    assert got == want


def test_every_creatable_htype_has_a_round_trip_case() -> None:
    assert set(CASES) == set(htypes.known_htypes(creatable_only=True))


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name: str) -> None:
    kwargs, sample, check = CASES[name]
    path = _path()
    ds = shoal.empty(path)
    ds.create_tensor("x", htype=name, **kwargs)
    ds.x.append(sample)
    ds.x.append(sample)
    check(ds.x)  # before and after reopening: staged and stored reads agree
    again = shoal.load(path)
    assert again.x.htype == name
    assert len(again.x) == 2
    check(again.x)
    ht = htypes.get_htype(name)
    meta = again.x.meta
    assert meta["htype"] == name
    for key, default in ht.meta_defaults.items():
        assert meta[key] == default  # user values of info keys live in the info only
    assert meta.get("_info", []) == list(ht.info_keys)
    hidden = set(again._engine.meta["hidden_tensors"])
    assert hidden == {f"_x_{kind}" for kind in ht.companions}


def test_batch_arrays_take_the_same_checks() -> None:
    ds = shoal.empty(_path())
    ds.create_tensor("img", htype="image", dtype="uint8")
    ds.create_tensor("box", htype="bbox")
    ds.create_tensor("lab", htype="class_label")
    ds.img.extend(np.zeros((3, 4, 4), np.uint8))  # (H, W) samples
    assert ds.img.shape == (3, 4, 4)
    with pytest.raises(errors.SampleError, match="C in 1..4"):
        ds.img.extend(np.zeros((2, 4, 4, 7), np.uint8))
    with pytest.raises(errors.SampleError, match=r"\(N, 4\) boxes"):
        ds.box.extend(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(errors.SampleError, match="negative label"):
        ds.lab.extend([[1], [-1]])
    assert (len(ds.img), len(ds.box), len(ds.lab)) == (3, 0, 0)


def test_unknown_htype_names_the_known_ones() -> None:
    with pytest.raises(errors.InvalidHtypeError) as err:
        htypes.get_htype("imagez")
    for name in htypes.known_htypes(creatable_only=True):
        assert repr(name) in str(err.value)
    ds = shoal.empty(_path())
    with pytest.raises(errors.InvalidHtypeError, match="unknown htype 'imagez'.*'bbox'"):
        ds.create_tensor("x", htype="imagez")
    with pytest.raises(errors.InvalidHtypeError, match="unknown htype 5"):
        htypes.get_htype(5)


def test_list_and_tag_samples_serialise_as_deeplake_does() -> None:
    ctx = SampleContext("t", {})
    blob = htypes.get_htype("list").convert(np.array([1, 2, 3]), ctx)
    assert blob == htypes.Blob(b"[1, 2, 3]", (3,))  # deeplake's text_to_bytes
    assert htypes.get_htype("tag").convert("a", ctx) == htypes.Blob(b'["a"]', (1,))
    assert htypes.get_htype("tag").decode(b'["a", "b"]', "t") == ["a", "b"]
    with pytest.raises(errors.CorruptDataError, match="not a JSON list"):
        htypes.get_htype("list").decode(b"{}", "t")
    lz4 = htypes.get_htype("list").bind({"sample_compression": "lz4"})
    assert lz4.decode(lz4.convert(["x"], ctx).data, "t") == ["x"]


def test_options_and_compressions_come_from_the_htype() -> None:
    ds = shoal.empty(_path())
    with pytest.raises(errors.InvalidHtypeError, match=r"accepted: \['class_names'\]"):
        ds.create_tensor("x", htype="class_label", coords={})
    with pytest.raises(errors.InvalidCompressionError, match="uncompressed only"):
        ds.create_tensor("x", htype="audio", sample_compression="lz4")
    with pytest.raises(errors.InvalidCompressionError, match="fits htype 'image', not 'json'"):
        ds.create_tensor("x", htype="json", sample_compression="png")
    with pytest.raises(errors.InvalidCompressionError, match="fits htype 'image', not 'bbox'"):
        ds.create_tensor("x", htype="bbox", sample_compression="png")
    with pytest.raises(errors.InvalidHtypeError, match="stores str"):
        ds.create_tensor("x", htype="text", dtype="int32")
    assert list(ds.tensors) == []


def test_companion_sets_are_live_views_of_the_registry() -> None:
    assert set(htypes.TEXT_LIKE) == {"json", "list", "polygon", "tag", "text"}
    assert set(htypes.INFO_HTYPES) == {"audio", "image", "point_cloud", "segment_mask", "video"}
    assert set(htypes.NO_SHAPE_HTYPES) == {"json", "tag", "text"}
    assert "image" in htypes.INFO_HTYPES and "nope" not in htypes.INFO_HTYPES


def test_stored_htypes_shoal_does_not_know_read_as_arrays() -> None:
    mesh = htypes.htype_of("mesh")
    assert mesh.name == "mesh" and not mesh.creatable and not mesh.is_object
    assert htypes.htype_of(None) is htypes.get_htype("generic")
    assert htypes.array_dtype("List") is None and htypes.array_dtype("uint8") == np.uint8


def test_companion_samples() -> None:
    shapes = [(2, 3), (4, 5)]
    ids = htypes.companion_samples("x", "extend_id", shapes)
    assert ids.shape == (2, 1) and ids.dtype == np.uint64
    _same(htypes.companion_samples("x", "extend_shape", shapes), np.array(shapes, np.int64))
    assert htypes.companion_samples("x", "extend_info", shapes) == [{}, {}]
    with pytest.raises(errors.ReadOnlyError, match="extend_magic"):
        htypes.companion_samples("x", "extend_magic", shapes)
    assert htypes.COMPANIONS["shape"].link() == {
        "extend": "extend_shape",
        "flatten_sequence": True,
        "update": "update_shape",
    }


# -- an htype defined in one place ---------------------------------------------------------------


class Points(HType):
    """2-D points: an (N, 2) int32 array per sample, also accepted as text like "1,2;3,4"."""

    name = "test_points"
    default_dtype = "int32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"units": "px", "frame": None}
    info_keys = ("frame",)

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        if isinstance(sample, str):
            return [[int(v) for v in p.split(",")] for p in sample.split(";")]
        return sample

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise errors.SampleError(
                f"tensor {ctx.tensor!r} takes (N, 2) points; sample {ctx.index} has {arr.shape}"
            )
        return arr


@pytest.fixture
def points() -> Iterator[HType]:
    ht = htypes.register_htype(Points())
    try:
        yield ht
    finally:
        htypes.unregister_htype(ht.name)


def test_an_htype_registered_at_runtime_works_end_to_end(points: HType) -> None:
    assert "test_points" in htypes.known_htypes(creatable_only=True)
    assert "test_points" not in htypes.INFO_HTYPES and "test_points" not in htypes.NO_SHAPE_HTYPES
    path = _path()
    ds = shoal.empty(path)
    with pytest.raises(errors.InvalidHtypeError, match=r"accepted: \['frame', 'units'\]"):
        ds.create_tensor("p", htype="test_points", colour="red")
    ds.create_tensor("p", htype="test_points", units="mm", frame="camera")
    ds.p.append("1,2;3,4;5,6")
    ds.p.extend([np.array([[7, 8]], np.int32), [[9, 10], [11, 12]]])
    with pytest.raises(errors.SampleError, match=r"\(N, 2\) points; sample 1"):
        ds.p.extend([[[1, 2]], [1, 2, 3]])
    again = shoal.load(path)
    assert again.p.htype == "test_points"
    assert again.p.meta["units"] == "mm" and again.p.meta["frame"] is None
    assert again.p.meta["_info"] == ["frame"]
    assert again.p.info["frame"] == "camera"
    assert again.p.dtype == np.int32
    assert len(again.p) == 3
    _same(again.p[0].numpy(), np.array([[1, 2], [3, 4], [5, 6]], np.int32))
    got = again.p.numpy(aslist=True)
    _same(got[1], np.array([[7, 8]], np.int32))
    _same(got[2], np.array([[9, 10], [11, 12]], np.int32))
    _same(again._engine.tensor("_p_shape").length, 3)
    again.p.append("0,0")
    assert len(shoal.load(path).p) == 4


def test_registering_twice_is_refused(points: HType) -> None:
    with pytest.raises(errors.InvalidHtypeError, match="already registered"):
        htypes.register_htype(Points())
    with pytest.raises(TypeError, match="HType instance"):
        htypes.register_htype("test_points")  # type: ignore[arg-type]
