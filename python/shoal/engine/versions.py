"""Writing history: commit, branch, reset and delete a branch, the way deeplake 3.9.52 does.

A commit in deeplake does not freeze a new id: the head node (say ``H``) becomes the commit
(its message, author and time are set) and a new empty head ``N`` is created on the same
branch, holding a copy of ``H``'s dataset meta and info and of every tensor's meta, info and
encoders, plus an empty ``chunk_set`` per tensor (``util/version_control.copy_metas`` and
``create_commit_chunk_maps``). Chunks stay where they are: a later write that touches a chunk
of ``H`` copies it into ``versions/N/`` first. A new branch is such a head too, under the
commit it starts from (after an automatic commit of the head's changes, if any).

Every operation here is one journalled flush (:func:`journal.commit`): the new objects go
first under keys nothing names yet, then one journal, then the commit infos and
``version_control_info.json``, so a kill at any point leaves the history as it was or as it
is after. ``version_control_info.json`` is re-read and merged under its lock just before, as
deeplake's ``save_version_info`` does, so that a writer on another branch is not undone.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BranchExistsError, EmptyCommitError, VersionError
from ..format import jsonio, keys
from ..format.diffs import DatasetChanges
from ..format.versions import (
    VersionInfo,
    commit_info,
    commit_info_key,
    merged,
    new_node,
)
from ..storage import Storage, bounded_gather
from . import journal
from .lock import NAME as LOCK_NAME
from .lock import WriteLock, head_lock
from .lock import record as lock_record
from .version_lock import VC_LOCK, VersionLock

if TYPE_CHECKING:
    from .dataset import DatasetEngine

# What a new head copies from the commit it starts from, per tensor (copy_metas).
TENSOR_COPIES = (
    keys.TENSOR_META,
    keys.CHUNK_IDS,
    keys.TILE_ENCODER,
    "sequence_index/unsharded",
    "creds_index/unsharded",
    keys.TENSOR_INFO,
)
USER = "public"  # deeplake's author name when no one is logged in


def generate_hash() -> str:
    """A new commit id: deeplake's ``generate_hash`` (sha1 of the time and a random number)."""
    h = hashlib.sha1()
    h.update(str(time.time()).encode())
    h.update(os.urandom(4))
    return h.hexdigest()


def commit_time() -> float:
    # deeplake stores ``datetime.utcnow().timestamp()``: UTC wall time read as local time.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None).timestamp()


@dataclass
class HistoryWrite:
    """What one history operation stores: new objects, the nodes it changed, what it drops."""

    versions: VersionInfo
    objects: dict[str, bytes] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # nodes whose commit_info.json changes
    dropped: set[str] = field(default_factory=set)  # commits removed, with their directories
    replaced: dict[str, bytes] = field(default_factory=dict)  # existing objects overwritten

    def add_node(self, commit_id: str) -> None:
        """The ``commit_info.json`` of a node this change creates: no other writer knows its
        id, so merging the history under the lock cannot change it, and nothing names it
        until the journal does. Written with the new objects, before the lock is verified,
        it leaves fewer writes after."""
        self.objects[commit_info_key(commit_id)] = commit_info(self.versions.commits[commit_id])


def _clone(versions: VersionInfo) -> VersionInfo:
    commits = {
        c: dict(n, children=list(n.get("children") or [])) for c, n in versions.commits.items()
    }
    return VersionInfo(commits, dict(versions.branches))


async def head_has_changes(storage: Storage, commit_id: str, meta: dict[str, Any]) -> bool:
    """deeplake's ``current_commit_has_change``: the first commit always has; another head
    has if a tensor has a commit diff there, or the dataset diff records info, renames or
    deletions."""
    if commit_id == keys.FIRST_COMMIT_ID:
        return True
    tensors = list(meta.get("tensors", []))
    found = await storage.get_many(
        [keys.dataset_key(commit_id, keys.DATASET_DIFF)]
        + [keys.tensor_key(commit_id, t, keys.COMMIT_DIFF) for t in tensors]
    )
    raw_diff, diffs = found[0], found[1:]
    if raw_diff is not None:
        d = DatasetChanges.parse(
            raw_diff, f"{storage.url}/{keys.dataset_key(commit_id, keys.DATASET_DIFF)}"
        )
        if d.info_updated or d.renamed or d.deleted:
            return True
    return any(d is not None for d in diffs)


