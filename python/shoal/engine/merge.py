"""``ds.merge(target)``: a branch or commit merged into the current branch head, with the
semantics of deeplake 3.9.52 (``util/merge.py``).

- A target branch head with uncommitted changes is committed first ("Auto commit before
  merging into <branch>"); a head without changes stands for its last commit. If the target
  is an ancestor of the head, there is nothing to merge.
- Tensors only the target has are added: their metas and encoders are copied into the head
  and their ``chunk_set`` points at the chunks where they are (no sample is copied), as
  deeplake's ``copy_tensors`` does. A tensor deleted here but changed on the target comes
  back; one deleted on the target is deleted here too with ``delete_removed_tensors``.
- Samples of common tensors are matched by their ids (the hidden ``_<name>_id`` tensor):
  ids only the target has are appended (with their id, shape and info companions) as
  deeplake appends them: the target's chunks they fill whole are pointed at, only edge samples
  are written again (``merge_copy``), and class labels whose names disagree are appended by
  name. A sequence tensor's new samples are placed the same way, item by item, and its
  sequence index merged run by run (``merge_sequences``). Links (sequences of links too) are
  appended with their paths and creds keys. A sample updated only on the target since the common ancestor is updated here; one
  updated on both sides is a conflict: with no ``conflict_resolution`` the merge raises
  :class:`MergeConflictError` naming the tensors and indices and changes nothing, "ours"
  keeps ours, "theirs" takes theirs.
- Everything the merge writes, the merge commit ("Merge <target> into <branch>") and the
  target's automatic commit included, is one journalled flush: a failure at any point leaves
  the dataset as it was or merged, never between.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MergeConflictError, VersionError
from ..format import jsonio, keys
from ..format.diffs import TensorChanges
from ..links import engine as link_engine
from ..storage import bounded_gather
from . import editing, merge_copy, merge_sequences, sequences, tensor_admin
from . import versions as history
from .diff import common_ancestor, resolve
from .lock import head_lock
from .merge_renames import Tensors, commits_since, plan_renames
from .version_lock import VersionLock

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .samples import Prepared
    from .tensor import TensorEngine

RESOLUTIONS = (None, "ours", "theirs")
# What a tensor copied from the target brings along (deeplake's _get_meta_files_for_tensor).
COPIED = (
    keys.TENSOR_META,
    keys.TENSOR_INFO,
    keys.CHUNK_IDS,
    keys.TILE_ENCODER,
    "creds_index/unsharded",
    "sequence_index/unsharded",
)


@dataclass
class TensorMerge:
    name: str
    new: list[int] = field(default_factory=list)  # target indices to append
    updated: list[tuple[int, int]] = field(default_factory=list)  # (ours, theirs)
    conflicts: list[tuple[int, int]] = field(default_factory=list)


async def merge(
    ds: DatasetEngine,
    target_id: str,
    conflict_resolution: str | None,
    delete_removed_tensors: bool,
    force: bool,
) -> bool:
    """Merge into the head ``ds`` is at (flushed, locked). False: nothing to merge."""
    from .dataset import DatasetEngine

    if conflict_resolution not in RESOLUTIONS:
        raise VersionError(
            f"conflict_resolution must be None, 'ours' or 'theirs', not {conflict_resolution!r}"
        )
    assert ds.branch is not None
    storage, versions = ds.storage, ds.versions
    plan = history.HistoryWrite(history._clone(versions))
    target = resolve(versions, target_id)
    node = versions.commits[target]
    if node.get("commit_time") is None and target != ds.commit_id:
        tds = await DatasetEngine.open(storage, target, load_tensors=False)
        if await history.head_has_changes(storage, target, tds.meta):
            await head_lock(storage, target).check_free()
            branch = str(node["branch"])
            message = f"Auto commit before merging into {ds.branch}"
            await history._commit_into(plan, storage, target, branch, message)
        elif node.get("parent") is not None:
            target = str(node["parent"])
    lca = common_ancestor(versions, ds.commit_id, target)
    if lca == target:
        print("No merge needed, target id is an ancestor of the current commit")
        return False
    theirs = await DatasetEngine.open(storage, target, load_tensors=True)
    ours_names, their_names = set(ds.visible_names()), set(theirs.visible_names())
    for side, names in ((ds, ours_names), (theirs, their_names)):
        for n in names:
            if keys.hidden_id(n) not in side.meta["tensor_names"]:
                raise VersionError(
                    f"cannot merge: tensor {n!r} has no sample ids ({keys.hidden_id(n)}), which "
                    "merging matches samples by"
                )
    raw_lca = (await storage.get_many([keys.dataset_key(lca, keys.DATASET_META)]))[0]
    lca_meta = jsonio.loads(raw_lca, lca) if raw_lca else {}
    hidden = set(lca_meta.get("hidden_tensors", []))
    lca_names = {n for n, k in lca_meta.get("tensor_names", {}).items() if k not in hidden}
    sets = Tensors(
        their_names - ours_names,
        their_names & ours_names,
        lca_names - ours_names,
        lca_names - their_names,
    )
    await plan_renames(ds, ds.commit_id, target, lca, sets, force)
    new, common = sets.new, sets.common
    try:
        for old, renamed in sets.renames:  # the target's renames, made here too
            await tensor_admin.stage_rename(ds, old, renamed)
        await ds.load([ds.key_of(n) for n in common])
        for name in sets.deleted_here:  # deleted here: back only if the target changed it
            if not await _changed_since(theirs, name, target, lca):
                new.discard(name)
        # deleted on the target since the common ancestor: deleted here too only when asked
        doomed = sorted(sets.deleted_there & set(ds.visible_names()))
        doomed = doomed if delete_removed_tensors else []
        merges = [await _plan_tensor(ds, theirs, n, target, lca) for n in sorted(common)]
        conflicts = {m.name: sorted(o for o, _ in m.conflicts) for m in merges if m.conflicts}
        if conflicts and conflict_resolution is None:
            raise MergeConflictError(
                f"cannot merge {target_id!r} into {ds.branch!r}: samples changed on both sides "
                f"since their common ancestor {lca}: "
                + "; ".join(f"tensor {n!r} at indices {i}" for n, i in conflicts.items())
                + ". Nothing was changed; pass conflict_resolution='ours' or 'theirs' to merge",
                conflicts,
            )
        for m in merges:
            await _apply(ds, theirs, m, conflict_resolution == "theirs")
        copies = await _copy_tensors(ds, theirs, sorted(new))
        gone = await _drop_tensors(ds, doomed)
    except BaseException:
        await ds.writes.abandon()  # nothing half staged stays behind
        raise
    head, branch = ds.commit_id, ds.branch

    async def then(overlay: dict[str, bytes]) -> history.Stored:
        overlay = {**overlay, **copies}
        plan.objects.update(copies)
        message = f"Merge {target} into {branch}"
        await history._commit_into(plan, storage, head, branch, message, overlay)
        await lock.wait()
        objects, phases, obsolete, current = await history.prepare(storage, plan)
        if not await lock.confirm():  # another writer went first: read the history again
            objects, phases, obsolete, current = await history.prepare(storage, plan)
        # the head's own objects of deleted tensors: removed once nothing names them
        listed = await bounded_gather(storage.list(keys.tensor_key(head, k, "")) for k in gone)
        return objects, phases, obsolete + [k for ks in listed for k in ks], current

    async with VersionLock(storage) as lock:
        await ds.writes.flush(then)
        if await lock.outlasted():
            await history.merge_again(storage, plan)
    return True


async def _diffs(
    side: DatasetEngine, key: str, start: str, stop: str
) -> list[tuple[str, TensorChanges]]:
    commits = commits_since(side.versions, start, stop)
    raws = await side.storage.get_many([keys.tensor_key(c, key, keys.COMMIT_DIFF) for c in commits])
    return [(c, TensorChanges.parse(r, c)) for c, r in zip(commits, raws, strict=True) if r]


async def _changed_since(side: DatasetEngine, name: str, start: str, stop: str) -> bool:
    key = side.meta["tensor_names"].get(name)
    return key is not None and any(d.changed for _, d in await _diffs(side, key, start, stop))


async def _ids(side: DatasetEngine, name: str) -> np.ndarray:
    key = side.key_of(keys.hidden_id(name))
    await side.load([key], full=True)
    t = side.tensors[key]
    if not t.length:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(await t.read_stacked(np.arange(t.length))).reshape(-1)


async def _changes(
    side: DatasetEngine, name: str, start: str, lca: str, ids: np.ndarray
) -> dict[int, list[str]]:
    """Sample id -> commits that updated it, nearest first (``get_changes_commit_ids_for_node``)."""
    out: dict[int, list[str]] = defaultdict(list)
    for commit, d in await _diffs(side, side.key_of(name), start, lca):
        for idx in sorted(d.updated):
            if idx < len(ids):
                out[int(ids[idx])].append(commit)
    return out


async def _plan_tensor(
    ds: DatasetEngine, theirs: DatasetEngine, name: str, target: str, lca: str
) -> TensorMerge:
    ours_meta = ds.tensors[ds.key_of(name)].meta
    their_meta = theirs.tensors[theirs.key_of(name)].meta
    for field_ in ("htype", "sample_compression", "chunk_compression"):
        a, b = ours_meta.get(field_), their_meta.get(field_)
        if (a or None) != (b or None):
            raise VersionError(
                f"cannot merge tensor {name!r}: its {field_} is {a!r} here and {b!r} in the target"
            )
    our_ids, their_ids = await _ids(ds, name), await _ids(theirs, name)
    head_diff = [
        d for c, d in await _diffs(ds, ds.key_of(name), ds.commit_id, lca) if c == ds.commit_id
    ]
    deleted = head_diff[0].deleted_ids if head_diff else set()
    theirs_changed = await _changes(theirs, name, target, lca, their_ids)
    ours_changed = await _changes(ds, name, ds.commit_id, lca, our_ids)
    our_index = {int(v): i for i, v in enumerate(our_ids)}
    their_index = {int(v): i for i, v in enumerate(their_ids)}
    m = TensorMerge(name)
    for sid in set(their_index) - set(our_index) - deleted:
        theirs_changed.pop(sid, None)
        m.new.append(their_index[sid])
    for sid, their_commits in theirs_changed.items():
        our_commits = ours_changed.get(sid, [])
        shared = next((i for i, c in enumerate(their_commits) if c in set(our_commits)), None)
        if not our_commits or (shared is not None and their_commits[shared] == our_commits[0]):
            if sid in our_index:
                m.updated.append((our_index[sid], their_index[sid]))
            else:
                m.new.append(their_index[sid])
        elif shared is None or shared > 0:
            m.conflicts.append((our_index[sid], their_index[sid]))
    m.new.sort()
    return m


async def _samples(t: TensorEngine, idx: np.ndarray) -> list[Any]:
    """Samples ``idx`` (a sequence tensor's: each the list of its items)."""
    if t.seq is not None:
        return [await _flat_samples(t, t.seq.flat(np.asarray([i]))) for i in idx.tolist()]
    return await _flat_samples(t, idx)


async def _flat_samples(t: TensorEngine, idx: np.ndarray) -> list[Any]:
    if t.kind.is_object:
        return [t.kind.decode(b, t.name) for b in await t.read_blobs(idx)]
    return list(await t.read_arrays(idx))


async def _linked(t: TensorEngine, idx: np.ndarray) -> list[Any]:
    """Samples ``idx`` of a link tensor as the links they store (None for an empty one)."""
    from ..links.sample import link

    paths, creds_keys, tiled = await link_engine._items(t, idx)
    if tiled:
        raise VersionError(
            f"cannot merge tensor {t.name!r}: its new samples include link_tiled ones, which "
            "shoal does not merge yet; nothing was changed"
        )
    return [link(p, creds_key=k) if p else None for p, k in zip(paths, creds_keys, strict=True)]


def _as_text(values: list[Any], names: list[str]) -> list[Any]:
    """Class labels as their names (deeplake's ``convert_to_text``: an index past the names
    stays a number), so the head maps them to its own names."""

    def one(v: Any) -> Any:
        return names[int(v)] if int(v) < len(names) else int(v)

    return [[one(v) for v in np.asarray(a).reshape(-1)] for a in values]


def _remaps_labels(ours: TensorEngine, theirs: TensorEngine) -> bool:
    """deeplake re-appends class labels by name only when neither side's class names extend
    the other's (``merge_tensor_data``)."""
    if ours.meta.get("htype") != "class_label":
        return False
    mine, their = ours.info.get("class_names") or [], theirs.info.get("class_names") or []
    if not their or mine == their:
        return False
    return mine[: len(their)] != their and their[: len(mine)] != mine


async def _apply(
    ds: DatasetEngine, theirs: DatasetEngine, m: TensorMerge, take_theirs: bool
) -> None:
    key, their_key = ds.key_of(m.name), theirs.key_of(m.name)
    ours_t, their_t = ds.tensors[key], theirs.tensors[their_key]
    await ours_t.ensure_full()
    ours_t.edits.touched = True  # deeplake's merge makes every common tensor's commit diff
    names = their_t.info.get("class_names") if ours_t.meta.get("htype") == "class_label" else None
    updates = m.updated + (m.conflicts if take_theirs else [])
    if updates:
        # before the appends: an update of a sample staged in this flush would flush first
        values = await _samples(their_t, np.asarray([b for _, b in updates], dtype=np.int64))
        values = _as_text(values, names) if names else values
        await editing.update(ds, [(key, np.asarray([a for a, _ in updates]), values)])
    if m.new:
        await ds.load(ds.with_companions(key), full=True)
        await theirs.load(theirs.with_companions(their_key), full=True)
        idx = np.asarray(m.new, dtype=np.int64)
        # the parent and each companion get the target's samples (its ids above all: later
        # merges match samples by them), not values derived anew
        pairs = [(key, their_key)]
        links = ds.tensors[key].meta.get("links", {})
        their_links = theirs.tensors[their_key].meta.get("links", {})
        by_name = {theirs.tensors[k].name: k for k in their_links if k in theirs.tensors}
        for k in links:
            if k in ds.tensors and ds.tensors[k].name in by_name:
                pairs.append((k, by_name[ds.tensors[k].name]))
        appends: list[tuple[TensorEngine, tuple[Prepared, list[str]], list[int] | None]] = []
        copies = []
        seq = None
        if ours_t.seq is not None:  # the sequence index merged run by run (merge_sequences)
            assert their_t.seq is not None
            seq = merge_sequences.plan_sequence(
                ours_t.seq.table(), their_t.seq.table(), their_t.seq.starts, m.new
            )
        for ours_k, theirs_k in pairs:
            t, src = ds.tensors[ours_k], theirs.tensors[theirs_k]
            if ours_k == key and t.meta.get("is_link"):
                # appended with their paths and creds keys (shoal's own path)
                flat = src.seq.flat(idx) if src.seq is not None else idx
                checked = await link_engine.check_samples(t, await _linked(src, flat))
                counts = src.seq.lengths(idx).tolist() if src.seq is not None else None
                appends.append((t, t.prepare(checked), counts))
            elif ours_k == key and _remaps_labels(t, src):  # appended by name (deeplake)
                values = _as_text(await _samples(src, idx), names or [])
                if t.seq is not None:  # appended as sequences: the index an append makes
                    items, lengths = sequences.flatten(t.name, values)
                    appends.append((t, sequences.prepare_items(t, items, lengths), lengths))
                else:
                    appends.append((t, t.prepare(values), None))
            else:  # the target's chunks, pointed at; only edge samples written again
                ranges = None
                if seq is not None:  # the parent and per-item companions: items
                    per_item = ours_k == key or links[ours_k].get("flatten_sequence", True)
                    ranges = seq.item_runs if per_item else seq.sample_runs
                copies.append((t, src, await merge_copy.plan_copy(src, m.new, ranges)))
        for t, (prepared, new_names), counts in appends:
            t.stage(prepared, new_names)
            if t.seq is not None and counts is not None:
                t.seq.stage(counts)
        for t, src, plan in copies:
            merge_copy.stage_copy(t, src, plan)
        if seq is not None and ours_t.seq is not None and not appends:
            ours_t.seq.install(seq.rows, seq.lengths)


async def _copy_tensors(
    ds: DatasetEngine, theirs: DatasetEngine, names: list[str]
) -> dict[str, bytes]:
    """Tensors only the target has, pointed at where their chunks are (``copy_tensors``)."""
    out: dict[str, bytes] = {}
    if not names:
        return out
    head = ds.commit_id
    src_keys: list[str] = []
    for name in names:
        k = theirs.key_of(name)
        await theirs.load([k])
        src_keys += [
            k,
            *(x for x in theirs.tensors[k].meta.get("links", {}) if x in theirs.meta["tensors"]),
        ]
    await theirs.load(src_keys, full=True)
    by_key = {v: n for n, v in theirs.meta["tensor_names"].items()}
    for src in src_keys:
        t = theirs.tensors[src]
        dest = by_key.get(src, src)
        wanted = [keys.tensor_key(theirs.commit_id, src, f) for f in COPIED]
        for f, raw in zip(COPIED, await theirs.storage.get_many(wanted), strict=True):
            if raw is not None:
                out[keys.tensor_key(head, dest, f)] = raw
        owners = await t.fetch.load_owners()
        entries = []
        for cid in t.chunk_ids[:, 0] if len(t.chunk_ids) else []:
            name = keys.chunk_name(int(cid))
            commit, key = owners.get(name, (keys.FIRST_COMMIT_ID, src))
            if commit == head and key == dest:
                entries.append(name)
            elif key == dest:
                entries.append(f"{name}:{commit}")
            else:
                entries.append(f"{name}:{commit}:{key}")
        out[keys.tensor_key(head, dest, keys.CHUNK_SET)] = ",".join(dict.fromkeys(entries)).encode()
        diff = TensorChangesBytes.created(t.length)
        out[keys.tensor_key(head, dest, keys.COMMIT_DIFF)] = diff
        meta = ds.meta
        if dest not in meta["tensors"]:
            meta["tensors"].append(dest)
        meta["tensor_names"][by_key.get(src, src)] = dest
        if src in theirs.meta.get("hidden_tensors", []) and dest not in meta["hidden_tensors"]:
            meta["hidden_tensors"].append(dest)
        for g in theirs.meta.get("groups", []):
            if g not in meta["groups"]:
                meta["groups"].append(g)
    ds.meta_dirty = True
    return out


async def _drop_tensors(ds: DatasetEngine, names: list[str]) -> list[str]:
    """Tensors (with their companions) out of the head's meta, recorded in its dataset diff
    unless created in it (as ``delete_tensor`` does, within the merge's flush); their keys."""
    from .tensor_admin import load_dataset_diff

    if not names:
        return []
    diff = await load_dataset_diff(ds)
    meta, gone = ds.meta, []
    for name in names:
        family = [
            name,
            *(
                c
                for c in (keys.hidden_id(name), keys.hidden_shape(name), keys.hidden_info(name))
                if c in meta["tensor_names"]
            ),
        ]
        for n in family:
            key = meta["tensor_names"].pop(n)
            raw = (
                await ds.storage.get_many([keys.tensor_key(ds.commit_id, key, keys.COMMIT_DIFF)])
            )[0]
            created = raw is not None and TensorChanges.parse(raw, key).created
            if key not in meta["hidden_tensors"] and not created:
                diff.tensor_deleted(n)
            meta["tensors"].remove(key)
            if key in meta["hidden_tensors"]:
                meta["hidden_tensors"].remove(key)
            ds.tensors.pop(key, None)
            gone.append(key)
    ds.meta_dirty = ds.diff_dirty = True
    return gone


class TensorChangesBytes:
    @staticmethod
    def created(length: int) -> bytes:
        """A commit diff of a tensor created with ``length`` samples (``CommitDiff(0, True)``)."""
        from .encoders import CommitDiff

        return CommitDiff(created=True, added_start=0, added_end=length).serialize()
