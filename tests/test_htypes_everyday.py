"""The everyday deeplake htypes beyond the first seven (masks, lists, tags, image modes, 3-D
boxes, keypoints, points, intrinsics, polygons, uncompressed point clouds, audio and video):
their round-trip cases (run by test_htypes.test_round_trip), their conversions, and the
specific errors bad samples and arguments get."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import _native, errors
from shoal.format import htypes
from shoal.format.htypes.image_modes import gray_of_array, gray_of_file


def _path() -> str:
    return f"mem://everyday-{uuid.uuid4().hex}"


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.asarray(a).dtype == np.asarray(b).dtype


def _eq(got: Any, want: Any) -> None:
    assert got == want, f"{got!r} != {want!r}"


MASK = np.array([[True, False, True], [False, True, False]])
SEG = np.array([[0, 1, 2], [2, 1, 0]], np.uint32)
RGBA = (np.arange(3 * 4 * 4) % 256).astype(np.uint8).reshape(3, 4, 4)
POLYS = [np.array([[0, 0], [4, 0], [4, 3]], np.float32), np.array([[1, 1], [2, 2]], np.float32)]


def _polygons_equal(got: Any, want: list[np.ndarray]) -> None:
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _same(g, w)


EVERYDAY_CASES: dict[str, tuple[dict[str, Any], Any, Callable[[Any], None]]] = {
    "binary_mask": (
        {"sample_compression": "lz4"},
        MASK.tolist(),  # lists of bools are taken as they are
        lambda t: (_same(t[0].numpy(), MASK), _eq(t.dtype, np.dtype(bool))),
    ),
    "segment_mask": (
        {"class_names": ["bg", "cat", "dog"]},
        SEG,
        lambda t: (
            _same(t[1].numpy(), SEG),
            _eq(list(t.info["class_names"]), ["bg", "cat", "dog"]),
        ),
    ),
    "list": (
        {"chunk_compression": "lz4"},
        ["a", 1, {"b": None}],
        lambda t: (
            _eq(t[0].list(), ["a", 1, {"b": None}]),
            _eq(t.list(), [["a", 1, {"b": None}]] * 2),
            _eq(t[0].data(), {"value": ["a", 1, {"b": None}]}),
            _eq(t[0].numpy().tolist(), ["a", 1, {"b": None}]),
        ),
    ),
    "tag": (
        {"sample_compression": "lz4"},
        "outdoor",  # one tag: stored as a one-tag list
        lambda t: (
            _eq(t.list(), [["outdoor"], ["outdoor"]]),
            _eq(t[1].data(), {"value": ["outdoor"]}),
        ),
    ),
    "image.rgb": (
        {"sample_compression": "png"},
        RGBA,  # alpha dropped
        lambda t: (_same(t[0].numpy(), RGBA[:, :, :3]), _eq(t.shape, (2, 3, 4, 3))),
    ),
    "image.gray": (
        {"sample_compression": "png"},
        RGBA,
        lambda t: (
            _same(t[0].numpy(), gray_of_array(RGBA)[:, :, None]),
            _eq(t.shape, (2, 3, 4, 1)),
        ),
    ),
    "bbox.3d": (
        {"coords": {"mode": "center"}},
        np.arange(16, dtype=np.float32).reshape(2, 8),
        lambda t: (
            _same(t[0].numpy(), np.arange(16, dtype=np.float32).reshape(2, 8)),
            _eq(dict(t.info["coords"]), {"mode": "center"}),
        ),
    ),
    "instance_label": ({}, [3, 1], lambda t: _same(t[0].numpy(), np.array([3, 1], np.uint32))),
    "keypoints_coco": (
        {"keypoints": ["nose", "eye"], "connections": [[0, 1]]},
        [[10, 20], [11, 21], [2, 2], [30, 40], [31, 41], [2, 1]],
        lambda t: (
            _eq(t[0].numpy().shape, (6, 2)),
            _eq(t.dtype, np.dtype(np.int32)),
            _eq(list(t.info["keypoints"]), ["nose", "eye"]),
            _eq([list(c) for c in t.info["connections"]], [[0, 1]]),
        ),
    ),
    "point": (
        {},
        [[1, 2], [3, 4]],
        lambda t: _same(t[0].numpy(), np.array([[1, 2], [3, 4]], np.int32)),
    ),
    "intrinsics": (
        {},
        np.eye(3, dtype=np.float32),
        lambda t: _same(t[0].numpy(), np.eye(3, dtype=np.float32)),
    ),
    "polygon": (
        {},
        POLYS,
        lambda t: (
            _polygons_equal(t[0].numpy(), POLYS),
            _polygons_equal(t.numpy()[1], POLYS),
            _eq(t[0].shape, (2, 3, 2)),
            _eq(t.dtype, np.dtype(np.float32)),
        ),
    ),
    "point_cloud": (
        {},
        np.ones((5, 3), np.float32),
        lambda t: _same(t[0].numpy(), np.ones((5, 3), np.float32)),
    ),
    "audio": ({}, np.zeros((8, 2)), lambda t: _same(t[0].numpy(), np.zeros((8, 2)))),
    "video": (
        {},
        np.zeros((2, 4, 4, 3), np.uint8),
        lambda t: _same(t[0].numpy(), np.zeros((2, 4, 4, 3), np.uint8)),
    ),
}


def _tensor(htype: str, **kwargs: Any) -> Any:
    ds = shoal.empty(_path())
    ds.create_tensor("x", htype=htype, **kwargs)
    return ds.x


@pytest.mark.parametrize(
    ("htype", "sample", "match"),
    [
        (
            "binary_mask",
            np.ones((2, 2), np.uint8),
            r"'x' \(htype 'binary_mask'\) stores bool; .*uint8",
        ),
        ("binary_mask", np.ones(3, bool), r"'x' \(htype 'binary_mask'\) takes \(H, W\).*\(3,\)"),
        (
            "segment_mask",
            np.ones((2, 2), np.int64),
            r"'x' \(htype 'segment_mask'\) stores uint32; .*int64",
        ),
        ("segment_mask", "cat", r"'x' \(htype 'segment_mask'\) takes numeric arrays.*str"),
        (
            "bbox.3d",
            np.zeros((2, 4), np.float32),
            r"'x' \(htype 'bbox.3d'\) takes \(N, 8\).*\(2, 4\)",
        ),
        ("point", np.zeros((2, 4), np.int32), r"'x' \(htype 'point'\) takes \(N, 2\).*\(2, 4\)"),
        ("point", np.zeros((2, 2), np.float64), r"'x' \(htype 'point'\) stores int32; .*float64"),
        ("keypoints_coco", np.zeros((5, 2), np.int32), r"\(3 \* K, N\).*\(5, 2\)"),
        ("image.rgb", np.zeros((4, 4, 2), np.uint8), r"'x' \(htype 'image.rgb'\).*\(4, 4, 2\)"),
        ("image.gray", np.zeros((4, 4, 3), np.float32), r"'x' \(htype 'image.gray'\) stores uint8"),
        ("list", "abc", r"'x' \(htype 'list'\) takes lists; sample 0 is str"),
        ("polygon", [[]], "polygon 0 is empty"),
        ("polygon", [[[1, 2], [3, 4]], [[1, 2, 3]]], "3-D points, polygon 0 has 2-D"),
        ("polygon", [[1, 2, 3]], r"polygon 0 has shape \(3,\)"),
        ("polygon", 5, "is int; a sample is a list of polygons"),
        ("polygon", [[["a", "b"]]], "numeric points"),
    ],
)
def test_bad_samples_get_a_specific_error(htype: str, sample: Any, match: str) -> None:
    t = _tensor(htype)
    with pytest.raises(errors.SampleError, match=match):
        t.append(sample)
    assert len(t) == 0


@pytest.mark.parametrize(
    ("htype", "kwargs", "error", "match"),
    [
        ("dicom", {}, errors.InvalidHtypeError, "does not support htype 'dicom'.*DICOM"),
        ("nifti", {}, errors.InvalidHtypeError, "does not support htype 'nifti'"),
        ("mesh", {}, errors.InvalidHtypeError, "does not support htype 'mesh'"),
        (
            "point_cloud",
            {"sample_compression": "las"},
            errors.InvalidCompressionError,
            "uncompressed only.*'las'",
        ),
        (
            "audio",
            {"sample_compression": "mp3"},
            errors.InvalidCompressionError,
            "uncompressed only.*'mp3'",
        ),
        (
            "video",
            {"chunk_compression": "lz4"},
            errors.InvalidCompressionError,
            "uncompressed only",
        ),
        ("bbox.3d", {"coords": {"type": "pixel"}}, errors.InvalidHtypeError, "key 'mode' only"),
        ("bbox.3d", {"coords": ["mode"]}, errors.InvalidHtypeError, "must be a dict"),
        ("keypoints_coco", {"keypoints": "nose"}, errors.InvalidHtypeError, "must be a list"),
        ("segment_mask", {"class_names": "cat"}, errors.InvalidHtypeError, "list of strings"),
        ("list", {"dtype": "int32"}, errors.InvalidHtypeError, "stores JSON lists"),
        (
            "polygon",
            {"sample_compression": "png"},
            errors.InvalidCompressionError,
            "image compression",
        ),
        (
            "binary_mask",
            {"sample_compression": "jpeg"},
            errors.InvalidCompressionError,
            "image compression",
        ),
        ("link[list]", {}, errors.InvalidHtypeError, "cannot hold 'list'"),
        ("link[image.rgb]", {}, errors.InvalidHtypeError, "cannot hold 'image.rgb'"),
        ("link[polygon]", {}, errors.InvalidHtypeError, "cannot hold 'polygon'"),
        ("sequence[tag]", {}, errors.InvalidHtypeError, "deeplake refuses it too"),
    ],
)
def test_bad_arguments_get_a_specific_error(
    htype: str, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    ds = shoal.empty(_path())
    with pytest.raises(error, match=match):
        ds.create_tensor("x", htype=htype, **kwargs)
    assert list(ds.tensors) == []


def test_image_modes_convert_as_deeplake_does() -> None:
    gray2d = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = _tensor("image.rgb", sample_compression=None)
    rgb.append(gray2d)  # a gray image: its channel three times
    _same(rgb[0].numpy(), np.repeat(gray2d[:, :, None], 3, axis=2))
    gray = _tensor("image.gray", sample_compression="lz4")
    gray.extend([gray2d, RGBA])  # uncompressed or lz4: (H, W), as deeplake keeps them
    _same(gray[0].numpy(), gray2d)
    _same(gray[1].numpy(), gray_of_array(RGBA))
    # deeplake truncates each weighted channel (172, 47, 117 -> 51 + 27 + 13)
    _eq(int(gray_of_array(np.array([[[172, 47, 117]]], np.uint8))[0, 0]), 91)
    _eq(int(gray_of_file(np.array([[[172, 47, 117]]], np.uint8))[0, 0]), 92)  # Pillow rounds


def test_image_mode_files_convert_like_pillow() -> None:
    png_rgb = bytes(_native.png_encode(np.ascontiguousarray(RGBA[:, :, :3])))
    png_gray = bytes(_native.png_encode(np.ascontiguousarray(RGBA[:, :, 0])))
    gray = _tensor("image.gray", sample_compression="png")
    gray.extend([png_rgb, png_gray])
    _same(gray[0].numpy(), gray_of_file(RGBA)[:, :, None])
    _same(gray[1].numpy(), RGBA[:, :, :1])
    rgb = _tensor("image.rgb", sample_compression="png")
    rgb.extend([png_gray, png_rgb])
    _same(rgb[0].numpy(), np.repeat(RGBA[:, :, :1], 3, axis=2))
    _same(rgb[1].numpy(), RGBA[:, :, :3])


def test_polygons_serialise_as_deeplake_does() -> None:
    ht = htypes.get_htype("polygon").bind({"dtype": "float32"})
    blob = ht.convert(POLYS, htypes.SampleContext("p", {}))
    lengths = np.array([3, 2], np.uint16).tobytes()
    points = np.concatenate(POLYS).tobytes()
    assert blob == htypes.Blob(b"\x02\x00" + lengths + points, (2, 3, 2))
    _polygons_equal(ht.decode(blob.data, "p"), POLYS)
    assert ht.convert(None, htypes.SampleContext("p", {})) == htypes.Blob(b"", (0, 0, 0))
    assert ht.decode(b"", "p") == []
    with pytest.raises(errors.CorruptDataError, match="does not parse"):
        ht.decode(b"\x02\x00\x03\x00", "p")
    ints = htypes.get_htype("polygon").bind({"dtype": "int32", "sample_compression": "lz4"})
    blob = ints.convert([[[1, 2], [3, 4]]], htypes.SampleContext("p", {}))
    _polygons_equal(ints.decode(blob.data, "p"), [np.array([[1, 2], [3, 4]], np.int32)])


def test_polygon_samples_may_be_empty_or_a_3d_array() -> None:
    t = _tensor("polygon", sample_compression="lz4")
    t.extend([None, [], np.zeros((2, 3, 2))])
    assert t[0].numpy() == [] and t[1].numpy() == []
    _polygons_equal(t[2].numpy(), [np.zeros((3, 2), np.float32)] * 2)
    _eq(t.meta["min_shape"], [0, 0, 0])
    _eq(t.meta["max_shape"], [2, 3, 2])
    t[1] = POLYS  # updates re-serialise the sample
    _polygons_equal(t[1].numpy(), POLYS)


def test_list_and_tag_companions() -> None:
    ds = shoal.empty(_path())
    ds.create_tensor("l", htype="list")
    ds.create_tensor("g", htype="tag", dtype="str")
    ds.l.extend([[1, 2, 3], []])
    ds.g.extend([["a"], "b"])
    _eq(
        ds.l.meta["links"]["_l_shape"],
        {"extend": "extend_len", "flatten_sequence": True, "update": "update_len"},
    )
    _eq(ds._engine.tensor("_l_shape").length, 2)
    _eq(ds.g.meta["dtype"], "str")
    assert "_g_shape" not in ds._engine.meta["tensors"]
    _eq(ds.l.list(), [[1, 2, 3], []])
    _eq(ds.l.shapes().tolist(), [[3], [0]])  # lengths, from the shape companion
    _eq(ds.g.shapes().tolist(), [[1], [1]])  # from the samples: tags have no companion
    like = ds.create_tensor_like("l2", ds.l)
    _eq(like.meta["links"]["_l2_shape"]["extend"], "extend_len")
    ds.create_tensor("s", htype="text")
    with pytest.raises(errors.ShoalError, match=r"list\(\) is for htype 'list' or 'tag'"):
        ds.s.list()


def test_web_previews_of_lists_and_polygons_are_their_json() -> None:
    from shoal import _loop
    from shoal.platform.web import samples_plan

    ds = shoal.empty(_path())
    ds.create_tensor("p", htype="polygon")
    ds.create_tensor("l", htype="list", sample_compression="lz4")
    ds.p.append([[[1, 2], [3, 4]]])
    ds.l.append(["a", 1])
    ds.flush()
    engine = ds._engine
    previews = {
        name: _loop.run(samples_plan._server_previews(engine.tensor(name), np.array([0])))
        for name in ("p", "l")
    }
    assert previews == {"p": [{"text": "[[[1.0, 2.0], [3.0, 4.0]]]"}], "l": [{"text": '["a", 1]'}]}
    assert not samples_plan._browser_decodes(engine.tensor("p"))
    assert not samples_plan._browser_decodes(engine.tensor("l"))