async def _get_many(
    storage: Storage, wanted: list[str], overlay: dict[str, bytes] | None
) -> list[bytes | None]:
    """Objects as they are once the flush being planned is stored (``overlay``)."""
    mine = overlay or {}
    stored = iter(await storage.get_many([k for k in wanted if k not in mine]))
    return [mine[k] if k in mine else next(stored) for k in wanted]


async def copy_head(
    storage: Storage,
    src: str,
    dst: str,
    out: dict[str, bytes],
    overlay: dict[str, bytes] | None = None,
) -> None:
    """The objects of a new head ``dst`` started from ``src`` (copy_metas + empty chunk sets),
    ``overlay``: objects of ``src`` a flush in the same journal writes."""
    meta_key = keys.dataset_key(src, keys.DATASET_META)
    raw_meta, raw_info = await _get_many(
        storage, [meta_key, keys.dataset_key(src, keys.DATASET_INFO)], overlay
    )
    if raw_meta is None:
        raise VersionError(
            f"{storage.url}: commit {src} has no {keys.DATASET_META}; cannot copy it"
        )
    meta = jsonio.loads(raw_meta, f"{storage.url}/{meta_key}")
    out[keys.dataset_key(dst, keys.DATASET_META)] = raw_meta
    if raw_info is not None:
        out[keys.dataset_key(dst, keys.DATASET_INFO)] = raw_info
    tensors = list(meta.get("tensors", []))
    wanted = [(t, name) for t in tensors for name in TENSOR_COPIES]
    found = await _get_many(storage, [keys.tensor_key(src, t, n) for t, n in wanted], overlay)
    for (t, name), raw in zip(wanted, found, strict=True):
        if raw is not None:
            out[keys.tensor_key(dst, t, name)] = raw
    for t in tensors:
        out[keys.tensor_key(dst, t, keys.CHUNK_SET)] = b""


async def commit_head(
    ds: DatasetEngine, message: str | None, allow_empty: bool
) -> tuple[str, WriteLock | None]:
    """Commit the head ``ds`` is at, staged writes included, in one journalled flush; the id
    of the commit made (the head's), and the write lock of the new head, already taken (None
    for a store without locks)."""
    if ds.branch is None:
        raise VersionError(f"{ds.url}: commit {ds.commit_id} is not a branch head")
    head, branch = ds.commit_id, ds.branch
    plan = HistoryWrite(_clone(ds.versions))
    written: list[str] = []
    new_lock: list[WriteLock] = []

    async def then(overlay: dict[str, bytes]) -> Stored:
        new = await _commit_into(plan, ds.storage, head, branch, message, overlay)
        if ds.head_lock is not None:
            # The new head's lock goes with its objects, before the version info names it:
            # no other writer can know the head before it is locked, so it is ours without
            # the verify wait (deeplake takes the new head's lock right after a commit too).
            lock = head_lock(ds.storage, new, ds.lock_timeout)
            lock.written_at = time.time()
            plan.objects[lock.key] = lock_record(lock.validity)
            new_lock.append(lock)
        # the new head's objects go under its fresh id, which nothing names yet: written
        # while the version lock is being verified (deeplake's wait before trusting it)
        written.extend(plan.objects)
        await ds.storage.put_many(plan.objects)
        await lock_vc.wait()
        stored_now = await prepare(ds.storage, plan)
        if not await lock_vc.confirm():
            stored_now = await prepare(ds.storage, plan)
        _, phases, obsolete, current = stored_now
        stored.append(phases[-1][keys.VERSION_CONTROL_INFO])
        return {}, phases, obsolete, current

    stored: list[bytes] = []
    async with VersionLock(ds.storage) as lock_vc:
        if (
            not allow_empty
            and not ds.writes.dirty
            and not await head_has_changes(ds.storage, ds.commit_id, ds.meta)
        ):
            raise EmptyCommitError(
                f"nothing to commit on branch {ds.branch!r} of {ds.url}: no change since the "
                "last commit; pass allow_empty=True to commit anyway"
            )
        try:
            await ds.writes.flush(then)
        except journal.FlushIncompleteError:
            raise  # committed: completed by the next flush or open
        except BaseException:
            await asyncio.shield(_remove(ds.storage, written))
            raise
        if await lock_vc.outlasted():
            stored.append(await merge_again(ds.storage, plan))
    # the history as stored: the handle moving to the new head finds it there (and reads the
    # new head's metas in the same round trip as the version info)
    ds.versions = VersionInfo.parse(stored[-1])
    return head, (new_lock[0] if new_lock else None)


