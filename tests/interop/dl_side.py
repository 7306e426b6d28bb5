"""The deeplake side of the interop tests.

Runs ONLY under the python of the deeplake 3.9.52 venv (made by .ci/setup-deeplake-venv); shoal's
tests never import it, they run it as a subprocess (see conftest.py). It must stay importable
without shoal and must not use anything newer than deeplake's numpy<2.

    python dl_side.py selftest
    python dl_side.py write-all DIR
    python dl_side.py write-versioned DIR           # prints {"commits": {...}} as JSON on stdout
    python dl_side.py dump PATH OUT [--branch B]    # B: a branch name or a commit id
    python dl_side.py append PATH SPEC_JSON [--branch B]  # SPEC_JSON: inline JSON or @file
    python dl_side.py check PATH
    python dl_side.py create-empty PATH SPEC_JSON   # SPEC_JSON: {"tensor": {create_tensor kwargs}}
    python dl_side.py lengths OUT PATH...           # per path: loads? tensor lengths, x, images
    python dl_side.py copy-delete SRC DST           # deeplake.copy SRC to DST, load it, delete SRC

Offline by construction, before deeplake is imported:
* HOME points at a private directory (default <venv>/home) whose ~/.activeloop holds a fresh
  pypi_version.json (so deeplake's import-time version check never asks pypi.org) and a
  reporting_config.json with consent false; BUGGER_OFF=yes too (humbug crash/usage reports to
  spire.bugout.dev);
* every socket connection or name lookup that is not loopback raises, so a code path we missed
  fails loudly instead of phoning home.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import sys
import time
import traceback

# --------------------------------------------------------------------------------------------
# Offline guard: must run before `import deeplake`.

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    return host in _LOOPBACK_NAMES or host.startswith("127.")


BLOCKED: list = []  # every refused attempt; main() fails the command if any happened


def _refuse(what: str) -> None:
    BLOCKED.append(what)
    print(f"dl_side: blocked network access to {what}", file=sys.stderr)
    raise OSError(f"dl_side: network access to {what} blocked (interop tests are offline)")


def _install_network_guard() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            _refuse(repr(host))
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                _refuse(repr(address))

    def connect(self, address):
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def _prepare_home() -> None:
    home = os.environ.get("SHOAL_DEEPLAKE_HOME") or os.path.join(sys.prefix, "home")
    os.environ["HOME"] = home
    os.environ["BUGGER_OFF"] = "yes"
    # never authenticate against anything
    for var in ("ACTIVELOOP_TOKEN", "ACTIVELOOP_AUTH_PROVIDER"):
        os.environ.pop(var, None)
    cfg = os.path.join(home, ".activeloop")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "pypi_version.json"), "w") as f:
        json.dump(["3.9.52", time.time()], f)  # "checked a moment ago": no request to pypi.org
    with open(os.path.join(cfg, "reporting_config.json"), "w") as f:
        json.dump({"consent": False, "client_id": "shoal-interop"}, f)


_prepare_home()
_install_network_guard()

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import deeplake  # noqa: E402
import numpy as np  # noqa: E402

assert deeplake.__version__ == "3.9.52", deeplake.__version__

# --------------------------------------------------------------------------------------------
# helpers

ARRAY_HTYPES_TEXT = {"text"}
ARRAY_HTYPES_JSON = {"json"}


def die(msg: str, code: int = 1) -> None:
    print(f"dl_side: {msg}", file=sys.stderr)
    sys.exit(code)


def image(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    """A smooth-ish uint8 image (gradient + noise): compresses like a picture, not like noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    chans = []
    for k in range(c):
        base = (xx * (3 + k) + yy * (5 - k) + 40 * k) % 256
        chans.append(base)
    arr = np.stack(chans, axis=-1).astype(np.int32)
    arr += rng.integers(-12, 13, size=arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def open_ds(path: str, read_only: bool):
    return deeplake.load(path, read_only=read_only, verbose=False, check_integrity=True)


# --------------------------------------------------------------------------------------------
# write-all


def write_all(path: str) -> None:
    rng = np.random.default_rng(1234)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    with ds:
        # generic float32, varying shapes, several chunks
        ds.create_tensor("gen", htype="generic", dtype="float32", max_chunk_size=1000)
        for _ in range(24):
            shape = (int(rng.integers(1, 9)), int(rng.integers(1, 12)))
            ds.gen.append(rng.standard_normal(shape).astype(np.float32))

        ds.create_tensor("fixed", htype="generic", dtype="int16", max_chunk_size=2000)
        ds.fixed.extend(rng.integers(-30000, 30000, size=(60, 4, 5)).astype(np.int16))

        ds.create_tensor("flags", htype="generic", dtype="bool", max_chunk_size=2000)
        for _ in range(40):
            ds.flags.append(rng.integers(0, 2, size=(int(rng.integers(1, 50)),)).astype(bool))

        ds.create_tensor(
            "labels", htype="class_label", class_names=["cat", "dog", "bird"], max_chunk_size=2000
        )
        ds.labels.extend([0, 1, 2, 1, 0])
        ds.labels.extend(["dog", "bird", "cat"])
        ds.labels.append("fish")  # a new name: class_names grows
        ds.labels.append(np.uint32(2))
        for _ in range(600):
            ds.labels.append(int(rng.integers(0, 4)))

        ds.create_tensor("img_png", htype="image", sample_compression="png", max_chunk_size=8000)
        for _ in range(12):
            h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
            ds.img_png.append(image(rng, h, w, 3))
        ds.img_png.append(image(rng, 17, 23, 1))  # grayscale (H, W, 1)
        ds.img_png.append(image(rng, 20, 20, 3))

        ds.create_tensor("img_jpg", htype="image", sample_compression="jpeg", max_chunk_size=5000)
        for _ in range(12):
            h, w = int(rng.integers(8, 48)), int(rng.integers(8, 48))
            ds.img_jpg.append(image(rng, h, w, 3))

        ds.create_tensor(
            "raw_img", htype="image", dtype="uint8", sample_compression=None, max_chunk_size=20000
        )
        for _ in range(10):
            h, w = int(rng.integers(20, 40)), int(rng.integers(20, 40))
            ds.raw_img.append(image(rng, h, w, 3))

        ds.create_tensor("txt", htype="text", max_chunk_size=2000)
        words = ["hello", "wörld", "日本語のテキスト", "emoji 🚀✨", "", "naïve café", "Ελληνικά"]
        for _ in range(80):
            n = int(rng.integers(0, 6))
            ds.txt.append(" ".join(words[int(j)] for j in rng.integers(0, len(words), size=n)))

        ds.create_tensor("js", htype="json", max_chunk_size=2000)
        for i in range(40):
            ds.js.append(
                {
                    "i": i,
                    "name": f"sample-{i}-ü",
                    "tags": [f"t{j}" for j in range(i % 4)],
                    "nested": {"a": [1, 2.5, None, True], "b": {"c": "d" * (i % 7)}},
                    "score": float(i) / 7.0,
                }
            )

        ds.create_tensor("emb", htype="embedding", dtype="float32", max_chunk_size=1000)
        ds.emb.extend(rng.standard_normal((50, 16)).astype(np.float32))

        ds.create_tensor("boxes", htype="bbox", dtype="float32", max_chunk_size=2000)
        for _ in range(40):
            n = int(rng.integers(0, 6))
            ds.boxes.append((rng.random((n, 4)) * 100).astype(np.float32))

        ds.create_tensor(
            "lz4", htype="generic", dtype="float32", chunk_compression="lz4", max_chunk_size=1000
        )
        for _ in range(30):
            n = int(rng.integers(10, 80))
            ds.lz4.append(np.round(rng.standard_normal((n,)), 1).astype(np.float32))

        ds.create_tensor(
            "lz4u8", htype="generic", dtype="uint8", chunk_compression="lz4", max_chunk_size=600
        )
        for i in range(30):
            h, w = int(rng.integers(4, 30)), int(rng.integers(4, 30))
            ds.lz4u8.append((rng.integers(0, 16, size=(h, w)) * (i % 3 + 1)).astype(np.uint8))

        # tiled samples: uncompressed generic and png
        ds.create_tensor("big", htype="generic", dtype="uint8", tiling_threshold=1000)
        ds.big.append(rng.integers(0, 256, size=(5, 6, 1), dtype=np.uint8))
        ds.big.append(rng.integers(0, 256, size=(40, 30, 1), dtype=np.uint8))  # tiled
        ds.big.append(rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8))
        ds.big.append(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))  # tiled
        ds.big.append(rng.integers(0, 256, size=(7, 2, 3), dtype=np.uint8))

        ds.create_tensor("bigpng", htype="image", sample_compression="png", tiling_threshold=1000)
        ds.bigpng.append(image(rng, 10, 12, 3))
        ds.bigpng.append(image(rng, 70, 50, 3))  # tiled: each tile a standalone png
        ds.bigpng.append(image(rng, 9, 9, 3))

        ds.info.update(
            description="shoal interop: every htype",
            stuff={"nested": [1, 2, {"x": "y"}], "ok": True},
            version_tag="ü-1",
        )
        ds.gen.info.update(units="m/s", scale=0.5)
        ds.img_png.info.update(source="synthetic")
    ds.flush()


