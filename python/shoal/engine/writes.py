"""When and how staged writes reach storage: the flush policy, in one place.

- Outside a batch, every write is flushed before the call returns.
- Inside a batch (``with ds:`` / ``async with ds:``), writes are staged; tensors holding many
  staged bytes write their full chunks early (memory stays bounded) but nothing is
  published: encoders and metas that name those chunks are written when the outermost block
  ends. If any block of the batch raised, the batch is abandoned: the early chunks are
  removed and the in-memory state goes back to the last flush.
- A flush is committed by :func:`journal.commit`: atomic even under a kill at any point (a
  redo journal, recovered when the dataset is opened); a flush that fails in-process leaves
  the dataset on storage as it was.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import json
import weakref
from typing import TYPE_CHECKING

from .. import _loop
from ..format import jsonio, keys
from ..links.creds import KEY as LINKED_CREDS
from ..storage import bounded_gather
from . import journal, tensor_admin
from .chunk_writer import Cut
from .encoders import DatasetDiff
from .flush_plan import FlushPlan, plan_tensor
from .tensor import TensorEngine

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .dataset import DatasetEngine

    # A history change stored with a flush: (objects the flush writes) -> (new objects,
    # phases after the flush's, obsolete keys, bytes some overwritten objects hold now).
    HistoryHook = Callable[
        [dict[str, bytes]],
        Awaitable[
            tuple[dict[str, bytes], list[dict[str, bytes]], list[str], dict[str, bytes | None]]
        ],
    ]


class Writes:
    def __init__(self, ds: DatasetEngine) -> None:
        # Weak: the engine owns this object, and a reference back would make a cycle that
        # keeps a dropped dataset (its write lock, storage and credential refresher) alive
        # until a garbage-collector pass, maybe long after whatever vends its credentials
        # has gone. Without it, dropping the last handle releases the lock at once.
        self._ds = weakref.ref(ds)
        self.depth = 0  # open batch blocks
        self.failed = False  # a block of the open batch raised: abandon it at the end
        self._background: concurrent.futures.Future[None] | None = None
        self._lock = asyncio.Lock()
        self.flushed = (json.dumps(ds.meta), json.dumps(ds.info))

    @property
    def ds(self) -> DatasetEngine:
        ds = self._ds()
        if ds is None:
            raise RuntimeError("the dataset these writes belong to was garbage-collected")
        return ds

    # -- the policy --------------------------------------------------------------------------
    async def after_write(self) -> None:
        """After a write: flush it, or inside a batch write full chunks early."""
        if self.depth == 0:
            await self.flush()
        else:
            await self.drain()

    def after_write_sync(self) -> None:
        """:meth:`after_write` for the sync façade: inside a batch, full chunks are written in
        the background while the caller prepares more samples."""
        if self.depth == 0:
            _loop.run(self.flush())
        elif self._to_drain():
            self._drain_in_background()

    def enter(self) -> None:
        self.depth += 1

    async def exit(self, raised: bool) -> None:
        self.depth -= 1
        self.failed = self.failed or raised
        if self.depth or self.ds.read_only:
            return
        failed, self.failed = self.failed, False
        if failed:
            await self.abandon()
        else:
            await self.flush()

    # -- flush -------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        ds = self.ds
        return (
            ds.meta_dirty
            or ds.info_dirty
            or ds.versions_dirty
            or any(t.dirty for t in ds.tensors.values())
        )

    async def flush(self, then: HistoryHook | None = None) -> None:
        """Store what is staged. ``then``: a history change (a commit, a merge) stored in the
        same journalled flush; it gets the objects the flush writes (key -> bytes) and
        returns its own new objects, phases and obsolete keys."""
        await self._wait_background()
        async with self._lock:
            if not self.dirty and then is None:
                return
            self.ds.check_writable()
            await self.ds.hold_lock()
            plans: list[FlushPlan] = []
            try:
                if self.ds.info_dirty and self.ds.dataset_diff is None:
                    await tensor_admin.load_dataset_diff(self.ds)  # keep its renames, deletes
                for t in self.ds.tensors.values():
                    plan = await plan_tensor(t)
                    if plan is not None:
                        plans.append(plan)
            except BaseException:
                await self._abandon_plans(plans)
                raise
            await self._store(plans, then)

    async def _abandon_plans(self, plans: list[FlushPlan]) -> None:
        """A flush given up before its journal: planning an edit writes the rebuilt chunks at
        once (a tensor planned before the one that failed has stored them), and nothing will
        ever name them."""
        written = [k for plan in plans for k in plan.written]
        await asyncio.shield(journal.remove_unreferenced(self.ds.storage, written))
        await self.abandon()

    def _dataset_objects(self) -> dict[str, bytes]:
        ds, out = self.ds, {}
        if ds.meta_dirty:
            out[keys.dataset_key(ds.commit_id, keys.DATASET_META)] = jsonio.dumps_meta(ds.meta)
        if ds.info_dirty:
            out[keys.dataset_key(ds.commit_id, keys.DATASET_INFO)] = jsonio.dumps_meta(ds.info)
        if ds.info_dirty or ds.diff_dirty:
            diff = copy.deepcopy(ds.dataset_diff) if ds.dataset_diff is not None else DatasetDiff()
            diff.info_updated = diff.info_updated or ds.info_dirty
            out[keys.dataset_key(ds.commit_id, keys.DATASET_DIFF)] = diff.serialize()
        if ds.versions_dirty:
            out[keys.VERSION_CONTROL_INFO] = ds.versions.serialize()
        if ds.links.creds.dirty:  # creds key names now in use (never their secrets)
            out[LINKED_CREDS] = ds.links.creds.to_bytes()
        return out

    async def _store(self, plans: list[FlushPlan], then: HistoryHook | None = None) -> None:
        ds, storage = self.ds, self.ds.storage
        chunk_objs: dict[str, bytes] = {}
        encoders: dict[str, bytes] = {}
        metas: dict[str, bytes] = {}
        for plan in plans:
            chunk_objs.update(plan.chunks)
            encoders.update(plan.objects)
            metas[plan.meta_key] = plan.meta_bytes
        phases = [encoders, metas, self._dataset_objects()]
        drained = [k for plan in plans for k in plan.written]
        obsolete = [k for plan in plans for k in plan.obsolete]
        current: dict[str, bytes | None] = {}
        if then is not None:
            try:
                more_objects, more_phases, more_obsolete, current = await then(
                    {k: v for phase in phases for k, v in phase.items()}
                )
            except BaseException:
                await self._abandon_plans(plans)  # as when planning the flush fails
                raise
            chunk_objs.update(more_objects)
            phases += more_phases
            obsolete += more_obsolete
        incomplete: journal.FlushIncompleteError | None = None
        try:
            key = journal.key_for(ds.branch)
            await journal.commit(storage, key, chunk_objs, phases, obsolete, drained, current)
        except journal.FlushIncompleteError as exc:
            incomplete = exc  # committed: memory keeps the flush, as storage will after recovery
        except BaseException:
            self._restore_flushed()
            raise
        for plan in plans:
            plan.apply()
        self.flushed = (json.dumps(ds.meta), json.dumps(ds.info))
        ds.meta_dirty = ds.info_dirty = ds.versions_dirty = False
        ds.links.creds.dirty = False
        if incomplete is not None:
            raise incomplete

    # -- early chunk writes inside a batch ---------------------------------------------------
    def _to_drain(self) -> list[TensorEngine]:
        limit = self.ds.drain_bytes
        return [t for t in self.ds.tensors.values() if t.staged_bytes >= limit]

    async def drain(self) -> None:
        """Write the full chunks of tensors holding many staged bytes (before returning)."""
        await self._wait_background()
        big = self._to_drain()
        if not big:
            return
        try:
            for t in big:
                await t.begin()
            await _write_cuts([(t, t.writer.cut(final=False)) for t in big])
        except BaseException:
            await self.abandon()
            raise

    # From the caller's thread: cut full chunks now, write them on the I/O loop while the
    # caller goes on. At most one such write is in flight; a failure abandons the batch, as a
    # failed flush would, and is raised at the next call.
    def _drain_in_background(self) -> None:
        self._wait_background_sync()
        big = self._to_drain()
        try:
            _loop.run(_begin_all(big))
            cuts = [(t, t.writer.cut(final=False)) for t in big]
        except BaseException:
            _loop.run(self.abandon())
            raise
        self._background = asyncio.run_coroutine_threadsafe(_write_cuts(cuts), _loop.get_loop())

    def _wait_background_sync(self) -> None:
        fut, self._background = self._background, None
        if fut is None:
            return
        try:
            fut.result()
        except BaseException:
            _loop.run(self.abandon())
            raise

    async def _wait_background(self) -> None:
        fut, self._background = self._background, None
        if fut is None:
            return
        try:
            await asyncio.wrap_future(fut)
        except BaseException:
            await self.abandon()
            raise

    # -- abandoning a batch ------------------------------------------------------------------
    async def abandon(self) -> None:
        """Drop everything staged since the last flush and remove the chunks written early."""
        fut, self._background = self._background, None
        if fut is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(fut)
        pending = [k for t in self.ds.tensors.values() for k in t.pending_keys()]
        await asyncio.shield(self._rollback(pending, [], {}))
        self._restore_flushed()

    async def _rollback(
        self, chunks: list[str], written: list[str], previous: dict[str, bytes | None]
    ) -> None:
        """Best effort: put back what was overwritten, remove what was added."""
        storage = self.ds.storage

        async def restore(key: str) -> None:
            old = previous.get(key)
            # If the storage is failing, nothing more can be done here; the error that
            # started the rollback is the one the caller sees.
            with contextlib.suppress(Exception):
                if old is None:
                    await storage.delete(key)
                else:
                    await storage.put(key, old)

        async def remove(key: str) -> None:
            with contextlib.suppress(Exception):
                await storage.delete(key)

        await asyncio.gather(*(restore(k) for k in written), *(remove(k) for k in chunks))
        for t in self.ds.tensors.values():
            t.discard_staged()

    def _restore_flushed(self) -> None:
        """The in-memory state goes back to what storage holds."""
        ds = self.ds
        meta, info = self.flushed
        ds.meta = json.loads(meta)
        ds.info.clear()
        ds.info.update(json.loads(info))
        ds.tensors = {k: t for k, t in ds.tensors.items() if k in ds.meta["tensors"]}
        for t in ds.tensors.values():
            t.discard_staged()
        ds.meta_dirty = ds.info_dirty = ds.diff_dirty = False
        ds.dataset_diff = None  # read again from storage when next needed


async def _begin_all(tensors: list[TensorEngine]) -> None:
    for t in tensors:
        await t.begin()


async def _write_cuts(cuts: list[tuple[TensorEngine, Cut]]) -> None:
    await bounded_gather((t.writer.write(c) for t, c in cuts), limit=len(cuts) or 1)
