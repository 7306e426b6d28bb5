"""One tensor at one commit: its meta, info and encoders, and the parts that read and write it.

The parts, each in its own module: ``fetch`` locates and fetches chunk objects, ``reads``
plans reads and ``assemble`` fills output arrays, ``prefetch`` loads ahead of scans,
``staging`` validates and holds appended samples, ``chunk_writer`` cuts and writes chunks,
``flush_plan`` computes what a flush stores. A tensor sees its dataset only through a
:class:`TensorContext`: it never flushes, and knows nothing of other tensors.
"""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import numpy as np

from .. import _loop, _native
from ..errors import CorruptDataError
from ..format import jsonio, keys
from ..format.htypes import HType, array_dtype, fill_meta_defaults, htype_of
from ..links import engine as link_engine
from ..links.encoder import CredsIndex
from ..links.htype import public_htype
from . import assemble, reads, sequence_edits, sequences, staging
from .chunk_writer import ChunkWriter, Session
from .context import TensorContext
from .edits import Edits, changes_of
from .encoders import CommitDiff
from .fetch import ChunkFetcher
from .prefetch import Prefetcher
from .samples import Prepared
from .sequences import SequenceIndex

EMPTY_IDS = np.zeros((0, 2), dtype=np.uint64)


class TensorEngine:
    def __init__(
        self,
        ctx: TensorContext,
        key: str,
        meta: dict[str, Any],
        info: dict[str, Any],
        chunk_ids: np.ndarray = EMPTY_IDS,
        tiles: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] | None = None,
        commit_diff: CommitDiff | None = None,
    ) -> None:
        self.ctx = ctx
        self.key = key
        self.meta = meta  # one dict, shared with fetch and writer: never rebound
        self.info = info
        self.chunk_ids = chunk_ids
        self.tiles = tiles if tiles is not None else {}
        self.commit_diff = commit_diff
        self.info_dirty = False
        self.meta_dirty = False  # a change to the meta alone (a rename)
        self.is_new = False  # created since the last flush: its metas are not stored yet
        self.full = True  # chunk index, tile encoder and commit diff loaded (ensure_full)
        self.info_loaded = True
        # What storage holds, to restore the in-memory state when a batch is abandoned.
        self.flushed: tuple[str, str] = (json.dumps(meta), json.dumps(info))
        self.fetch = ChunkFetcher(ctx, key, meta)
        self.writer = ChunkWriter(ctx, key, meta)
        self.prefetch = Prefetcher()
        self.creds_index: CredsIndex | None = None  # link tensors: each sample's creds key
        self.seq: SequenceIndex | None = None  # sequence tensors: each sample's items
        self.edits = Edits()

    # -- properties --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.key)

    @property
    def htype(self) -> str:
        return public_htype(self.meta)

    @property
    def length(self) -> int:
        return int(self.meta.get("length", 0))

    @property
    def samples(self) -> int:
        """Samples as users count them: a sequence tensor's ``length`` counts its items."""
        return self.seq.samples if self.seq is not None else self.length

    @property
    def kind(self) -> HType:
        """The htype object: what samples are and how they read back."""
        return htype_of(self.meta.get("htype")).bind(self.meta)

    @property
    def dtype(self) -> np.dtype | None:
        """The stored numpy dtype (None: not fixed yet, or serialised objects)."""
        return array_dtype(self.meta.get("dtype"))

    @property
    def fixed_shape(self) -> bool:
        mn, mx = self.meta.get("min_shape"), self.meta.get("max_shape")
        return bool(mn) and mn == mx and not self.kind.is_object

    @property
    def stored_length(self) -> int:
        """Samples the stored chunk index covers (appends inside a batch are not there yet)."""
        return int(self.chunk_ids[-1, 1]) + 1 if len(self.chunk_ids) else 0

    @property
    def readable_stored(self) -> int:
        """Samples readable through the stored chunk index: a write session may have taken
        over the last chunk (its samples are then read from the session)."""
        session = self.writer.session
        if session is None:
            return self.stored_length
        return int(self.chunk_ids[session.start_row - 1, 1]) + 1 if session.start_row else 0

    def tensor_key(self, name: str) -> str:
        return self.ctx.tensor_key(self.key, name)

    @staticmethod
    def cpu_pool() -> concurrent.futures.ThreadPoolExecutor:
        return _loop.cpu_pool()

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    async def load(
        cls,
        ctx: TensorContext,
        key: str,
        with_info: bool,
        primed: dict[str, bytes | None] | None = None,
    ) -> TensorEngine:
        """The tensor's meta (and info): everything attribute access needs. The chunk index
        and the rest follow on first read or write (:meth:`ensure_full`). ``primed``: objects
        already read (key -> bytes, None: missing)."""
        where = f"{ctx.url}/{ctx.tensor_key(key, '')}"
        names = [keys.TENSOR_META, keys.TENSOR_INFO] if with_info else [keys.TENSOR_META]
        wanted = [ctx.tensor_key(key, n) for n in names]
        if primed is not None and all(k in primed for k in wanted):
            raw_meta, *raw_info = [primed[k] for k in wanted]
        else:
            raw_meta, *raw_info = await ctx.storage.get_many(wanted)
        if raw_meta is None:
            raise CorruptDataError(
                f"tensor {key!r} is listed in dataset_meta.json but {where}tensor_meta.json is "
                "missing; the dataset is damaged"
            )
        meta = fill_meta_defaults(jsonio.loads(raw_meta, f"{where}tensor_meta.json"))
        engine = cls(ctx, key, meta, {})
        engine.full = False
        engine.info_loaded = False
        if with_info:
            engine._set_info(raw_info[0])
        if meta.get("is_sequence"):  # its length in samples is in the sequence index
            await engine.load_sequence_index()
        return engine

    async def load_sequence_index(self) -> None:
        key = self.tensor_key(sequences.KEY)
        raw = (await self.ctx.storage.get_many([key]))[0]
        self.seq = SequenceIndex.parse(raw, self.length, f"{self.ctx.url}/{key}")

    def _set_info(self, raw: bytes | None) -> None:
        where = f"{self.ctx.url}/{self.ctx.tensor_key(self.key, keys.TENSOR_INFO)}"
        self.info.update(jsonio.loads(raw, where) if raw else {})
        self.flushed = (json.dumps(self.meta), json.dumps(self.info))
        self.info_loaded = True

    async def ensure_info(self) -> None:
        if not self.info_loaded:
            raw = (await self.ctx.storage.get_many([self.tensor_key(keys.TENSOR_INFO)]))[0]
            if not self.info_loaded:  # loaded concurrently while we waited
                self._set_info(raw)

    async def ensure_full(self) -> None:
        """Load the chunk index, tile encoder, commit diff and info, once."""
        if self.full:
            return
        ctx, key = self.ctx, self.key
        names = [keys.CHUNK_IDS, keys.TILE_ENCODER, keys.COMMIT_DIFF, keys.TENSOR_INFO]
        raw_ids, raw_tiles, raw_diff, raw_info = await ctx.storage.get_many(
            [ctx.tensor_key(key, n) for n in names]
        )
        if self.full:  # loaded concurrently while we waited
            return
        if not self.info_loaded:
            self._set_info(raw_info)
        where = f"{ctx.url}/{ctx.tensor_key(key, '')}"
        ids = _native.parse_chunk_ids(raw_ids)[1] if raw_ids else EMPTY_IDS
        tiles = _native.parse_tile_encoder(raw_tiles)[1] if raw_tiles else {}
        diff = CommitDiff.parse(raw_diff, f"{where}commit_diff") if raw_diff else None
        encoded = int(ids[-1, 1]) + 1 if len(ids) else 0
        if encoded != self.length and not self.meta.get("is_sequence"):
            raise CorruptDataError(
                f"tensor {key!r}: tensor_meta.json says {self.length} samples but its chunk "
                f"index covers {encoded}; the dataset is damaged (an interrupted write by "
                "another tool?)"
            )
        if self.meta.get("is_link"):  # edits and appends keep each sample's creds key
            await link_engine.load_index(self)
        self.chunk_ids, self.tiles, self.commit_diff = ids, tiles, diff
        self.full = True

    async def load_row(self, row: int) -> None:
        """Decode the chunk of a chunk-index row into the cache (for prefetching)."""
        await self.fetch.chunk(int(self.chunk_ids[row, 0]))

    # -- reads -------------------------------------------------------------------------------
    def check_indices(self, idx: np.ndarray) -> None:
        n = self.length
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = int(idx[(idx < 0) | (idx >= n)][0])
            raise IndexError(f"index {bad} is out of range for tensor {self.name!r} of length {n}")

    async def read_stacked(self, idx: np.ndarray) -> np.ndarray:
        if self.meta.get("is_link"):
            dtype = self.dtype or np.dtype(np.uint8)
            return assemble.stack(await self.read_arrays(idx), self.meta, dtype, idx.size)
        return await reads.read_stacked(self, idx)

    async def read_arrays(self, idx: np.ndarray) -> list[np.ndarray]:
        if self.meta.get("is_link"):
            self.check_indices(idx)
            return await link_engine.read_arrays(self, idx)
        return await reads.read_arrays(self, idx)

    async def read_blobs(self, idx: np.ndarray) -> list[bytes]:
        """Stored bytes of object samples (a link tensor's: the linked files' bytes)."""
        if self.meta.get("is_link"):
            self.check_indices(idx)
            return await link_engine.read_files(self, idx)
        return await reads.read_blobs(self, idx)

    def read_stacked_cached(self, idx: np.ndarray) -> np.ndarray | None:
        """For sync callers on their own thread; prefetches on the background loop."""
        return reads.read_stacked_cached(self, idx, _loop.get_loop())

    # -- writes ------------------------------------------------------------------------------
    async def read_files(self, samples: Any) -> Any:
        """Samples given as file paths, read (off the loop) if this htype takes files."""
        return await staging.read_files(samples) if self.kind.reads_files else samples

    def prepare(self, samples: Any) -> tuple[Prepared, list[str]]:
        """Validate and convert samples; nothing is staged yet."""
        if self.meta.get("is_link"):
            return link_engine.prepare(self, samples), []
        return staging.prepare(self.name, self.meta, self.info, samples)

    def stage(self, prepared: Prepared, new_class_names: list[str]) -> None:
        """Install prepared samples (cannot fail)."""
        if staging.stage(self.writer.staged, self.meta, self.info, prepared, new_class_names):
            self.info_dirty = True
        if isinstance(prepared, link_engine.LinkPrepared):
            link_engine.staged(self, prepared)

    def stage_updates(
        self,
        indices: list[int],
        prepared: Prepared,
        new_names: list[str],
        samples: list[int] | None = None,
    ) -> None:
        """Install prepared new values of samples ``indices`` (cannot fail). A sequence
        tensor's ``indices`` are of items, ``samples`` the samples they belong to."""
        if samples is not None:
            self.edits.sample_updates = {*(self.edits.sample_updates or ()), *samples}
        for i, change in zip(indices, changes_of(prepared), strict=True):
            self.edits.updates[i] = change
        self.writer.hold_tail = True
        if isinstance(prepared, link_engine.LinkPrepared):
            link_engine.staged_updates(self, indices, prepared)
        staging.update_shape_bounds(self.meta, prepared.bound_shapes)
        if new_names:
            self.info.setdefault("class_names", []).extend(new_names)
            self.info_dirty = True

    def stage_pops(self, indices: list[int], sample_ids: list[int | None]) -> None:
        """Remove samples ``indices`` (descending) at the next flush; the length drops now."""
        self.edits.pops[:] = indices
        self.edits.pop_ids[:] = sample_ids
        link_engine.staged_pops(self, indices)
        self.writer.hold_tail = True
        self.meta["length"] = self.length - len(indices)
        if self.length == 0:
            self.meta["min_shape"], self.meta["max_shape"] = [], []

    def stage_sequence_pops(
        self, samples: list[int], sample_ids: list[int | None], shift: int
    ) -> None:
        """Remove sequence samples ``samples`` (descending) and their items at the next flush;
        ``shift``: see ``sequence_edits.diff_shift``."""
        items = sequence_edits.pop_items(self, samples)
        rows = sequence_edits.pop_rows(self.seq.rows, samples) if self.seq is not None else None
        self.stage_pops(items, [None] * len(items))
        self.edits.sample_pops = list(samples)
        self.edits.pop_ids[:] = sample_ids
        self.edits.diff_shift = shift
        if self.seq is not None and rows is not None:
            self.seq.pop(samples, rows)

    def diff_after_flush(self, appended: bool) -> CommitDiff:
        """The commit diff once the staged writes are stored (deeplake's bookkeeping)."""
        labels = self.meta.get("htype") == "class_label"
        if self.commit_diff is not None:
            diff = self.commit_diff.copy()
        elif self.is_new:
            diff = CommitDiff(created=True)
        else:  # first change to this tensor in this commit
            before = self.stored_length - self.edits.diff_shift
            copied = self.edits.copied
            if copied is not None and not copied.added and not self.edits.touched:
                # a merge wrote none of its samples again: deeplake makes the diff at the
                # update that follows the copy, the samples pointed at counted in
                before = self.length
            if self.seq is not None and self.seq.dirty and not labels and not self.seq.merged:
                # deeplake makes the diff after the first sample's items are in; class
                # labels make it before, when their names are looked up
                before += self.seq.first_staged_items()
            diff = CommitDiff(added_start=before, added_end=before)
        appended = appended or (
            self.seq is not None and not self.seq.merged and self.seq.staged_samples() > 0
        )
        # deeplake marks a class-label tensor's info updated by every append
        # (and by every update)
        updated = bool(self.edits.updates or self.edits.sample_updates)
        diff.info_updated = (
            diff.info_updated or self.info_dirty or (labels and (appended or updated))
        )
        self.edits.apply_to(diff)
        if self.seq is not None and not self.seq.merged:
            # deeplake counts a sequence tensor's appends in samples (add_data(1) each); a
            # merge's edge items as the items they are (merge_copy counts them)
            diff.added_end += self.seq.staged_samples()
        elif appended:
            diff.added_end = self.length
        return diff

    async def begin(self) -> Session:
        await self.ensure_full()
        return await self.writer.begin(self.fetch, self.chunk_ids, self.tiles, self.length)

    def discard_staged(self) -> None:
        """Forget everything since the last flush (after a failed or abandoned write)."""
        self.writer.reset()
        if self.creds_index is not None:
            self.creds_index.discard()
        if self.seq is not None:
            self.seq.discard()
        self.edits.clear()
        self.meta_dirty = False
        meta, info = self.flushed
        self.meta.clear()
        self.meta.update(json.loads(meta))
        self.info.clear()
        self.info.update(json.loads(info))
        self.info_dirty = False

    def pending_keys(self) -> list[str]:
        """Chunk objects written since the last flush (deleted if the batch is abandoned)."""
        return self.writer.pending_keys()

    @property
    def dirty(self) -> bool:
        return (
            self.writer.dirty
            or self.info_dirty
            or self.meta_dirty
            or self.is_new
            or bool(self.edits)
            or (self.seq is not None and self.seq.dirty)
        )

    @property
    def staged_bytes(self) -> int:
        return self.writer.staged_bytes
