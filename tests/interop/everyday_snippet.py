"""A deeplake-3 script over the everyday htypes, run unchanged by deeplake 3.9.52 and by shoal
(imported as ``deeplake``): ``argv = [path, "create" | "open", "a" | "b" | "u" | "-", rgb png file,
gray png file]`` creates the tensors
(or opens the dataset), appends batch a or b (updates samples for "u", reads only for "-"), and prints what every tensor reads back as JSON.

Under deeplake it also checks the hidden companions (their lengths, and the shapes or list
lengths the shape companion records), which shoal's public API does not show.
"""

SNIPPET = r"""
import json

path, mode, step = argv[0], argv[1], argv[2]
rgb_png, gray_png = argv[3], argv[4]  # image files, converted to the tensors' modes on append
SPEC = {
    "mask": {"htype": "binary_mask", "sample_compression": "lz4"},
    "seg": {"htype": "segment_mask", "class_names": ["bg", "cat"]},
    "lst": {"htype": "list"},
    "lstz": {"htype": "list", "sample_compression": "lz4"},
    "tags": {"htype": "tag", "chunk_compression": "lz4"},
    "rgb": {"htype": "image.rgb", "sample_compression": "png"},
    "gray": {"htype": "image.gray", "sample_compression": "png"},
    "grayr": {"htype": "image.gray", "sample_compression": None},
    "box3": {"htype": "bbox.3d", "coords": {"mode": "center"}},
    "inst": {"htype": "instance_label"},
    "kp": {"htype": "keypoints_coco", "keypoints": ["a", "b"], "connections": [[0, 1]]},
    "pts": {"htype": "point"},
    "intr": {"htype": "intrinsics"},
    "poly": {"htype": "polygon"},
    "polyz": {"htype": "polygon", "dtype": "int32", "sample_compression": "lz4"},
    "pc": {"htype": "point_cloud", "sample_compression": None},
    "aud": {"htype": "audio", "sample_compression": None},
    "vid": {"htype": "video", "sample_compression": None},
}
k = 1 if step == "a" else 2
rng = np.random.RandomState(k)
img = rng.randint(0, 256, (5, 6, 4)).astype(np.uint8)
BATCH = {
    "mask": [rng.rand(4, 5) > 0.5, (rng.rand(3, 5) > 0.5).tolist()],
    "seg": [np.full((4, 5), k, np.uint32), np.zeros((2, 2), np.uint8)],
    "lst": [["x", k, {"n": None}], []] if k == 1 else [[1.5, [2, 3]]],
    "lstz": [["a"] * k, list(range(k + 2))],
    "tags": [["red", "big"], "small"] if k == 1 else [["x", "y", "z"]],
    "rgb": [img, img[:, :, :3], img[:, :, 0], deeplake.read(gray_png), deeplake.read(rgb_png)],
    "gray": [img, img[:, :, :3], img[:, :, 0], deeplake.read(rgb_png), deeplake.read(gray_png)],
    "grayr": [img[:, :, :3], img[:, :, 0]],
    "box3": [rng.rand(2, 8).astype(np.float32), np.zeros((0, 8), np.float32)],
    "inst": [np.array([k, 7], np.uint32), [3]],
    "kp": [rng.randint(0, 9, (6, 2)).astype(np.int32), [[1], [2], [2], [3], [4], [1]]],
    "pts": [[[1, 2], [3, 4], [k, k]]],
    "intr": [np.eye(3, dtype=np.float32) * k],
    "poly": [
        [np.array([[0, 0], [4, 0], [4, 3]], np.float32), [[1.5, 1], [2, 2]]],
        [],
        np.arange(12, dtype=np.float32).reshape(2, 3, 2) * k,
    ],
    "polyz": [[[[1, 2], [3, 4], [5, 6]]], [[[k, k], [k, 0]], [[9, 9], [8, 8], [7, 7]]]],
    "pc": [rng.rand(7, 3).astype(np.float32)],
    "aud": [rng.rand(10, 2)],
    "vid": [rng.randint(0, 256, (2, 3, 4, 3)).astype(np.uint8)],
}
if mode == "create":
    ds = deeplake.empty(path, overwrite=True)
    for name, kwargs in SPEC.items():
        ds.create_tensor(name, **kwargs)
else:
    ds = deeplake.load(path)
UPDATES = {
    "mask": np.ones((2, 3), bool),
    "seg": np.full((3, 3), 1, np.uint32),
    "lst": ["new", [1, 2], 3.5],
    "lstz": [],
    "tags": ["solo"],  # deeplake wraps a bare tag on append, not on update
    # (not image.rgb / image.gray: deeplake converts their samples on append, not on update)
    "box3": np.ones((3, 8), np.float32),
    "kp": np.zeros((3, 4), np.int32),
    "poly": [[[5, 5], [6, 6], [7, 5], [6, 4]]],
    "polyz": [],
}
if step == "u":  # update the first sample of some tensors
    with ds:
        for name, value in UPDATES.items():
            ds[name][0] = value
elif step != "-":  # "-": read only
    with ds:
        for name, samples in BATCH.items():
            ds[name].extend(samples)


def plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def expected_shape(htype, v):
    if htype in ("list", "tag"):
        return [len(v)]
    if htype == "polygon":
        return [len(v), max(len(p) for p in v), len(v[0][0])] if len(v) else [0, 0, 0]
    return list(v.shape)


hidden = ds._tensors(include_hidden=True) if hasattr(ds, "_tensors") else None
out = {}
for name in SPEC:
    t = ds[name]
    if t.htype in ("list", "tag"):
        values = t.list()
    elif t.htype == "polygon":
        values = t.numpy()
    else:
        values = t.numpy(aslist=True)
    one = t[len(t) - 1]
    out[name] = {
        "values": plain(values),
        "last": plain(one.list() if t.htype in ("list", "tag") else one.numpy()),
        # deeplake's data() of uncompressed point clouds is {} and of video raises
        "data": None if t.htype in ("point_cloud", "video") else plain(one.data()["value"]),
        "htype": t.htype,
        "dtype": str(t.meta.dtype),
        "public_dtype": str(t.dtype),
        "shape": list(t.shape),
        "sample_shape": list(one.shape),
        "shapes": t.shapes().tolist(),
        "min_shape": list(t.meta.min_shape),
        "max_shape": list(t.meta.max_shape),
        "info": {key: plain(v) for key, v in t.info.items()},
        "len": len(t),
    }
    if hidden is not None:  # deeplake: the companions agree with the samples
        problems = []
        for key in t.meta.links:
            if len(hidden[key]) != len(t):
                problems.append(f"{key} has {len(hidden[key])} samples")
            elif key.endswith("_shape"):
                got = [list(map(int, a)) for a in hidden[key].numpy(aslist=True)]
                want = [expected_shape(t.htype, v) for v in values]
                if got != want:
                    problems.append(f"{key} holds {got}, samples are {want}")
        assert not problems, (name, problems)
        out["_companions_checked"] = out.get("_companions_checked", 0) + len(t.meta.links)
print(json.dumps(out))
"""
