"""One dataset at one commit: dataset meta, info, version info, tensors, and the flush.

Flush order keeps a crash or a failed write from exposing half a sample:
chunk objects first, then encoders and tensor infos, then tensor metas, then the dataset meta.
If any write fails, the objects already overwritten are put back and new chunks removed, so
the dataset on storage is as it was before the flush.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
from typing import Any

import numpy as np

from .. import _loop
from ..errors import (
    CorruptDataError,
    DatasetExistsError,
    DatasetNotFoundError,
    InvalidHtypeError,
    ReadOnlyError,
    TensorExistsError,
    TensorNotFoundError,
)
from ..format import jsonio, keys
from ..format.htypes import (
    INFO_HTYPES,
    NO_SHAPE_HTYPES,
    SAMPLE_INFO_MAX_CHUNK_SIZE,
    new_tensor_meta,
)
from ..format.versions import VersionInfo
from ..storage import Storage, bounded_gather
from .chunks import ChunkCache, HeaderCache
from .encoders import dataset_diff
from .tensor import Cut, TensorEngine

_NAME_FORBIDDEN = set(' \\:*?"<>|')
# Staged bytes of one tensor above which full chunks are written before the batch ends.
DRAIN_BYTES = 32_000_000


def new_dataset_meta() -> dict[str, Any]:
    return {
        "allow_delete": True,
        "default_index": [{"start": None, "step": None, "stop": None}],
        "groups": [],
        "hidden_tensors": [],
        "tensor_names": {},
        "tensors": [],
        "version": keys.FORMAT_VERSION,
    }


class DatasetEngine:
    def __init__(
        self,
        storage: Storage,
        versions: VersionInfo,
        commit_id: str,
        branch: str | None,
        meta: dict[str, Any],
        info: dict[str, Any],
    ) -> None:
        self.storage = storage
        self.versions = versions
        self.commit_id = commit_id
        self.branch = branch
        self.meta = meta
        self.info = info
        self.info_dirty = False
        self.meta_dirty = False
        self.versions_dirty = False
        self.tensors: dict[str, TensorEngine] = {}  # by key
        self.cache = ChunkCache()
        self.headers = HeaderCache()
        self.batch_depth = 0  # open `with ds:` blocks; writes flush when it returns to 0
        self._background: concurrent.futures.Future[None] | None = None
        self.flush_lock = asyncio.Lock()
        self._flushed: tuple[str, str] = (json.dumps(meta), json.dumps(info))

    @property
    def url(self) -> str:
        return self.storage.url

    @property
    def read_only(self) -> bool:
        return self.storage.read_only or self.branch is None

    # -- open / create -----------------------------------------------------------------------
    @staticmethod
    async def exists(storage: Storage) -> bool:
        found = await storage.get_many([keys.DATASET_META, keys.VERSION_CONTROL_INFO])
        return any(x is not None for x in found)

    @classmethod
    async def open(cls, storage: Storage, version: str | None) -> DatasetEngine:
        raw_vc, raw_root_meta = await storage.get_many(
            [keys.VERSION_CONTROL_INFO, keys.DATASET_META]
        )
        if raw_vc is None and raw_root_meta is None:
            raise DatasetNotFoundError(
                f"no dataset at {storage.url}; create one with shoal.empty({storage.url!r}) "
                "or check the path"
            )
        versions = VersionInfo.parse(raw_vc) if raw_vc is not None else VersionInfo.new()
        commit_id, branch = versions.resolve(version)
        meta_key = keys.dataset_key(commit_id, keys.DATASET_META)
        raw_meta, raw_info = await storage.get_many(
            [meta_key, keys.dataset_key(commit_id, keys.DATASET_INFO)]
        )
        if raw_meta is None:
            raise CorruptDataError(
                f"{storage.url}: {meta_key} is missing for commit {commit_id}; the dataset is "
                "damaged"
            )
        meta = jsonio.loads(raw_meta, f"{storage.url}/{meta_key}")
        if not isinstance(meta, dict) or not isinstance(meta.get("tensors", []), list):
            raise CorruptDataError(f"{storage.url}/{meta_key} is not a dataset meta")
        meta.setdefault("tensors", [])
        meta.setdefault("hidden_tensors", [])
        meta.setdefault("groups", [])
        if not meta.get("tensor_names"):
            meta["tensor_names"] = {k: k for k in meta["tensors"]}
        info = jsonio.loads(raw_info, f"{storage.url}/dataset_info.json") if raw_info else {}
        # Tensors load on first use: opening a dataset of hundreds of tensors costs two round
        # trips, not five per tensor (deeplake users wait minutes for that on hub://).
        return cls(storage, versions, commit_id, branch, meta, info)

    @classmethod
    async def create(cls, storage: Storage, overwrite: bool) -> DatasetEngine:
        if storage.read_only:
            raise ReadOnlyError(f"cannot create a dataset at {storage.url}: opened read-only")
        if await cls.exists(storage):
            if not overwrite:
                raise DatasetExistsError(
                    f"a dataset already exists at {storage.url}; load it with shoal.load, or pass "
                    "overwrite=True to replace it (its data will be deleted)"
                )
            await storage.delete_prefix("")
        versions = VersionInfo.new()
        ds = cls(storage, versions, keys.FIRST_COMMIT_ID, "main", new_dataset_meta(), {})
        ds.meta_dirty = True
        ds.versions_dirty = True
        await ds.flush()
        return ds

    # -- tensors -----------------------------------------------------------------------------
    async def load(self, tensor_keys: list[str], full: bool = False) -> None:
        """Load the metas of tensors not loaded yet, concurrently; with ``full``, also their
        encoders and info (needed before appending or reading info)."""
        missing = [k for k in dict.fromkeys(tensor_keys) if k not in self.tensors]
        if missing:
            loaded = await bounded_gather(TensorEngine.load(self, k) for k in missing)
            for t in loaded:
                self.tensors.setdefault(t.key, t)
        if full:
            await bounded_gather(self.tensors[k].ensure_full() for k in dict.fromkeys(tensor_keys))

    def load_sync(self, tensor_keys: list[str], full: bool = False) -> None:
        """:meth:`load` for sync callers (a no-op when everything is loaded)."""
        if any(k not in self.tensors or (full and not self.tensors[k].full) for k in tensor_keys):
            _loop.run(self.load(tensor_keys, full=full))

    def with_companions(self, key: str) -> list[str]:
        """``key`` and the hidden tensors linked to it (loaded before appending)."""
        t = self.tensors.get(key)
        links = list(t.meta.get("links", {})) if t is not None else []
        return [key, *(k for k in links if k in self.meta["tensors"])]

    def key_of(self, name: str) -> str:
        key = self.meta["tensor_names"].get(name)
        if key is None or key not in self.meta["tensors"]:
            visible = [n for n in self.visible_names()]
            raise TensorNotFoundError(
                f"no tensor named {name!r} in {self.url}; tensors: {visible or 'none'}"
            )
        return str(key)

    def tensor(self, name: str) -> TensorEngine:
        """A fully loaded tensor by name (for sync callers: loads it if needed)."""
        key = self.key_of(name)
        self.load_sync([key], full=True)
        return self.tensors[key]

    def visible_names(self) -> list[str]:
        hidden = set(self.meta.get("hidden_tensors", []))
        by_key = {v: k for k, v in self.meta["tensor_names"].items()}
        return [by_key.get(k, k) for k in self.meta["tensors"] if k not in hidden]

    def check_writable(self) -> None:
        if self.storage.read_only:
            # The provider knows why it is read-only (a hub:// reader's role, say) and says so.
            self.storage.check_writable("the dataset")
        if self.branch is None:
            raise ReadOnlyError(
                f"{self.url} is opened at commit {self.commit_id}, which is not the head of a "
                "branch; load a branch to write"
            )

    def create_tensor(
        self,
        name: str,
        htype: str = "generic",
        dtype: Any = None,
        sample_compression: str | None = None,
        chunk_compression: str | None = None,
        max_chunk_size: int | None = None,
        hidden: bool = False,
        tiling_threshold: int | None = None,
        **htype_kwargs: Any,
    ) -> TensorEngine:
        self.check_writable()
        if not isinstance(name, str) or not name or name.startswith("/") or name.endswith("/"):
            raise InvalidHtypeError(
                f"invalid tensor name {name!r}: use a non-empty name like 'images'"
            )
        if _NAME_FORBIDDEN & set(name) or any(p in ("", ".", "..") for p in name.split("/")):
            raise InvalidHtypeError(
                f"invalid tensor name {name!r}: names may not contain spaces, '..' or any of "
                f"{''.join(sorted(_NAME_FORBIDDEN - {' '}))}"
            )
        if name in self.meta["tensor_names"]:
            raise TensorExistsError(
                f"tensor {name!r} already exists in {self.url}; pick another name"
            )
        if name in self.meta["groups"]:
            raise TensorExistsError(f"{name!r} is a group in {self.url}; pick another name")
        meta, info = new_tensor_meta(
            name,
            htype,
            dtype,
            sample_compression,
            chunk_compression,
            max_chunk_size,
            tiling_threshold,
            hidden,
            **htype_kwargs,
        )
        engines = [self._add_tensor(name, meta, info, hidden)]
        if not hidden:
            if htype in INFO_HTYPES:
                engines.append(self._companion(name, "info", htype="json"))
            if htype not in NO_SHAPE_HTYPES:
                engines.append(self._companion(name, "shape", dtype="int64"))
            engines.append(self._companion(name, "id"))
        return engines[0]

    def _add_tensor(
        self, name: str, meta: dict[str, Any], info: dict[str, Any], hidden: bool
    ) -> TensorEngine:
        key = name
        if "/" in name:
            groups = self.meta["groups"]
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                group = "/".join(parts[:i])
                if group not in groups:
                    groups.append(group)
        engine = TensorEngine(self, key, meta, info, _empty_ids(), {}, None)
        engine.info_dirty = bool(info)
        engine.is_new = True
        self.tensors[key] = engine
        self.meta["tensors"].append(key)
        self.meta["tensor_names"][name] = key
        if hidden:
            self.meta["hidden_tensors"].append(key)
        self.meta_dirty = True
        return engine

    def _companion(self, parent: str, kind: str, **kwargs: Any) -> TensorEngine:
        name = {"info": keys.hidden_info, "shape": keys.hidden_shape, "id": keys.hidden_id}[kind](
            parent
        )
        htype = kwargs.pop("htype", "generic")
        mcs = SAMPLE_INFO_MAX_CHUNK_SIZE if kind in ("info", "shape") else None
        meta, info = new_tensor_meta(name, htype, max_chunk_size=mcs, hidden=True, **kwargs)
        engine = self._add_tensor(name, meta, info, hidden=True)
        parent_meta = self.tensors[self.meta["tensor_names"][parent]].meta
        link: dict[str, Any] = {"extend": f"extend_{kind}", "flatten_sequence": kind != "id"}
        if kind != "id":
            link["update"] = f"update_{kind}"
        parent_meta["links"][engine.key] = link
        return engine

    # -- flush -------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return (
            self.meta_dirty
            or self.info_dirty
            or self.versions_dirty
            or any(t.dirty for t in self.tensors.values())
        )

    async def flush(self) -> None:
        await self.wait_background_async()
        async with self.flush_lock:
            if not self.dirty:
                return
            self.check_writable()
            await self._flush()

    async def _flush(self) -> None:
        try:
            plans = [p for p in [await t.plan_flush() for t in self.tensors.values()] if p]
        except BaseException:
            await self._abort()
            raise
        storage = self.storage
        chunk_objs: dict[str, bytes] = {}
        phase2: dict[str, bytes] = {}
        phase3: dict[str, bytes] = {}
        for plan in plans:
            chunk_objs.update(plan.chunks)
            phase2.update(plan.objects)
            phase3[plan.meta_key] = plan.meta_bytes
        phase4: dict[str, bytes] = {}
        if self.meta_dirty:
            phase4[keys.dataset_key(self.commit_id, keys.DATASET_META)] = jsonio.dumps_meta(
                self.meta
            )
        if self.info_dirty:
            phase4[keys.dataset_key(self.commit_id, keys.DATASET_INFO)] = jsonio.dumps_meta(
                self.info
            )
            phase4[keys.dataset_key(self.commit_id, keys.DATASET_DIFF)] = dataset_diff(True)
        if self.versions_dirty:
            phase4[keys.VERSION_CONTROL_INFO] = self.versions.serialize()

        overwritten = [*phase2, *phase3, *phase4]
        previous = dict(zip(overwritten, await storage.get_many(overwritten), strict=True))
        written: list[str] = []
        try:
            await storage.put_many(chunk_objs)
            for phase in (phase2, phase3, phase4):
                await storage.put_many(phase)
                written.extend(phase)
        except BaseException:
            drained = [k for plan in plans for k in plan.written]
            await asyncio.shield(self._rollback([*chunk_objs, *drained], written, previous))
            self._restore_flushed()
            raise
        for plan in plans:
            plan.apply()
        self._flushed = (json.dumps(self.meta), json.dumps(self.info))
        obsolete = [k for plan in plans for k in plan.obsolete]
        if obsolete:
            await bounded_gather(storage.delete(k) for k in obsolete)
        self.meta_dirty = self.info_dirty = self.versions_dirty = False

    def _restore_flushed(self) -> None:
        """After a failed flush: the in-memory state goes back to what storage holds."""
        meta, info = self._flushed
        self.meta = json.loads(meta)
        self.info.clear()
        self.info.update(json.loads(info))
        self.tensors = {k: t for k, t in self.tensors.items() if k in self.meta["tensors"]}
        for t in self.tensors.values():
            t.discard_staged()
        self.meta_dirty = self.info_dirty = False

    def wants_drain(self) -> bool:
        return bool(self._to_drain())

    def _to_drain(self) -> list[TensorEngine]:
        return [t for t in self.tensors.values() if t.staged_bytes >= DRAIN_BYTES]

    # Inside ``with ds:``, tensors holding many staged bytes write their full chunks before the
    # batch ends: memory stays bounded, and (from sync callers) the write runs on the I/O loop
    # while the caller prepares more samples. At most one such write is in flight. A failure
    # drops the whole batch, as a failed flush would, and is raised at the next call.
    def drain_sync(self) -> None:
        """From the caller's thread: cut full chunks now, write them in the background."""
        self.wait_background()
        big = self._to_drain()
        if not big:
            return
        try:
            _loop.run(self._begin(big))
            cuts = [(t, t.cut(final=False)) for t in big]
        except BaseException:
            _loop.run(self._abort())
            raise
        self._background = asyncio.run_coroutine_threadsafe(
            self._write_cuts(cuts), _loop.get_loop()
        )

    def wait_background(self) -> None:
        fut, self._background = self._background, None
        if fut is None:
            return
        try:
            fut.result()
        except BaseException:
            _loop.run(self._abort())
            raise

    async def wait_background_async(self) -> None:
        fut, self._background = self._background, None
        if fut is None:
            return
        try:
            await asyncio.wrap_future(fut)
        except BaseException:
            await self._abort()
            raise

    async def drain(self) -> None:
        """The async twin of :meth:`drain_sync` (writes before returning)."""
        await self.wait_background_async()
        big = self._to_drain()
        if not big:
            return
        try:
            await self._begin(big)
            await self._write_cuts([(t, t.cut(final=False)) for t in big])
        except BaseException:
            await self._abort()
            raise

    @staticmethod
    async def _begin(tensors: list[TensorEngine]) -> None:
        for t in tensors:
            await t.begin()

    @staticmethod
    async def _write_cuts(cuts: list[tuple[TensorEngine, Cut]]) -> None:
        await bounded_gather((t.write_chunks(c) for t, c in cuts), limit=len(cuts) or 1)

    async def _abort(self) -> None:
        pending = [k for t in self.tensors.values() for k in t.pending_keys()]
        await asyncio.shield(self._rollback(pending, [], {}))
        self._restore_flushed()

    async def _rollback(
        self, chunks: list[str], written: list[str], previous: dict[str, bytes | None]
    ) -> None:
        """Best effort: put back what was overwritten, remove what was added."""
        storage = self.storage

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
        for t in self.tensors.values():
            t.discard_staged()


def _empty_ids() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.uint64)
