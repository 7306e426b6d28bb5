"""A new tensor's meta and info, built from its htype; metas read back, completed.

The common keys and their defaults mirror deeplake 3.9.52 (``htype.py``, ``tensor_meta.py``)
so that files we write are the files it writes; each htype adds its own keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidCompressionError, InvalidHtypeError
from ..keys import FORMAT_VERSION
from .base import BYTE_COMPRESSIONS, IMAGE_COMPRESSIONS, HType
from .registry import get_htype, known_htypes

# image chunk compression: image htypes only (HType.chunk_compressions)
CHUNK_COMPRESSIONS = BYTE_COMPRESSIONS | IMAGE_COMPRESSIONS
SAMPLE_COMPRESSIONS = IMAGE_COMPRESSIONS | BYTE_COMPRESSIONS
COMPRESSION_ALIASES = {"jpg": "jpeg", "tif": "tiff"}  # deeplake's aliases
READABLE_CHUNK_COMPRESSIONS = CHUNK_COMPRESSIONS

DEFAULT_MAX_CHUNK_SIZE = 16_000_000
DEFAULT_TILING_THRESHOLD = 16_000_000


def normalize_compression(value: str | None, kind: str, htype: str | HType) -> str | None:
    """The stored name of a ``sample_compression`` / ``chunk_compression`` argument."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCompressionError(f"{kind} must be a string or None, got {value!r}")
    value = COMPRESSION_ALIASES.get(value.lower(), value.lower())
    allowed = CHUNK_COMPRESSIONS if kind == "chunk_compression" else SAMPLE_COMPRESSIONS
    ht = htype if isinstance(htype, HType) else get_htype(htype)
    if value in getattr(ht, "media_formats", ()):
        ht.check_compression(kind, value)  # names the format shoal cannot decode
    if value not in allowed:
        raise InvalidCompressionError(
            f"unknown {kind} {value!r}; shoal supports {sorted(allowed)} "
            f"(or None for no compression)"
        )
    ht.check_compression(kind, value)
    return value


def check_dtype(htype: str | HType, dtype: Any) -> str | None:
    """The dtype name to store for a new tensor (None: inferred from the first sample)."""
    return (htype if isinstance(htype, HType) else get_htype(htype)).check_dtype(dtype)


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
    ht = get_htype(htype)
    if not ht.creatable:
        raise InvalidHtypeError(
            f"shoal reads {ht.name!r} tensors but does not create them; use one of "
            f"{known_htypes(creatable_only=True)}"
        )
    extras, info = ht.split_options(htype_kwargs)
    sc = normalize_compression(sample_compression, "sample_compression", ht)
    cc = normalize_compression(chunk_compression, "chunk_compression", ht)
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
    if sc in ("jpeg", "bmp", "webp") and dtype is not None and np.dtype(dtype) != np.uint8:
        raise InvalidCompressionError(
            f"{sc} stores uint8 pixels only; use dtype='uint8', or png or tiff"
        )
    meta: dict[str, Any] = {
        "htype": ht.name,
        "min_shape": [],
        "max_shape": [],
        "length": 0,
        "hidden": bool(hidden),
        **extras,
        "dtype": ht.check_dtype(dtype),
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
