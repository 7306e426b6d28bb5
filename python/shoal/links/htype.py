"""``link[...]`` htype names: a link tensor's meta keeps the inner htype with ``is_link``."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidCompressionError, InvalidHtypeError
from ..format.htypes import get_htype, known_htypes

# Inner htypes a link makes no sense for: deeplake refuses link[generic] and bare links too,
# cannot append to link[image.rgb] / link[image.gray], and reads linked annotations, polygons
# and media only from formats shoal does not decode. Links hold png/jpeg (or .npy) files.
_REFUSED = frozenset(
    {
        "generic",
        "class_label",
        "tag",
        "list",
        "bbox",
        "bbox.3d",
        "image.rgb",
        "image.gray",
        "instance_label",
        "keypoints_coco",
        "point",
        "intrinsics",
        "polygon",
        "point_cloud",
        "audio",
        "video",
    }
)


def split_link_htype(htype: Any) -> tuple[str, bool]:
    """``("image", True)`` for ``"link[image]"``; ``(htype, False)`` for any other name."""
    if not isinstance(htype, str) or not htype.startswith("link"):
        return htype, False
    if htype == "link" or not (htype.startswith("link[") and htype.endswith("]")):
        raise InvalidHtypeError(
            f"htype {htype!r}: a link tensor names what its files hold, e.g. 'link[image]'"
        )
    inner = htype[len("link[") : -1]
    if inner.startswith("sequence"):
        raise InvalidHtypeError(
            f"htype {htype!r}: a link holds single files; for a sequence of linked files use "
            f"'sequence[link[...]]', e.g. 'sequence[link[image]]'"
        )
    ht = get_htype(inner)
    if inner in _REFUSED or not ht.creatable:
        ok = [h for h in known_htypes(creatable_only=True) if h not in _REFUSED]
        raise InvalidHtypeError(
            f"htype {htype!r}: a link cannot hold {inner!r} samples; use one of "
            f"{[f'link[{h}]' for h in ok]}"
        )
    return inner, True


def link_options(htype_kwargs: dict[str, Any], chunk_compression: str | None) -> bool:
    """Take ``verify`` out of a link tensor's keyword arguments; returns it."""
    if chunk_compression is not None:
        raise InvalidCompressionError(
            "link tensors store URLs, uncompressed: drop chunk_compression (sample_compression "
            "may name the linked files' format)"
        )
    verify = htype_kwargs.pop("verify", True)
    if not isinstance(verify, bool):
        raise InvalidHtypeError(f"verify must be True or False, got {verify!r}")
    return verify


def link_companions(companions: tuple[str, ...], verify: bool) -> tuple[str, ...]:
    """Without verification the linked files are not read on append: no shape or info."""
    return companions if verify else tuple(c for c in companions if c == "id")


def public_htype(meta: dict[str, Any]) -> str:
    """The htype users see: ``link[image]`` for a link tensor, ``sequence[image]`` for a
    sequence tensor, ``link[sequence[image]]`` for a sequence of links."""
    base = str(meta.get("htype") or "generic")
    base = f"sequence[{base}]" if meta.get("is_sequence") else base
    return f"link[{base}]" if meta.get("is_link") else base  # deeplake: link[sequence[image]]
