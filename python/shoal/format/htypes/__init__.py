"""Htypes: what a tensor stores, how a new tensor's meta is built, what users may append and
what they read back.

One module per htype defines ``HTYPE``, an :class:`HType`; every such module of this package is
registered on import, so adding an htype means adding one module. Look htypes up with
:func:`get_htype` (creating a tensor) or :func:`htype_of` (a stored tensor, which may carry an
htype only deeplake knows).
"""

from __future__ import annotations

from typing import Any

from .base import (
    BYTE_COMPRESSIONS,
    COMPANION_KINDS,
    IMAGE_COMPRESSIONS,
    OBJECT_DTYPES,
    Blob,
    Encoded,
    HType,
    SampleContext,
    array_dtype,
)
from .companions import COMPANIONS, SAMPLE_INFO_MAX_CHUNK_SIZE, Companion, companion_samples
from .meta import (
    CHUNK_COMPRESSIONS,
    COMPRESSION_ALIASES,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_TILING_THRESHOLD,
    READABLE_CHUNK_COMPRESSIONS,
    SAMPLE_COMPRESSIONS,
    check_dtype,
    fill_meta_defaults,
    new_tensor_meta,
    normalize_compression,
)
from .registry import (
    HtypeSet,
    get_htype,
    htype_of,
    known_htypes,
    register_htype,
    register_package_modules,
    unregister_htype,
)

register_package_modules(__name__, __path__)

# Names older modules import; each is a live view of the registry.
# Samples are serialised objects (stored as bytes, no fixed shape, never compressed).
TEXT_LIKE = HtypeSet(lambda h: h.is_object)
# Hidden companions: which htypes get an _info tensor, which get no _shape tensor.
INFO_HTYPES = HtypeSet(lambda h: h.has_info)
NO_SHAPE_HTYPES = HtypeSet(lambda h: not h.has_shape)


def htype_defaults() -> dict[str, dict[str, Any]]:
    """htype -> its extra meta defaults, shaped like deeplake's ``HTYPE_CONFIGURATIONS``
    (``dtype``, the htype's keys, ``_info``) for the htypes shoal creates."""
    out: dict[str, dict[str, Any]] = {}
    for name in known_htypes(creatable_only=True):
        ht = get_htype(name)
        extras, _ = ht.split_options({})
        out[name] = {"dtype": ht.object_dtype or ht.default_dtype, **extras}
    return out


__all__ = [
    "BYTE_COMPRESSIONS",
    "CHUNK_COMPRESSIONS",
    "COMPANIONS",
    "COMPANION_KINDS",
    "COMPRESSION_ALIASES",
    "DEFAULT_MAX_CHUNK_SIZE",
    "DEFAULT_TILING_THRESHOLD",
    "IMAGE_COMPRESSIONS",
    "INFO_HTYPES",
    "NO_SHAPE_HTYPES",
    "OBJECT_DTYPES",
    "READABLE_CHUNK_COMPRESSIONS",
    "SAMPLE_COMPRESSIONS",
    "SAMPLE_INFO_MAX_CHUNK_SIZE",
    "TEXT_LIKE",
    "Blob",
    "Companion",
    "Encoded",
    "HType",
    "HtypeSet",
    "SampleContext",
    "array_dtype",
    "check_dtype",
    "companion_samples",
    "fill_meta_defaults",
    "get_htype",
    "htype_defaults",
    "htype_of",
    "known_htypes",
    "new_tensor_meta",
    "normalize_compression",
    "register_htype",
    "unregister_htype",
]