async def _remove(storage: Storage, keys_: list[str]) -> None:
    """Best effort: objects of a new head that was not committed are unreferenced garbage."""
    await asyncio.gather(*(storage.delete(k) for k in keys_), return_exceptions=True)


async def _commit_into(
    plan: HistoryWrite,
    storage: Storage,
    head: str,
    branch: str,
    message: str | None,
    overlay: dict[str, bytes] | None = None,
) -> str:
    new = generate_hash()
    node = plan.versions.commits[head]
    node["children"].append(new)
    node.update(commit_message=message, commit_user_name=USER, commit_time=commit_time())
    plan.versions.commits[new] = new_node(branch, head)
    plan.versions.branches[branch] = new
    await copy_head(storage, head, new, plan.objects, overlay)
    plan.add_node(new)
    plan.changed.append(head)
    return new


async def plan_branch(ds: DatasetEngine, name: str) -> tuple[HistoryWrite, str]:
    """A new branch ``name`` from where ``ds`` is (deeplake's ``checkout(name, create=True)``):
    at a head with changes, they are committed first ("auto commit before checkout to
    ...") and the branch starts from that commit; at a head without, from its parent; at a
    commit, from that commit. Returns the plan and the new branch's head."""
    versions = ds.versions
    if not isinstance(name, str) or not name or name.startswith("/") or "@" in name:
        raise VersionError(f"invalid branch name {name!r}: use a non-empty name like 'dev'")
    if name in versions.branches:
        raise BranchExistsError(
            f"branch {name!r} already exists in {ds.url}; check it out with "
            f"ds.checkout({name!r}), or pick another name"
        )
    if name in versions.commits:
        raise BranchExistsError(f"{name!r} is a commit id in {ds.url}; pick another branch name")
    plan = HistoryWrite(_clone(versions))
    current = ds.commit_id
    node = plan.versions.commits[current]
    base = current
    if node.get("commit_time") is None:
        if await head_has_changes(ds.storage, current, ds.meta):
            await _commit_into(
                plan,
                ds.storage,
                current,
                str(node["branch"]),
                f"auto commit before checkout to {name}",
            )
        elif node.get("parent") is not None:
            base = str(node["parent"])
    new = generate_hash()
    plan.versions.commits[base]["children"].append(new)
    plan.versions.commits[new] = new_node(name, base)
    plan.versions.branches[name] = new
    await copy_head(ds.storage, current, new, plan.objects)
    plan.add_node(new)
    plan.changed.append(base)
    return plan, new


