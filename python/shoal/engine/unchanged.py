"""Has another writer changed the head since this handle read it?

Checked when a handle takes the head's write lock afresh (its first write, or after the lock
was lost): a writer that held the lock in between (deeplake, or another shoal process) may
have appended or updated, and a flush planned on the state read before would write over
their work. What this handle last knew of storage (the dataset meta, each loaded tensor's
meta and chunk index as of its open or last flush) is compared with what storage holds now.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from .. import _native
from ..errors import DatasetChangedError
from ..format import jsonio, keys
from ..format.htypes import fill_meta_defaults

if TYPE_CHECKING:
    from .dataset import DatasetEngine


async def check_unchanged(ds: DatasetEngine) -> None:
    meta_key = keys.dataset_key(ds.commit_id, keys.DATASET_META)
    loaded = [t for t in ds.tensors.values() if not t.is_new]
    wanted = [meta_key]
    for t in loaded:
        wanted.append(t.tensor_key(keys.TENSOR_META))
        wanted.append(t.tensor_key(keys.CHUNK_IDS))
    found = await ds.storage.get_many(wanted)
    raw_meta, rest = found[0], found[1:]
    if raw_meta is None:
        return  # a dataset being created: nothing stored to differ from
    stored = jsonio.loads(raw_meta, f"{ds.url}/{meta_key}")
    known = json.loads(ds.writes.flushed[0])
    if stored.get("tensors") != known.get("tensors") or stored.get("tensor_names", {}) not in (
        known.get("tensor_names"),
        {},
    ):
        raise _changed(ds, "its list of tensors")
    for i, t in enumerate(loaded):
        raw_tmeta, raw_ids = rest[2 * i], rest[2 * i + 1]
        if raw_tmeta is None:
            raise _changed(ds, f"tensor {t.name!r} is gone")
        tmeta = fill_meta_defaults(jsonio.loads(raw_tmeta, t.tensor_key(keys.TENSOR_META)))
        if tmeta != json.loads(t.flushed[0]):
            raise _changed(ds, f"the meta of tensor {t.name!r}")
        if t.full:
            ids = _native.parse_chunk_ids(raw_ids)[1] if raw_ids else None
            if ids is None or not np.array_equal(ids, t.chunk_ids):
                raise _changed(ds, f"the chunks of tensor {t.name!r}")


def _changed(ds: DatasetEngine, what: str) -> DatasetChangedError:
    return DatasetChangedError(
        f"{ds.url} was changed by another writer since this handle read it ({what}); nothing "
        "was written: open the dataset again and repeat the write"
    )
