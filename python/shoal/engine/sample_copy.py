"""Samples of one tensor appended to another as they are stored (``shoal.copy``): compressed
images keep their bytes (no decode, no lossy re-encode), tiled samples are tiled again, and
each hidden companion (shape, id, sample info) is copied beside its tensor.

The samples are read a run of consecutive indices at a time (each chunk read once per run)
and staged on the destination, whose writer cuts them into its own chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .merge_copy import runs, stored_run

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .tensor import TensorEngine

# samples read and staged at a time: the writer drains full chunks between blocks
BLOCK = 1024


def companions_by_kind(ds: DatasetEngine, t: TensorEngine) -> dict[str, TensorEngine]:
    """A tensor's hidden companions by the deeplake function that extends each one."""
    out = {}
    for key, link in (t.meta.get("links") or {}).items():
        found = ds.tensors.get(key)
        if found is not None and link.get("extend"):
            out[str(link["extend"])] = found
    return out


async def copy_block(src: TensorEngine, dst: TensorEngine, idx: np.ndarray) -> None:
    """Append ``src``'s samples ``idx`` (in that order) to ``dst``."""
    if not len(idx):
        return
    lasts = src.chunk_ids[:, 1].astype(np.int64)
    for start, end in runs(idx.tolist()):
        dst.stage(await stored_run(src, lasts, start, end), [])
