"""One dataset at one commit: its meta, info, version info and tensors.

Opening loads everything attribute access needs (version info, dataset meta and info, and
the meta and info of every visible tensor, concurrently), so that after an awaited open,
``len(ds)``, ``ds.x`` or ``tensor.info`` cost no I/O. Chunk indexes load on first read,
hidden companions on first write, both awaited. When and how writes are stored is the
business of :class:`~shoal.engine.writes.Writes`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
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
from ..format.htypes import COMPANIONS, companion_samples, get_htype, new_tensor_meta
from ..format.versions import VersionInfo
from ..links.encoder import CredsIndex
from ..links.engine import check_samples as check_links
from ..links.htype import link_companions, link_options, split_link_htype
from ..links.resolve import LinkResolver
from ..storage import MemoryStorage, Storage, bounded_gather
from . import journal, sequences
from . import lock as locks
from .context import TensorContext
from .create_options import pop_left_out
from .encoders import DatasetDiff
from .open_reads import all_primed, guess, recover
from .tensor import TensorEngine
from .unchanged import check_unchanged
from .writes import Writes

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
        self.dataset_diff: DatasetDiff | None = None  # this commit's, once read (tensor_admin)
        self.diff_dirty = False
        self.open_views: weakref.WeakSet[Any] = weakref.WeakSet()  # tensor views, by the API
        self.tensors: dict[str, TensorEngine] = {}  # by key
        self.links = LinkResolver(storage)  # creds keys and the stores linked files are in
        self.ctx = TensorContext(
            storage, commit_id, list(versions.ancestors(commit_id)), links=self.links
        )
        self.writes = Writes(self)
        self.lock_timeout: float | None = 0  # how long a write waits for another writer
        self.lock_enabled = True  # False: writes take no write lock (deeplake's lock_enabled)
        self.user_read_only = False  # ds.read_only = True: writes refused until set back
        self.head_lock: locks.WriteLock | None = None

    @property
    def url(self) -> str:
        return self.storage.url

    @property
    def drain_bytes(self) -> int:
        return DRAIN_BYTES

    @property
    def read_only(self) -> bool:
        return self.storage.read_only or self.branch is None or self.user_read_only

    # -- open / create -----------------------------------------------------------------------
    @staticmethod
    async def exists(storage: Storage) -> bool:
        found = await storage.get_many([keys.DATASET_META, keys.VERSION_CONTROL_INFO, journal.KEY])
        return any(x is not None for x in found)

    @classmethod
    async def open(
        cls,
        storage: Storage,
        version: str | None,
        load_tensors: bool = True,
        known: DatasetEngine | None = None,
    ) -> DatasetEngine:
        """Open a dataset at a version; ``load_tensors``: also the meta and info of every
        visible tensor (the async object model needs them; the sync one loads on use).
        ``known``: this dataset open at another version (a checkout): the metas ``version``
        has there are read in the same round trip as the version info, and used if the
        version info still resolves ``version`` to the same commit."""
        # The first commit's objects are the root ones: an unversioned dataset opens in one
        # round trip for these (and the flush journal) and one for the tensors.
        first = [keys.VERSION_CONTROL_INFO, keys.DATASET_META, keys.DATASET_INFO]
        guessed, extra = guess(known, version)
        # the journal of the branch asked for (main's by default): a branch's writer flushes
        # through its own, and only that branch's open completes it (another branch's writer
        # may be alive); a past commit is read as it is. ``version`` may be a commit id: its
        # key then costs a request, but no round trip
        named = version is None or known is None or version in known.versions.branches
        wanted = [journal.key_for(version)] if named else []
        raw_vc, raw_root_meta, raw_root_info, *found = await storage.get_many(
            [*first, *wanted, *extra]
        )
        primed = dict(zip(extra, found[len(wanted) :], strict=True))
        journals = dict(zip(wanted, found[: len(wanted)], strict=True))
        storage, recovered = await recover(storage, journals)
        if recovered:
            raw_vc, raw_root_meta, raw_root_info = await storage.get_many(first)
            primed = {}
        if raw_vc is None and raw_root_meta is None:
            raise DatasetNotFoundError(
                f"no dataset at {storage.url}; create one with shoal.empty({storage.url!r}) "
                "or check the path"
            )
        versions = VersionInfo.parse(raw_vc) if raw_vc is not None else VersionInfo.new()
        commit_id, branch = versions.resolve(version)
        mine = journal.key_for(branch)
        if branch is not None and mine not in journals:  # a branch head opened by its id
            (raw_mine,) = await storage.get_many([mine])
            storage, recovered = await recover(storage, {mine: raw_mine})
            if recovered:
                (raw_vc, raw_root_meta, raw_root_info), primed = await storage.get_many(first), {}
                versions = VersionInfo.parse(raw_vc) if raw_vc is not None else VersionInfo.new()
                commit_id, branch = versions.resolve(version)
        if commit_id != guessed:
            primed = {}
        meta_key = keys.dataset_key(commit_id, keys.DATASET_META)
        info_key = keys.dataset_key(commit_id, keys.DATASET_INFO)
        raw_meta: bytes | None
        raw_info: bytes | None
        if commit_id == keys.FIRST_COMMIT_ID and raw_root_meta is not None:
            raw_meta, raw_info = raw_root_meta, raw_root_info
        elif meta_key in primed and info_key in primed:
            raw_meta, raw_info = primed[meta_key], primed[info_key]
        else:
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
        ds = cls(storage, versions, commit_id, branch, meta, info)
        visible = [ds.key_of(n) for n in ds.visible_names()]
        if load_tensors:
            await ds.load(visible, info=True, primed=primed)
        elif primed:  # read already: costs no I/O
            await ds.load(
                [k for k in visible if ds.ctx.tensor_key(k, keys.TENSOR_META) in primed],
                info=True,
                primed=primed,
            )
        return ds

    @classmethod
    async def make_room(cls, storage: Storage, overwrite: bool) -> None:
        """Before a new dataset is written at ``storage``: refuse if one is there, or with
        ``overwrite`` delete it (unless another writer holds it)."""
        if storage.read_only:
            raise ReadOnlyError(f"cannot create a dataset at {storage.url}: opened read-only")
        if await cls.exists(storage):
            if not overwrite:
                raise DatasetExistsError(
                    f"a dataset already exists at {storage.url}; load it with shoal.load, or pass "
                    "overwrite=True to replace it (its data will be deleted)"
                )
            await locks.check_no_writer(storage)  # not from under another writer's feet
            await storage.delete_prefix("")

    @classmethod
    async def create(cls, storage: Storage, overwrite: bool) -> DatasetEngine:
        await cls.make_room(storage, overwrite)
        versions = VersionInfo.new()
        ds = cls(storage, versions, keys.FIRST_COMMIT_ID, "main", new_dataset_meta(), {})
        ds.meta_dirty = True
        ds.versions_dirty = True
        await ds.writes.flush()
        return ds

    # -- tensors -----------------------------------------------------------------------------
    async def load(
        self,
        tensor_keys: list[str],
        full: bool = False,
        info: bool = False,
        primed: dict[str, bytes | None] | None = None,
    ) -> None:
        """Load the metas of tensors not loaded yet, concurrently; with ``info``, also their
        infos; with ``full``, also their chunk indexes (needed before reading or appending).
        ``primed``: objects already read (key -> bytes, None: missing)."""
        wanted = list(dict.fromkeys(tensor_keys))
        missing = [k for k in wanted if k not in self.tensors]
        if len(missing) == 1 or (missing and all_primed(self.ctx, missing, info, primed)):
            # nothing to wait for concurrently: no task per tensor (each costs the loop a turn,
            # which is most of a checkout's time)
            for k in missing:
                t = await TensorEngine.load(self.ctx, k, info, primed)
                self.tensors.setdefault(t.key, t)
        elif missing:
            loaded = await bounded_gather(
                TensorEngine.load(self.ctx, k, info, primed) for k in missing
            )
            for t in loaded:
                self.tensors.setdefault(t.key, t)
        if full:
            todo = [self.tensors[k] for k in wanted if not self.tensors[k].full]
            if todo:
                await bounded_gather(t.ensure_full() for t in todo)
        elif info:
            todo = [self.tensors[k] for k in wanted if not self.tensors[k].info_loaded]
            if todo:
                await bounded_gather(t.ensure_info() for t in todo)

    def is_loaded(self, tensor_keys: list[str], full: bool = False, info: bool = False) -> bool:
        """Whether :meth:`load` with these arguments has nothing left to do."""
        for k in tensor_keys:
            t = self.tensors.get(k)
            if t is None or (full and not t.full) or (info and not t.info_loaded):
                return False
        return True

    def loaded(self, key: str) -> TensorEngine:
        """A tensor opening loaded (every visible one is)."""
        return self.tensors[key]

    def tensor(self, name: str) -> TensorEngine:
        """A fully loaded tensor by name, for sync callers inspecting the engine (tests,
        debugging): loads it on shoal's background loop if needed."""
        key = self.key_of(name)
        if not self.is_loaded([key], full=True):
            _loop.run(self.load([key], full=True))
        return self.tensors[key]

    def with_companions(self, key: str) -> list[str]:
        """``key`` and the hidden tensors linked to it (loaded before appending)."""
        t = self.tensors.get(key)
        links = list(t.meta.get("links", {})) if t is not None else []
        return [key, *(k for k in links if k in self.meta["tensors"])]

    def key_of(self, name: str) -> str:
        key = self.meta["tensor_names"].get(name)
        if key is None or key not in self.meta["tensors"]:
            raise TensorNotFoundError(
                f"no tensor named {name!r} in {self.url}; tensors: {self.visible_names() or 'none'}"
            )
        return str(key)

    def visible_names(self) -> list[str]:
        hidden = set(self.meta.get("hidden_tensors", []))
        by_key = {v: k for k, v in self.meta["tensor_names"].items()}
        return [by_key.get(k, k) for k in self.meta["tensors"] if k not in hidden]

    def check_writable(self) -> None:
        if self.storage.read_only:
            # The provider knows why it is read-only (a hub:// reader's role, say) and says so.
            self.storage.check_writable("the dataset")
        if self.user_read_only:
            raise ReadOnlyError(
                f"{self.url} was set read-only (ds.read_only = True); set ds.read_only = False "
                "to write"
            )
        if self.branch is None:
            raise ReadOnlyError(
                f"{self.url} is at commit {self.commit_id}, a past version, which is read-only; "
                "to write, check out a branch (ds.checkout('main')) or start one from here "
                "(ds.checkout('new-name', create=True))"
            )

    # -- writes ------------------------------------------------------------------------------
    async def hold_lock(self) -> None:
        """Before a write to the head: take (or renew) its write lock (engine/lock.py)."""
        if self.branch is None or isinstance(self.storage, MemoryStorage):
            return  # in-memory datasets live in one process, as deeplake leaves them unlocked
        if not self.lock_enabled:
            return  # the caller keeps writers apart (deeplake's lock_enabled=False)
        if self.head_lock is None:
            self.head_lock = locks.hold(self, self.storage, self.commit_id, self.lock_timeout)
        if await self.head_lock.ensure():
            try:
                await check_unchanged(self)  # someone may have written before we got it
            except BaseException:
                await self.head_lock.release()
                raise

    async def release_lock(self) -> None:
        lock, self.head_lock = self.head_lock, None
        if lock is not None:
            await locks.release(lock)

    async def extend(self, key: str, samples: Any) -> None:
        """Validate and stage samples for a tensor and its hidden companions, all or nothing,
        then apply the flush policy."""
        self.check_writable()
        await self.load([key])
        await self.load(self.with_companions(key), full=True)
        t = self.tensors[key]
        lengths = None
        if t.meta.get("is_sequence"):  # items are checked and staged as a plain tensor's
            samples, lengths = sequences.flatten(t.name, samples)
        if t.meta.get("is_link"):
            samples = await check_links(t, samples)
        self.stage(key, await t.read_files(samples), lengths)

    def stage(self, key: str, samples: Any, lengths: list[int] | None = None) -> None:
        """The staging half of :meth:`extend` (tensor and companions loaded)."""
        self.prepare_rows(key, samples, lengths)()

    def prepare_rows(
        self, key: str, samples: Any, lengths: list[int] | None = None
    ) -> Callable[[], None]:
        """Validate and convert samples for a tensor and its companions; returns the step
        that stages them (it cannot fail). For a sequence tensor, ``lengths`` says how many
        items of ``samples`` each sample has (None: ``samples`` are whole sequences)."""
        parent = self.tensors[key]
        if parent.seq is not None and lengths is None:
            samples, lengths = sequences.flatten(parent.name, samples)
        if lengths is None:
            prepared, new_names = parent.prepare(samples)
        else:
            prepared, new_names = sequences.prepare_items(parent, samples, lengths)
        companions = []
        for k, link in parent.meta.get("links", {}).items():
            if k not in self.tensors:
                continue
            shapes = prepared.companion_shapes
            infos: list[dict[str, Any]] | None = prepared.companion_infos
            if lengths is not None and not link.get("flatten_sequence", True):
                shapes, infos = [()] * len(lengths), None  # one per sample, not per item
            if not shapes:  # only empty sequences: nothing for the per-item companions
                continue
            companions.append(
                (
                    self.tensors[k],
                    companion_samples(parent.name, link.get("extend"), shapes, infos),
                )
            )
        prepared_companions = [(t, t.prepare(vals)) for t, vals in companions]

        def install() -> None:
            parent.stage(prepared, new_names)
            if parent.seq is not None and lengths is not None:
                parent.seq.stage(lengths)
            for t, (p, names) in prepared_companions:
                t.stage(p, names)

        return install

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
        """Add a tensor (and its companions) in memory; stored by the next flush."""
        self.check_writable()
        left_out = pop_left_out(htype_kwargs)
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
        htype, is_sequence = sequences.split_sequence_htype(htype)
        htype, is_link = split_link_htype(htype)
        verify = link_options(htype_kwargs, chunk_compression) if is_link else True
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
        if is_link:
            meta["is_link"], meta["verify"] = True, verify
        meta["is_sequence"] = is_sequence
        parent = self._add_tensor(name, meta, info, hidden)
        if is_link:
            parent.creds_index = CredsIndex(np.zeros(0, dtype=np.uint32))
        if is_sequence:
            parent.seq = sequences.SequenceIndex.empty()
        if not hidden:
            ht = get_htype(htype)
            companions = ht.companions
            for kind in link_companions(companions, verify) if is_link else companions:
                if kind in left_out:
                    continue
                companion = COMPANIONS[kind]
                cname = companion.name(name)
                cmeta, cinfo = new_tensor_meta(cname, **companion.create)
                child = self._add_tensor(cname, cmeta, cinfo, hidden=True)
                parent.meta["links"][child.key] = companion.link(ht.companion_links.get(kind))
        return parent

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
        engine = TensorEngine(self.ctx, key, meta, info)
        engine.info_dirty = bool(info)
        engine.is_new = True
        self.tensors[key] = engine
        self.meta["tensors"].append(key)
        self.meta["tensor_names"][name] = key
        if hidden:
            self.meta["hidden_tensors"].append(key)
        self.meta_dirty = True
        return engine
