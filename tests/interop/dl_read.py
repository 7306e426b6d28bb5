"""dl_side.py commands that read datasets with deeplake: dump (a portable, numpy-free pickle of
every sample), lengths and copy-delete (the crash-safety tests).
"""

from __future__ import annotations

import io
import json
import pickle

from dl_common import ARRAY_HTYPES_JSON, ARRAY_HTYPES_TEXT, open_ds
from dl_offline import deeplake, np

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
