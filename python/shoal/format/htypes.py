"""Htypes shoal writes, their defaults, and how a new tensor's meta is built.

The defaults and the meta key set mirror deeplake 3.9.52 (``htype.py``, ``tensor_meta.py``) so
that files we write are the files it writes.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import InvalidCompressionError, InvalidHtypeError
from .keys import FORMAT_VERSION

# htype -> extra meta defaults (beyond the common keys). "_info" names keys that live in
# tensor_info.json instead of the meta.
HTYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "generic": {"dtype": None},
    "image": {"dtype": None, "intrinsics": None, "_info": ["intrinsics"]},
    "class_label": {
        "dtype": "uint32",
        "class_names": [],
        "_info": ["class_names"],
        "_disable_temp_transform": False,
    },
    "bbox": {"dtype": "float32", "coords": {}, "_info": ["coords"]},
    "embedding": {"dtype": "float32", "vdb_indexes": []},
    "text": {"dtype": "str", "vdb_indexes": []},
    "json": {"dtype": "Any"},
}

TEXT_LIKE = frozenset({"text", "json", "list", "tag"})
IMAGE_COMPRESSIONS = frozenset({"png", "jpeg"})
CHUNK_COMPRESSIONS = frozenset({"lz4"})
SAMPLE_COMPRESSIONS = IMAGE_COMPRESSIONS | {"lz4"}
COMPRESSION_ALIASES = {"jpg": "jpeg"}
# Read-only support: deeplake may have written these and we can decode them.
READABLE_CHUNK_COMPRESSIONS = CHUNK_COMPRESSIONS | IMAGE_COMPRESSIONS

DEFAULT_MAX_CHUNK_SIZE = 16_000_000
DEFAULT_TILING_THRESHOLD = 16_000_000
SAMPLE_INFO_MAX_CHUNK_SIZE = 4_000_000
# Hidden companions: which htypes get an _info tensor, which get no _shape tensor.
INFO_HTYPES = frozenset({"image"})
NO_SHAPE_HTYPES = frozenset({"text", "json", "tag"})


def normalize_compression(value: str | None, kind: str, htype: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCompressionError(f"{kind} must be a string or None, got {value!r}")
    value = COMPRESSION_ALIASES.get(value.lower(), value.lower())
    allowed = CHUNK_COMPRESSIONS if kind == "chunk_compression" else SAMPLE_COMPRESSIONS
    if value not in allowed:
        raise InvalidCompressionError(
            f"unknown {kind} {value!r}; shoal supports {sorted(allowed)} "
            f"(or None for no compression)"
        )
    if htype in TEXT_LIKE:
        raise InvalidCompressionError(
            f"{htype!r} tensors cannot be compressed ({kind}={value!r}); drop the compression"
        )
    if value in IMAGE_COMPRESSIONS and htype not in ("image", "generic"):
        raise InvalidCompressionError(
            f"{kind}={value!r} is an image compression; it fits htype 'image', not {htype!r}"
        )
    return value


def check_dtype(htype: str, dtype: Any) -> str | None:
    """The dtype name to store for a new tensor (None: inferred from the first sample)."""
    default = HTYPE_DEFAULTS[htype].get("dtype")
    if htype in ("text", "json"):
        if dtype is not None and str(dtype) not in (default, "str", "Any", "object"):
            raise InvalidHtypeError(
                f"htype {htype!r} stores {default}; do not pass dtype={dtype!r}"
            )
        return str(default)
    if dtype is None:
        return str(default) if default is not None else None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InvalidHtypeError(
            f"dtype {dtype!r} is not a numpy dtype; use e.g. 'uint8', 'float32', 'bool'"
        ) from None
    if dt.kind not in "biuf":
        raise InvalidHtypeError(
            f"dtype {dt.name!r} cannot be stored; use a numeric or bool dtype "
            "(or htype='text' / 'json' for strings and objects)"
        )
    return str(dt.name)


def new_tensor_meta(
    name: str,
    htype: str,
    dtype: Any = None,
    sample_compression: str | None = None,
    chunk_compression: str | None = None,
    max_chunk_size: int | None = None,
    tiling_threshold: int | None = None,
    hidden: bool = False,
    **htype_kwargs: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build ``(tensor_meta, tensor_info)`` for a new tensor, validating every argument."""
    if not isinstance(htype, str) or htype not in HTYPE_DEFAULTS:
        raise InvalidHtypeError(f"unknown htype {htype!r}; shoal supports {sorted(HTYPE_DEFAULTS)}")
    defaults = copy.deepcopy(HTYPE_DEFAULTS[htype])
    info_keys = defaults.get("_info", [])
    info: dict[str, Any] = {}
    for key, value in htype_kwargs.items():
        if key not in defaults or key.startswith("_") or key == "dtype":
            accepted = sorted(k for k in defaults if not k.startswith("_") and k != "dtype")
            raise InvalidHtypeError(
                f"unknown argument {key}={value!r} for htype {htype!r}; "
                f"accepted: {accepted or 'none'}"
            )
        if key == "class_names":
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise InvalidHtypeError("class_names must be a list of strings")
            value = list(value)
        if key in info_keys:
            info[key] = value
        else:
            defaults[key] = value
    for key in info_keys:
        info.setdefault(key, copy.deepcopy(defaults[key]))
        if key == "class_names":
            defaults[key] = []  # deeplake keeps the real names only in tensor_info.json
    sc = normalize_compression(sample_compression, "sample_compression", htype)
    cc = normalize_compression(chunk_compression, "chunk_compression", htype)
    if sc and cc:
        raise InvalidCompressionError(
            f"set either sample_compression ({sc!r}) or chunk_compression ({cc!r}), not both"
        )
    for arg, val in (("max_chunk_size", max_chunk_size), ("tiling_threshold", tiling_threshold)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, int)):
            raise InvalidHtypeError(f"{arg} must be an int number of bytes, got {val!r}")
    if max_chunk_size is not None and max_chunk_size < 2:
        raise InvalidHtypeError(f"max_chunk_size must be at least 2 bytes, got {max_chunk_size}")
    if tiling_threshold is not None and tiling_threshold != -1 and tiling_threshold < 1:
        raise InvalidHtypeError(
            f"tiling_threshold must be a positive number of bytes or -1 (off), got {tiling_threshold}"
        )
    if sc == "jpeg" and dtype is not None and np.dtype(dtype) != np.uint8:
        raise InvalidCompressionError("jpeg stores uint8 pixels only; use dtype='uint8' or png")
    meta: dict[str, Any] = {
        "htype": htype,
        "min_shape": [],
        "max_shape": [],
        "length": 0,
        "hidden": bool(hidden),
        **defaults,
        "dtype": check_dtype(htype, dtype),
        "sample_compression": sc,
        "chunk_compression": cc,
        "max_chunk_size": max_chunk_size,
        "tiling_threshold": tiling_threshold,
        "typestr": None,
        "is_link": False,
        "is_sequence": False,
        "verify": True,
        "links": {},
        "name": name,
        "version": FORMAT_VERSION,
    }
    if sc in IMAGE_COMPRESSIONS and meta["dtype"] is None:
        # Images decode to uint8 (png may be uint16 if the user says so).
        meta["dtype"] = "uint8"
        meta["typestr"] = "|u1"
    return meta, info


def fill_meta_defaults(meta: dict[str, Any]) -> dict[str, Any]:
    """Overlay a meta read from storage on the generic defaults, as deeplake's reader does."""
    base: dict[str, Any] = {
        "htype": "generic",
        "dtype": None,
        "typestr": None,
        "min_shape": [],
        "max_shape": [],
        "length": 0,
        "sample_compression": None,
        "chunk_compression": None,
        "max_chunk_size": None,
        "tiling_threshold": None,
        "hidden": False,
        "is_link": False,
        "is_sequence": False,
        "verify": True,
        "links": {},
    }
    base.update(meta)
    if base["htype"] is None:
        base["htype"] = "generic"
    return base