async def plan_reset(ds: DatasetEngine) -> HistoryWrite:
    """Drop the head's uncommitted changes: a fresh head replaces it under its parent
    (deeplake's ``replace_head``). At the first commit there is no parent: the dataset is
    emptied, as deeplake does."""
    assert ds.branch is not None
    plan = HistoryWrite(_clone(ds.versions))
    head = ds.commit_id
    node = plan.versions.commits[head]
    parent = node.get("parent")
    if parent is None:
        from .dataset import new_dataset_meta

        plan.versions = VersionInfo.new()
        plan.replaced[keys.DATASET_META] = jsonio.dumps_meta(new_dataset_meta())
        plan.dropped.add("")  # everything else under the root goes
        return plan
    new = generate_hash()
    parent_node = plan.versions.commits[parent]
    parent_node["children"] = [new if c == head else c for c in parent_node["children"]]
    del plan.versions.commits[head]
    plan.versions.commits[new] = new_node(ds.branch, parent)
    plan.versions.branches[ds.branch] = new
    await copy_head(ds.storage, parent, new, plan.objects)
    plan.add_node(new)
    plan.changed.append(parent)
    plan.dropped.add(head)
    return plan


async def plan_delete_branch(ds: DatasetEngine, name: str) -> HistoryWrite:
    """deeplake's ``delete_branch``: only a branch without sub-branches that was never
    merged anywhere; its commits and their directories go."""
    versions = ds.versions
    if name == ds.branch:
        raise VersionError(
            f"cannot delete branch {name!r}: it is checked out; check out another branch first"
        )
    if name == "main":
        raise VersionError("cannot delete the main branch")
    if name not in versions.branches:
        raise VersionError(f"branch {name!r} does not exist; branches: {sorted(versions.branches)}")
    mine: list[str] = []
    current: str | None = versions.branches[name]
    while current is not None and versions.commits[current].get("branch") == name:
        mine.append(current)
        if any(c not in mine for c in versions.commits[current].get("children") or []):
            raise VersionError(
                f"cannot delete branch {name!r}: other branches start from it; delete them first"
            )
        current = versions.commits[current].get("parent")
    gone = set(mine)
    others = [c for c in versions.commits if c not in gone]
    if any(versions.commits[c].get("parent") in gone for c in others):
        raise VersionError(f"cannot delete branch {name!r}: it has been merged")
    tensors = list(ds.meta.get("tensors", []))
    sets = await ds.storage.get_many(
        [
            keys.tensor_key(c, t, keys.CHUNK_SET)
            for c in others
            for t in tensors
            if c != keys.FIRST_COMMIT_ID
        ]
    )
    for raw in sets:
        for entry in (raw or b"").decode("utf-8", "replace").split(","):
            parts = entry.split(":")
            if len(parts) > 1 and parts[1] in gone:
                raise VersionError(f"cannot delete branch {name!r}: it has been merged")
    await head_lock(ds.storage, versions.branches[name]).check_free()
    plan = HistoryWrite(_clone(versions))
    for c in mine:
        del plan.versions.commits[c]
    for node in plan.versions.commits.values():
        node["children"] = [c for c in node["children"] if c not in gone]
    del plan.versions.branches[name]
    plan.dropped |= gone
    return plan


#: What a history change stores: new objects, phases, obsolete keys, and the bytes some of the
#: objects it overwrites hold now (read under the version lock; the journal reads the rest).
Stored = tuple[dict[str, bytes], list[dict[str, bytes]], list[str], dict[str, bytes | None]]


async def merge_again(storage: Storage, plan: HistoryWrite) -> bytes:
    """The version info a change wrote merged again with what is stored (call holding the
    lock in full): another writer may have replaced it with a merge made without ours."""
    _, phases, _, current = await prepare(storage, plan)
    history = phases[-1][keys.VERSION_CONTROL_INFO]
    if current[keys.VERSION_CONTROL_INFO] != history:
        await storage.put(keys.VERSION_CONTROL_INFO, history)
    return history


