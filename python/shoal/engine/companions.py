"""Hidden companion tensors: ``_x_id``, ``_x_shape``, ``_x_info`` kept beside tensor ``x``.

deeplake links them through the parent meta's ``links`` (``extend_id``, ``extend_shape``,
...) and checks their lengths match the parent's; every append stages values for each.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import ReadOnlyError
from ..format import keys
from ..format.htypes import SAMPLE_INFO_MAX_CHUNK_SIZE

KINDS = {"info": keys.hidden_info, "shape": keys.hidden_shape, "id": keys.hidden_id}


def companion_spec(parent: str, kind: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(name, new_tensor_meta kwargs, link entry)`` of a companion of ``parent``."""
    name = KINDS[kind](parent)
    kwargs: dict[str, Any] = {"htype": "generic", "hidden": True}
    if kind == "info":
        kwargs["htype"] = "json"
    elif kind == "shape":
        kwargs["dtype"] = "int64"
    if kind in ("info", "shape"):
        kwargs["max_chunk_size"] = SAMPLE_INFO_MAX_CHUNK_SIZE
    link: dict[str, Any] = {"extend": f"extend_{kind}", "flatten_sequence": kind != "id"}
    if kind != "id":
        link["update"] = f"update_{kind}"
    return name, kwargs, link


def companion_samples(parent_name: str, link: dict[str, Any], shapes: list[tuple[int, ...]]) -> Any:
    """Values a companion gets for samples of these shapes appended to its parent."""
    fn = link.get("extend")
    n = len(shapes)
    if fn == "extend_id":
        return np.frombuffer(os.urandom(8 * n), dtype=np.uint64).reshape(n, 1)
    if fn == "extend_shape":
        return np.asarray(shapes, dtype=np.int64).reshape(n, -1)
    if fn == "extend_info":
        return [{}] * n
    if fn == "extend_len":
        return [np.array([s[0] if s else 0], dtype=np.int64) for s in shapes]
    raise ReadOnlyError(
        f"tensor {parent_name!r} is linked to a hidden tensor through {fn!r}, which shoal does "
        "not maintain; append to it with deeplake, or copy the data to a new tensor"
    )