# --------------------------------------------------------------------------------------------
# write-versioned


def write_versioned(path: str) -> dict:
    rng = np.random.default_rng(99)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    commits = {}
    with ds:
        ds.create_tensor("x", htype="generic", dtype="int32", max_chunk_size=400)
        ds.create_tensor("lbl", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("img", htype="image", sample_compression="png", max_chunk_size=4000)
        for i in range(20):
            ds.append(
                {
                    "x": np.arange(i % 5 + 1, dtype=np.int32) + 100 * i,
                    "lbl": i % 2,
                    "txt": f"main-{i}",
                    "img": image(rng, 6 + i % 3, 7, 3),
                }
            )
        ds.info.update(stage="first")
    commits["first"] = ds.commit("first commit")

    with ds:
        for i in range(20, 26):
            ds.append(
                {
                    "x": np.full((3,), i, dtype=np.int32),
                    "lbl": "c",  # new class name after the first commit
                    "txt": f"main-{i}-ü",
                    "img": image(rng, 5, 5, 3),
                }
            )
        # copy-on-write updates of samples stored in chunks of the first commit
        ds.x[1] = np.array([-1, -2, -3, -4], dtype=np.int32)
        ds.txt[0] = "updated-0"
        ds.img[2] = image(rng, 11, 4, 3)
        ds.info.update(stage="second")
    commits["second"] = ds.commit("second commit")

    ds.checkout("dev", create=True)
    with ds:
        for i in range(26, 30):
            ds.append(
                {
                    "x": np.full((2,), -i, dtype=np.int32),
                    "lbl": 0,
                    "txt": f"dev-{i}",
                    "img": image(rng, 4, 6, 3),
                }
            )
        ds.x[21] = np.array([7, 7], dtype=np.int32)
        ds.info.update(stage="dev")
    commits["dev"] = ds.commit("dev commit")

    ds.checkout("main")
    with ds:
        ds.append(
            {
                "x": np.array([42], dtype=np.int32),
                "lbl": 1,
                "txt": "uncommitted on main",
                "img": image(rng, 3, 3, 3),
            }
        )
    ds.flush()
    return commits


# --------------------------------------------------------------------------------------------
# dump


def _portable(obj):
    """Plain python only (shoal's side runs numpy 2 and must not unpickle numpy objects)."""
    if isinstance(obj, dict):
        return {str(k): _portable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_portable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _portable(obj.tolist())
    if isinstance(obj, np.generic):
        return _portable(obj.item())
    if obj is None:
        return None
    for plain in (bool, int, float, str):  # bool before int
        if isinstance(obj, plain):
            return plain(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    raise TypeError(f"cannot make {type(obj)} portable")


def _portable_keep_bytes(d: dict) -> dict:
    samples = d.pop("samples")
    out = _portable(d)
    out["samples"] = [tuple(_portable(list(s))) for s in samples]
    return out


def _sample_record(t, i: int):
    htype = t.htype
    if htype in ARRAY_HTYPES_TEXT:
        return ("text", _portable(t[i].text()))  # deeplake returns numpy.str_
    if htype in ARRAY_HTYPES_JSON:
        return ("json", _portable(t[i].dict()))
    arr = np.ascontiguousarray(t[i].numpy())
    return ("array", str(arr.dtype), tuple(int(d) for d in arr.shape), bytes(arr.tobytes()))


def _shape(t):
    try:
        return tuple(None if d is None else int(d) for d in t.shape)
    except Exception:  # pragma: no cover - shape of text/json views
        return None


def dump(path: str, out: str, branch: str | None) -> None:
    ds = open_ds(path, read_only=True)
    if branch:
        ds.checkout(branch)
    tensors = {}
    tensor_info = {}
    for name, t in ds.tensors.items():  # visible tensors only
        meta = t.meta
        tensors[name] = _portable_keep_bytes(
            {
                "htype": t.htype,
                "dtype": str(meta.dtype),
                "length": len(t),
                "shape": _shape(t),
                "sample_compression": meta.sample_compression,
                "chunk_compression": meta.chunk_compression,
                "min_shape": _portable(list(meta.min_shape)),
                "max_shape": _portable(list(meta.max_shape)),
                "samples": [_sample_record(t, i) for i in range(len(t))],
            }
        )
        tensor_info[name] = _portable(dict(t.info.items()))
    result = {
        "tensors": tensors,
        "info": _portable(dict(ds.info.items())),
        "tensor_info": tensor_info,
        "branches": list(ds.branches),
        "branch": str(ds.branch),
        "commit_id": ds.commit_id,
        "pending_commit_id": ds.pending_commit_id,
        "len": len(ds),
    }
    data = pickle.dumps(result, protocol=4)
    _NoClassUnpickler(io.BytesIO(data)).load()  # proves the dump is numpy-free
    with open(out, "wb") as f:
        f.write(data)


class _NoClassUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"dump is not portable: it references {module}.{name}")


# --------------------------------------------------------------------------------------------
# append


def _spec_sample(t, s):
    htype = t.htype
    if htype in ARRAY_HTYPES_TEXT:
        return s
    if htype in ARRAY_HTYPES_JSON:
        return s
    if isinstance(s, str):  # class_label names
        return s
    if isinstance(s, dict):
        if "image_random" in s:
            h, w, c, seed = s["image_random"]
            return image(np.random.default_rng(seed), h, w, c)
        if "array" in s:
            arr = np.asarray(s["array"], dtype=s.get("dtype") or t.meta.dtype)
            return arr.reshape(s["shape"]) if "shape" in s else arr
        raise ValueError(f"unknown sample spec {s!r}")
    dtype = t.meta.dtype
    return np.asarray(s, dtype=dtype) if dtype not in (None, "str", "Any", "List") else s


def append(path: str, spec_text: str, branch: str | None = None) -> None:
    """Append samples described by a JSON spec, then flush (and commit if "__commit__" is set).

    Spec: {tensor_name: [sample, ...]} or {tensor_name: {"dtype": D, "samples": [...]}}; a sample
    is a nested list (cast to D or the tensor's dtype), {"array": nested, "dtype": D,
    "shape": [...]}, {"image_random": [h, w, c, seed]} (a uint8 picture), a str (text, or a
    class_label name) or, for json tensors, any JSON value as is. Every sample is converted
    before the first append, so a bad spec leaves the dataset untouched.
    """
    if spec_text.startswith("@"):
        with open(spec_text[1:], encoding="utf-8") as f:
            spec = json.load(f)
    else:
        spec = json.loads(spec_text)
    ds = open_ds(path, read_only=False)
    if branch:
        ds.checkout(branch)
    plan = []
    for name, samples in spec.items():
        if name.startswith("__"):
            continue
        t = ds[name]
        if isinstance(samples, dict) and "samples" in samples:
            dtype = samples.get("dtype")
            values = [
                np.asarray(s, dtype=dtype)
                if dtype and not isinstance(s, (str, dict))
                else _spec_sample(t, s)
                for s in samples["samples"]
            ]
        else:
            values = [_spec_sample(t, s) for s in samples]
        plan.append((t, values))
    with ds:
        for t, values in plan:
            for v in values:
                t.append(v)
    if spec.get("__commit__"):
        ds.commit(str(spec["__commit__"]))
    ds.flush()


# --------------------------------------------------------------------------------------------
# check


class CheckFailed(Exception):
    pass


def _check_tensor(ds, name: str, t, problems: list) -> None:
    n = len(t)
    meta = t.meta
    if meta.length != n:
        problems.append(f"{name}: meta.length {meta.length} != len {n}")
    # the chunk-id encoder must cover exactly n samples
    enc = t.chunk_engine.chunk_id_encoder
    if n and enc.num_samples != n:
        problems.append(f"{name}: chunk id encoder covers {enc.num_samples} samples, len is {n}")
    shapes = []
    htype = t.htype
    for i in range(n):
        if htype in ARRAY_HTYPES_TEXT:
            v = t[i].text()
            if not isinstance(v, str):
                problems.append(f"{name}[{i}]: text() gave {type(v)}")
            shapes.append((1,))
        elif htype in ARRAY_HTYPES_JSON:
            t[i].dict()
            shapes.append((1,))
        else:
            a = t[i].numpy()
            if str(a.dtype) != str(meta.dtype):
                problems.append(f"{name}[{i}]: dtype {a.dtype} != meta dtype {meta.dtype}")
            shapes.append(tuple(a.shape))
            s = tuple(t[i].shape)
            if s != tuple(a.shape):
                problems.append(f"{name}[{i}]: .shape {s} != numpy shape {a.shape}")
    # bulk reads must agree with single-sample reads
    if n:
        if htype in ARRAY_HTYPES_TEXT:
            bulk = t.text()
            single = [t[i].text() for i in range(n)]
            if list(bulk) != single:
                problems.append(f"{name}: bulk text() differs from per-sample reads")
        elif htype in ARRAY_HTYPES_JSON:
            bulk = t.dict()
            single = [t[i].dict() for i in range(n)]
            if list(bulk) != single:
                problems.append(f"{name}: bulk dict() differs from per-sample reads")
        else:
            bulk = t.numpy(aslist=True)
            for i in range(n):
                if not np.array_equal(bulk[i], t[i].numpy()):
                    problems.append(f"{name}[{i}]: bulk numpy differs from single read")
                    break
            # a strided slice and an index list through deeplake's own paths
            sl = t[::3].numpy(aslist=True)
            for j, i in enumerate(range(0, n, 3)):
                if not np.array_equal(sl[j], bulk[i]):
                    problems.append(f"{name}[::3][{j}]: differs")
                    break
            idx = [n - 1, 0, n // 2]
            lst = t[idx].numpy(aslist=True)
            for j, i in enumerate(idx):
                if not np.array_equal(lst[j], bulk[i]):
                    problems.append(f"{name}[{idx}][{j}]: differs")
                    break
    # meta min/max shape must be the true bounds (deeplake uses them to detect fixed shapes)
    if shapes and htype not in ARRAY_HTYPES_TEXT | ARRAY_HTYPES_JSON:
        nd = {len(s) for s in shapes}
        if len(nd) != 1:
            problems.append(f"{name}: samples have different ndims {sorted(nd)}")
        else:
            mn = [min(s[k] for s in shapes) for k in range(nd.pop())]
            mx = [max(s[k] for s in shapes) for k in range(len(mn))]
            if list(meta.min_shape) != mn or list(meta.max_shape) != mx:
                problems.append(
                    f"{name}: meta min/max shape {meta.min_shape}/{meta.max_shape} "
                    f"!= actual {mn}/{mx}"
                )
    # linked hidden tensors (if any) must agree with the samples
    for key in meta.links or {}:
        hidden = ds._tensors(include_hidden=True).get(key) if hasattr(ds, "_tensors") else None
        if hidden is None:
            continue
        if len(hidden) != n:
            problems.append(f"{name}: hidden {key} has {len(hidden)} samples, expected {n}")
        elif key.endswith("_shape") and htype not in ARRAY_HTYPES_TEXT | ARRAY_HTYPES_JSON:
            for i in range(n):
                hs = tuple(int(v) for v in hidden[i].numpy())
                if hs != shapes[i]:
                    problems.append(f"{name}[{i}]: {key} says {hs}, sample is {shapes[i]}")
                    break


def check(path: str) -> None:
    ds = open_ds(path, read_only=True)
    problems: list = []
    branches = list(ds.branches)
    for b in branches:
        ds.checkout(b)
        if len(branches) > 1:
            print(f"-- branch {b}")
        ds.summary()
        for name, t in ds.tensors.items():
            try:
                _check_tensor(ds, name, t, problems)
            except Exception as e:
                problems.append(f"[{b}] {name}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        dict(ds.info.items())
    if problems:
        raise CheckFailed("\n".join(problems))


def create_empty(path: str, spec_arg: str) -> None:
    """A dataset of empty tensors, one per ``create_tensor`` call of the spec (inline JSON or
    @file), to compare the metas, infos and hidden companions deeplake writes with shoal's."""
    if spec_arg.startswith("@"):
        with open(spec_arg[1:], encoding="utf-8") as f:
            spec = json.load(f)
    else:
        spec = json.loads(spec_arg)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    with ds:
        for name, kwargs in spec.items():
            ds.create_tensor(name, **kwargs)


# --------------------------------------------------------------------------------------------
# lengths, copy-delete (crash-safety tests: many small datasets checked in one process)


def lengths(out: str, paths: list) -> None:
    """For each path, what deeplake makes of it: {"ok": False, "error": ...} if it refuses to
    load it, else every tensor's length (hidden ones too), ``x`` as a list and pixel [0,0,0]
    and [1,1,1] of every ``images`` sample."""
    result = {}
    for path in paths:
        try:
            ds = open_ds(path, read_only=True)
            tensors = ds._tensors(include_hidden=True)
            imgs = ds.images.numpy(aslist=True) if len(ds.images) else []
            result[path] = {
                "ok": True,
                "len": len(ds),
                "tensors": {k: len(t) for k, t in tensors.items()},
                "x": [int(v) for v in ds.x.numpy().reshape(-1)],
                "images": [[int(a[0, 0, 0]), int(a[1, 1, 1])] for a in imgs],
            }
        except Exception as e:
            result[path] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


def copy_delete(src: str, dst: str) -> None:
    deeplake.copy(src, dst, overwrite=True, progressbar=False)
    n = len(open_ds(dst, read_only=True))
    deeplake.delete(src, large_ok=True)
    print(json.dumps({"copied_len": n}))


# --------------------------------------------------------------------------------------------


def selftest() -> None:
    import lz4.block  # noqa: F401
    import PIL

    print(
        json.dumps(
            {
                "deeplake": deeplake.__version__,
                "numpy": np.__version__,
                "pillow": PIL.__version__,
                "python": sys.version.split()[0],
            }
        )
    )


def main(argv: list) -> None:
    if not argv:
        die(__doc__ or "usage", 2)
    cmd, args = argv[0], argv[1:]
    branch = None
    if "--branch" in args:
        k = args.index("--branch")
        branch = args[k + 1]
        args = args[:k] + args[k + 2 :]
    try:
        if cmd == "selftest":
            selftest()
        elif cmd == "write-all" and len(args) == 1:
            write_all(args[0])
        elif cmd == "write-versioned" and len(args) == 1:
            print(json.dumps({"commits": write_versioned(args[0])}))
        elif cmd == "dump" and len(args) == 2:
            dump(args[0], args[1], branch)
        elif cmd == "append" and len(args) == 2:
            append(args[0], args[1], branch)
        elif cmd == "check" and len(args) == 1:
            check(args[0])
        elif cmd == "create-empty" and len(args) == 2:
            create_empty(args[0], args[1])
        elif cmd == "lengths" and len(args) >= 1:
            lengths(args[0], args[1:])
        elif cmd == "copy-delete" and len(args) == 2:
            copy_delete(args[0], args[1])
        else:
            die(f"bad command line: {argv!r}\n{__doc__}", 2)
        if BLOCKED:
            die(f"deeplake tried to reach the network: {BLOCKED}")
    except CheckFailed as e:
        die(f"check failed:\n{e}")
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        die(f"{cmd} failed")


if __name__ == "__main__":
    main(sys.argv[1:])