async def prepare(storage: Storage, plan: HistoryWrite, swept: bool = False) -> Stored:
    """What storing a planned history change writes (call holding a :class:`VersionLock`):
    new objects, then the commit infos, then ``version_control_info.json`` merged with what
    is stored now; and the keys of dropped commits.

    A history change another branch's writer committed but did not finish (killed) is
    completed first: its journal names the version info this replaces, and once this is
    stored that journal would be stale and dropped, its branch left half written."""
    # the commit infos this overwrites are read with the version info: the journal needs
    # their bytes (``Stored``'s last item), and one read is one round trip less; so are the
    # journals of the branches known here
    changed = [commit_info_key(c) for c in dict.fromkeys(plan.changed)]
    known = [journal.key_for(b) for b in sorted(plan.versions.branches)]
    raw, *found = await storage.get_many([keys.VERSION_CONTROL_INFO, *changed, *known])
    infos_now, journals = (
        found[: len(changed)],
        dict(zip(known, found[len(changed) :], strict=True)),
    )
    stored = VersionInfo.parse(raw) if raw is not None else VersionInfo.new()
    more = [journal.key_for(b) for b in stored.branches if b not in plan.versions.branches]
    if more:  # branches another writer made since this handle read the history
        journals.update(zip(more, await storage.get_many(more), strict=True))
    if not swept and await _complete_history_changes(storage, journals):
        return await prepare(storage, plan, swept=True)
    current = {keys.VERSION_CONTROL_INFO: raw, **dict(zip(changed, infos_now, strict=True))}
    dropped = frozenset(plan.dropped - {""})
    # a reset of the first commit starts the history again: nothing to merge with
    fresh = "" in plan.dropped
    history = plan.versions if fresh else merged(stored, plan.versions, dropped)
    infos = {
        commit_info_key(c): commit_info(history.commits[c])
        for c in dict.fromkeys(plan.changed)
        if c in history.commits
    }
    infos.update(plan.replaced)
    phases = [infos, {keys.VERSION_CONTROL_INFO: history.serialize()}]
    kept = {*infos, keys.VERSION_CONTROL_INFO, *plan.objects, VC_LOCK, LOCK_NAME}
    obsolete = [
        k for k in await _obsolete(storage, plan.dropped) if k not in kept and not journal.is_key(k)
    ]
    return dict(plan.objects), phases, obsolete, current


async def _complete_history_changes(storage: Storage, journals: dict[str, bytes | None]) -> bool:
    """Recover the stored journals that rewrite the version info (only a holder of the version
    lock writes one, so their writers are gone); whether there were any. Journals of plain
    flushes belong to live writers of other branches, and are theirs to finish."""
    done = False
    for key, raw in journals.items():
        if raw is not None and journal.touching(raw, key, storage.url, keys.VERSION_CONTROL_INFO):
            await journal.recover(storage, key, raw)
            done = True
    return done


async def store(storage: Storage, plan: HistoryWrite, branch: str | None) -> VersionInfo:
    """Write a planned history change as one journalled flush, through the journal of
    ``branch`` (the writer's)."""
    async with VersionLock(storage) as lock:
        # new objects (a new head's) first, while the lock is verified: nothing names them
        # until the journal is committed, and a failure removes them (``drained``)
        new = list(plan.objects)
        try:
            await storage.put_many(plan.objects)
        except BaseException:
            await asyncio.shield(_remove(storage, new))
            raise
        try:
            await lock.wait()
            _, phases, obsolete, current = await prepare(storage, plan)
            if not await lock.confirm():
                _, phases, obsolete, current = await prepare(storage, plan)
        except BaseException:
            await asyncio.shield(_remove(storage, new))
            raise
        await journal.commit(storage, journal.key_for(branch), {}, phases, obsolete, new, current)
        history = phases[-1][keys.VERSION_CONTROL_INFO]
        if await lock.outlasted():
            history = await merge_again(storage, plan)
    return VersionInfo.parse(history)


async def _obsolete(storage: Storage, dropped: Iterable[str]) -> list[str]:
    lists = await bounded_gather(storage.list("" if c == "" else f"versions/{c}/") for c in dropped)
    return [k for keys_ in lists for k in keys_]
