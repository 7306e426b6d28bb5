"""What a flush writes for one tensor, computed before anything is written.

Planning cuts the remaining staged samples into chunk objects and serialises the chunk-id
table, tile encoder, info, commit diff, chunk set and meta that name them. Nothing in memory
changes until the whole flush is stored: ``apply`` installs the new state afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _native
from ..format import jsonio, keys
from ..format.keys import FORMAT_VERSION
from ..format.versions import serialize_chunk_set
from ..links import engine as link_engine
from . import sequences
from .chunk_writer import join
from .encoders import CommitDiff
from .merge_copy import write_copy
from .rechunk import rechunk
from .rewrite import rewrite

if TYPE_CHECKING:
    from .tensor import TensorEngine


@dataclass
class FlushPlan:
    chunks: dict[str, Any]  # key -> chunk object
    objects: dict[str, bytes]  # encoders, info, diff, chunk set: stored after every chunk
    meta_key: str
    meta_bytes: bytes
    obsolete: list[str]  # chunk keys to delete once the metas are stored
    written: list[str]  # chunk keys written before this flush (drains)
    apply: Callable[[], None]  # installs the new in-memory state


async def plan_tensor(t: TensorEngine) -> FlushPlan | None:
    if not t.dirty:
        return None
    writer, fetch, ctx = t.writer, t.fetch, t.ctx
    chunks: dict[str, Any] = {}
    session = None
    new_tail = writer.tail
    if writer.dirty:
        await t.ensure_full()
        session = await writer.begin(fetch, t.chunk_ids, t.tiles, t.length)
        chunks = {k: join(p) for k, p in writer.cut(final=True).chunks.items()}
        new_tail = writer.last_regular
    start_row = session.start_row if session is not None else len(t.chunk_ids)
    ids, tiles_all = t.chunk_ids[:start_row], t.tiles
    edit = None
    if t.edits.rechunk:
        edit = await rechunk(t, ids, t.tiles)
    elif t.edits.updates or t.edits.pops:
        edit = await rewrite(t, ids, t.tiles, t.edits.changes())
    if edit is not None:
        ids, tiles_all = edit.ids, edit.tiles
        new_tail = None  # rows may have moved: the tail is found again on the next write
    copied = None
    if t.edits.copied is not None:  # a merge's samples: the target's chunks, and edges
        copied = await write_copy(t, ids, t.edits.copied)
        ids, tiles_all = copied.rows, {**tiles_all, **copied.tiles}
        new_tail = None
    if session is not None:
        rows = np.asarray(session.rows, dtype=np.uint64).reshape(-1, 2)
        ids = np.concatenate([ids, rows])
        tiles_all = {**tiles_all, **session.tiles}
    tkey = t.tensor_key
    objects: dict[str, bytes] = {}
    if session is not None or edit is not None or copied is not None or t.is_new:
        objects[tkey(keys.CHUNK_IDS)] = _native.serialize_chunk_ids(FORMAT_VERSION, ids)
        objects[tkey(keys.TILE_ENCODER)] = _native.serialize_tile_encoder(FORMAT_VERSION, tiles_all)
    if t.info_dirty:
        objects[tkey(keys.TENSOR_INFO)] = jsonio.dumps_meta(t.info)
    new_diff: CommitDiff | None = t.diff_after_flush(appended=session is not None)
    # a merge that only points a companion at the target's chunks writes no diff for it
    # (deeplake makes one only when it writes samples)
    plan = t.edits.copied
    pointed_only = plan is not None and not plan.added and not t.edits.touched
    if t.commit_diff is None and not t.is_new and pointed_only and session is None and edit is None:
        new_diff = None
    if new_diff is not None:
        objects[tkey(keys.COMMIT_DIFF)] = new_diff.serialize()
    objects.update(link_engine.flush_objects(t))
    seq = t.seq
    seq_starts = seq.starts if seq is not None else None
    if seq is not None and (seq.dirty or t.is_new):
        objects[tkey(sequences.KEY)] = seq.serialize()
    obsolete = list(session.obsolete) if session is not None else []
    owned = list(session.names) if session is not None else []
    if edit is not None:
        obsolete += edit.obsolete
        owned += edit.names
    pointed: dict[str, tuple[str, str]] = {}
    if copied is not None:
        owned += copied.names
        pointed = copied.owners
    chunk_set_names: list[str] | None = None
    if ctx.commit_id != keys.FIRST_COMMIT_ID and (owned or obsolete or pointed):
        owners = await fetch.load_owners()
        gone = {k.rsplit("/", 1)[-1] for k in obsolete}
        mine = [n for n, (c, k) in owners.items() if c == ctx.commit_id and k == t.key]
        elsewhere = [  # chunks of the target a merge points at (merge_copy)
            f"{n}:{c}" if k == t.key else f"{n}:{c}:{k}" for n, (c, k) in pointed.items()
        ]
        chunk_set_names = [n for n in mine if n not in gone] + owned
        objects[tkey(keys.CHUNK_SET)] = serialize_chunk_set(chunk_set_names + elsewhere)
    meta_bytes = jsonio.dumps_meta(t.meta)
    written = [k for k in (session.keys if session else []) if k not in chunks]
    written += edit.written if edit is not None else []
    written += copied.written if copied is not None else []
    edits = t.edits

    def apply() -> None:
        t.is_new = False
        t.flushed = (meta_bytes.decode(), json.dumps(t.info))
        t.chunk_ids, t.tiles, t.commit_diff = ids, tiles_all, new_diff
        t.info_dirty = t.meta_dirty = False
        edits.clear()
        writer.reset()
        writer.tail = new_tail
        if t.creds_index is not None:
            t.creds_index.stored()
        if seq is not None and seq_starts is not None:
            seq.stored(seq_starts)
        for key in obsolete:
            ctx.cache.discard(key)
        if chunk_set_names is not None and fetch.owners is not None:
            for key in obsolete:
                fetch.owners.pop(key.rsplit("/", 1)[-1], None)
            for n in owned:
                fetch.owners[n] = (ctx.commit_id, t.key)
            fetch.owners.update(pointed)

    return FlushPlan(chunks, objects, tkey(keys.TENSOR_META), meta_bytes, obsolete, written, apply)
