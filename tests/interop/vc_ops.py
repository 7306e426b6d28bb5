"""Version-control scripts that run unchanged on deeplake 3.9.52 and on shoal, and a dump of
every version of a dataset, to compare what the two libraries make of the same history.

Imported by shoal's tests (as ``tests.interop.vc_ops``, with ``lib=shoal``) and by
``dl_side.py`` in the deeplake venv (with ``lib=deeplake``): plain python and numpy only.

A script is a list of steps::

    ["create", {tensor: create_tensor kwargs}]   new dataset (overwrite)
    ["load"]                                     open for writing
    ["append", {tensor: [values]}]               tensor.extend per tensor
    ["update", tensor, index, value]             tensor[index] = value
    ["commit", name]                             commit; its id is remembered as name
    ["checkout", ref, create]                    ref: a branch, or "$name" of a commit
    ["merge", ref, resolution]                   ds.merge(ref, conflict_resolution=...)
    ["close"]                                    drop the handle (and its write lock)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any

import numpy as np


def _open(lib: Any, path: str, read_only: bool) -> Any:
    if lib.__name__ == "deeplake":
        return lib.load(path, read_only=read_only, verbose=False)
    return lib.load(path, read_only=read_only)


def _value(name: str, v: Any) -> Any:
    if name == "img":
        return np.full((4, 5, 3), v, dtype=np.uint8)
    if name == "x":
        return np.array([v, v * 10], dtype=np.int64)
    return v


def run(lib: Any, path: str, steps: list[Any], names: dict[str, str]) -> dict[str, str]:
    """Run a script; ``names`` (updated and returned): commit name -> id."""
    ds = None
    for step in steps:
        op = step[0]
        if op == "create":
            ds = lib.empty(path, overwrite=True)
            for t, kwargs in step[1].items():
                ds.create_tensor(t, **kwargs)
        elif op == "load":
            ds = _open(lib, path, False)
        elif op == "append":
            for t, values in step[1].items():
                ds[t].extend([_value(t, v) for v in values])
        elif op == "update":
            ds[step[1]][step[2]] = _value(step[1], step[3])
        elif op == "commit":
            names[step[1]] = ds.commit(step[1])
        elif op == "checkout":
            ref = step[1]
            ds.checkout(names[ref[1:]] if ref.startswith("$") else ref, create=step[2])
        elif op == "merge":
            ds.merge(step[1], conflict_resolution=step[2])
        elif op == "close":
            if hasattr(ds, "close"):
                ds.close()
            ds = None
        else:
            raise ValueError(f"unknown step {step!r}")
    return names


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _samples(ds: Any, name: str) -> list[Any]:
    t = ds[name]
    if name == "t":
        return [t[i].text() for i in range(len(t))]
    arr = t.numpy()
    if name == "img":
        return [int(a[0, 0, 0]) for a in arr]
    return arr.tolist()


def _captured(fn: Any, *args: Any) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue()


def dump(lib: Any, path: str) -> dict[str, Any]:
    """Every branch and commit of a local dataset: samples, commits, log, and diffs."""
    with open(os.path.join(path, "version_control_info.json")) as f:
        history = json.load(f)
    ds = _open(lib, path, True)
    branches = sorted(ds.branches)
    out: dict[str, Any] = {"branches": branches, "refs": {}, "diffs": {}}
    for ref in [*branches, *sorted(history["commits"])]:
        ds.checkout(ref)
        out["refs"][ref] = {
            "tensors": {n: _samples(ds, n) for n in sorted(ds.tensors)},
            "commit_id": ds.commit_id,
            "pending_commit_id": ds.pending_commit_id,
            "commits": ds.commits,
            "log": _captured(ds.log),
        }
    for a in branches:
        ds.checkout(a)
        out["diffs"][f"{a} vs previous"] = _plain(ds.diff(as_dict=True))
        out["diffs"][f"{a} printed"] = _captured(ds.diff)
        for b in branches:
            if a < b:
                out["diffs"][f"{a} vs {b}"] = _plain(ds.diff(a, b, as_dict=True))
                out["diffs"][f"{a} vs {b} printed"] = _captured(ds.diff, a, b)
    return out
