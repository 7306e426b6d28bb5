"""The options of deeplake's ``create_tensor`` that are not part of the new tensor's meta:
which hidden companion tensors to make, ``exist_ok``, ``verbose``.

deeplake makes ``_<t>_shape``, ``_<t>_id`` (and ``_<t>_info`` for images) unless told not
to; code that turns them off (``create_id_tensor=False`` is common in its examples) must run
unchanged, and the tensor it makes must be the one deeplake would make.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidHtypeError, TensorExistsError
from ..format.htypes.meta import normalize_compression
from ..links.htype import public_htype

# create_tensor flag -> the kind of companion it turns off when False
COMPANION_FLAGS = {
    "create_shape_tensor": "shape",
    "create_id_tensor": "id",
    "create_sample_info_tensor": "info",
}


def pop_left_out(kwargs: dict[str, Any]) -> frozenset[str]:
    """Remove the companion flags from ``kwargs``; the kinds of companion not to make."""
    left_out = set()
    for flag, kind in COMPANION_FLAGS.items():
        value = kwargs.pop(flag, True)
        if not isinstance(value, bool):
            raise InvalidHtypeError(f"{flag} must be True or False, got {value!r}")
        if not value:
            left_out.add(kind)
    if kwargs.get("downsampling") is not None:
        raise InvalidHtypeError(
            "downsampling (image pyramids for visualization) is not supported by shoal; "
            "create the tensor without it"
        )
    kwargs.pop("downsampling", None)
    return frozenset(left_out)


def check_same_config(name: str, meta: dict[str, Any], htype: str, kwargs: dict[str, Any]) -> None:
    """``exist_ok=True`` on a tensor that exists: fine when every option given agrees with
    the tensor's meta (as deeplake), else :class:`TensorExistsError` naming the differences."""
    have = public_htype(meta)
    found = []
    if htype != have and not (htype == "generic" and have == "generic"):
        found.append(f"htype {htype!r} (it has {have!r})")
    dtype = kwargs.get("dtype")
    if dtype is not None:
        try:
            wanted = np.dtype(dtype).name
        except TypeError:
            wanted = str(dtype)
        if wanted != meta.get("dtype"):
            found.append(f"dtype {wanted!r} (it has {meta.get('dtype')!r})")
    for kind in ("sample_compression", "chunk_compression"):
        value = kwargs.get(kind)
        if value is not None:
            stored = normalize_compression(value, kind, meta.get("htype") or "generic")
            if stored != meta.get(kind):
                found.append(f"{kind} {stored!r} (it has {meta.get(kind)!r})")
    if bool(kwargs.get("hidden", False)) != bool(meta.get("hidden", False)):
        found.append(f"hidden={bool(kwargs.get('hidden'))}")
    if found:
        raise TensorExistsError(
            f"tensor {name!r} already exists with other options: {', '.join(found)}; "
            f"create_tensor(exist_ok=True) returns it only when the options agree"
        )


# the extend function deeplake names in a tensor's "links" for each kind of companion
# (a list tensor's shape companion records lengths: extend_len)
_EXTEND_KINDS = {
    "extend_shape": "shape",
    "extend_len": "shape",
    "extend_id": "id",
    "extend_info": "info",
}


def like_options(meta: dict[str, Any], unlink: bool = False) -> tuple[str, dict[str, Any]]:
    """``(htype, create_tensor kwargs)`` that make a tensor like the one of ``meta`` (no
    samples): deeplake's ``create_tensor_like``, which keeps the source's companions."""
    had = {_EXTEND_KINDS.get(v.get("extend")) for v in (meta.get("links") or {}).values()}
    kwargs: dict[str, Any] = {
        "dtype": meta.get("dtype"),
        "sample_compression": meta.get("sample_compression"),
        "chunk_compression": meta.get("chunk_compression"),
        "max_chunk_size": meta.get("max_chunk_size"),
        "tiling_threshold": meta.get("tiling_threshold"),
        "hidden": bool(meta.get("hidden", False)),
    }
    for flag, kind in COMPANION_FLAGS.items():
        kwargs[flag] = kind in had
    like = dict(meta, is_link=False) if unlink else meta
    if like.get("is_link"):
        kwargs["verify"] = bool(meta.get("verify", True))
    return public_htype(like), kwargs
