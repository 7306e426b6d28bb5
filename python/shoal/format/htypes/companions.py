"""The hidden tensors deeplake keeps beside a visible one, and what each gets per sample.

A visible tensor's meta names its companions under ``links``, with the deeplake function that
extends each one (``extend_id``, ``extend_shape``, ...). Which companions an htype gets is the
htype's ``companions``; what a companion is and holds is here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ReadOnlyError
from .. import keys

SAMPLE_INFO_MAX_CHUNK_SIZE = 4_000_000


def _ids(shapes: Sequence[tuple[int, ...]]) -> Any:
    n = len(shapes)
    return np.frombuffer(os.urandom(8 * n), dtype=np.uint64).reshape(n, 1)


def _shapes(shapes: Sequence[tuple[int, ...]]) -> Any:
    return np.asarray(shapes, dtype=np.int64).reshape(len(shapes), -1)


def _infos(shapes: Sequence[tuple[int, ...]]) -> Any:
    return [{} for _ in shapes]


def _lengths(shapes: Sequence[tuple[int, ...]]) -> Any:
    return [np.array([s[0] if s else 0], dtype=np.int64) for s in shapes]


@dataclass(frozen=True)
class Companion:
    """One kind of hidden companion tensor."""

    kind: str
    name: Callable[[str], str]  # parent tensor name -> companion name
    create: dict[str, Any]  # new_tensor_meta keyword arguments besides the name
    samples: Callable[[Sequence[tuple[int, ...]]], Any]  # parent sample shapes -> its samples

    def link(self, function: str | None = None) -> dict[str, Any]:
        """The entry the parent meta's ``links`` holds for this companion (``function``: the
        name its link functions take, when the parent's htype names them otherwise)."""
        function = function or self.kind
        link: dict[str, Any] = {
            "extend": f"extend_{function}",
            "flatten_sequence": self.kind != "id",
        }
        if self.kind != "id":
            link["update"] = f"update_{function}"
        return link


COMPANIONS: dict[str, Companion] = {
    "info": Companion(
        "info",
        keys.hidden_info,
        {"htype": "json", "max_chunk_size": SAMPLE_INFO_MAX_CHUNK_SIZE, "hidden": True},
        _infos,
    ),
    "shape": Companion(
        "shape",
        keys.hidden_shape,
        {
            "htype": "generic",
            "dtype": "int64",
            "max_chunk_size": SAMPLE_INFO_MAX_CHUNK_SIZE,
            "hidden": True,
        },
        _shapes,
    ),
    "id": Companion("id", keys.hidden_id, {"htype": "generic", "hidden": True}, _ids),
}

# Extend functions of companions deeplake makes and shoal keeps up to date but does not create
# (sequence lengths).
_EXTEND_ONLY = {"extend_len": _lengths}


def companion_samples(
    parent: str,
    extend: Any,
    shapes: Sequence[tuple[int, ...]],
    infos: Sequence[dict[str, Any]] | None = None,
) -> Any:
    """The samples a companion linked through ``extend`` gets for parent samples of ``shapes``
    (``infos``: the parent samples' info records, for the ``_info`` companion)."""
    if extend == "extend_info" and infos is not None:
        return list(infos)
    for c in COMPANIONS.values():
        if extend == f"extend_{c.kind}":
            return c.samples(shapes)
    fn = _EXTEND_ONLY.get(extend) if isinstance(extend, str) else None
    if fn is not None:
        return fn(shapes)
    raise ReadOnlyError(
        f"tensor {parent!r} is linked to a hidden tensor through {extend!r}, which shoal does "
        "not maintain; append to it with deeplake, or copy the data to a new tensor"
    )
