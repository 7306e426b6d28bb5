"""dl_side.py check: deeplake's own view of a dataset's consistency (lengths, chunk-id encoders,
shape and byte-position encoders, infos) on every branch.
"""

from __future__ import annotations

import traceback

from dl_common import ARRAY_HTYPES_JSON, ARRAY_HTYPES_TEXT, open_ds
from dl_offline import np

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
