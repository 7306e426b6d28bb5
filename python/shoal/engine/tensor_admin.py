"""Deleting and renaming tensors, and creating groups, as deeplake 3.9.52 stores them.

A group is a name in ``dataset_meta.json``'s ``groups`` (with every parent group); its
tensors are keyed ``group/name``. A rename changes the tensor's name (``tensor_names`` and its
meta's ``name``), never its key: its objects stay where they are. Both are recorded in the
commit's ``dataset_diff`` unless the tensor was created in this commit, as deeplake does.
Each is one flush through the journal; a deleted tensor's objects of this commit are removed
after the flush that stops naming them (garbage if that is interrupted, never a half dataset).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from ..errors import InvalidHtypeError, TensorExistsError, TensorNotFoundError, TensorTooLargeError
from ..format import keys
from ..format.htypes import COMPANIONS
from .encoders import DatasetDiff

if TYPE_CHECKING:
    from .dataset import DatasetEngine

#: deeplake refuses to delete a tensor it estimates above this without ``large_ok``.
DELETE_SAFETY_SIZE = 1 * 1024**3


async def load_dataset_diff(ds: DatasetEngine) -> DatasetDiff:
    """This commit's dataset diff, read once."""
    if ds.dataset_diff is None:
        key = keys.dataset_key(ds.commit_id, keys.DATASET_DIFF)
        (raw,) = await ds.storage.get_many([key])
        ds.dataset_diff = DatasetDiff.parse(bytes(raw), key) if raw else DatasetDiff()
    return ds.dataset_diff


def _companions(ds: DatasetEngine, name: str) -> list[str]:
    """Names of the hidden companions of tensor ``name`` that exist."""
    names = ds.meta["tensor_names"]
    return [c.name(name) for c in COMPANIONS.values() if c.name(name) in names]


async def _created_here(ds: DatasetEngine, key: str) -> bool:
    await ds.load([key], full=True)
    t = ds.tensors[key]
    return t.is_new or (t.commit_diff is not None and t.commit_diff.created)


async def delete_tensor(ds: DatasetEngine, name: str, large_ok: bool) -> None:
    await delete_tensors(ds, [name], large_ok, f"tensor {name!r}")


def in_group(name: str, group: str) -> bool:
    return name.startswith(group + "/")


async def delete_group(ds: DatasetEngine, group: str, large_ok: bool) -> None:
    """Delete group ``group``: its tensors (at any depth) and its subgroups, in one flush."""
    if group not in ds.meta["groups"]:
        raise TensorNotFoundError(f"no group {group!r}; groups: {sorted(ds.meta['groups'])}")
    names = [n for n in ds.visible_names() if in_group(n, group)]
    await delete_tensors(ds, names, large_ok, f"group {group!r}", group)


async def delete_tensors(
    ds: DatasetEngine, names: list[str], large_ok: bool, what: str, group: str | None = None
) -> None:
    """Delete tensors (and their companions), and ``group`` with its subgroups, in one
    flush. ``what`` names it in messages."""
    ds.check_writable()
    tensor_keys = [ds.key_of(n) for n in names]
    await ds.writes.flush()
    await ds.load(tensor_keys, full=True)
    if not large_ok:
        size = sum(
            ds.tensors[k].length * (int(ds.tensors[k].meta.get("max_chunk_size") or 0) // 2)
            for k in tensor_keys
        )
        if size > DELETE_SAFETY_SIZE:
            raise TensorTooLargeError(
                f"{what} may hold more than 1 GB (deeplake's estimate); pass large_ok=True to "
                "delete it"
            )
    diff = await load_dataset_diff(ds)
    doomed = []
    for n in [m for name in names for m in (name, *_companions(ds, name))]:
        k = ds.meta["tensor_names"][n]
        if k not in ds.meta["hidden_tensors"] and not await _created_here(ds, k):
            diff.tensor_deleted(n)
        ds.meta["tensor_names"].pop(n)
        ds.meta["tensors"].remove(k)
        if k in ds.meta["hidden_tensors"]:
            ds.meta["hidden_tensors"].remove(k)
        ds.tensors.pop(k, None)
        doomed.append(k)
    if group is not None:
        ds.meta["groups"] = [g for g in ds.meta["groups"] if g != group and not in_group(g, group)]
    ds.meta_dirty = ds.diff_dirty = True
    await ds.writes.flush()
    for k in doomed:  # no longer named by anything stored: remove this commit's objects
        await ds.storage.delete_prefix(keys.tensor_key(ds.commit_id, k, ""))


async def rename_group(ds: DatasetEngine, group: str, new_group: str) -> None:
    """Rename ``group`` (its tensors at any depth, and its subgroups) within its parent, in
    one flush; tensors keep their keys, as deeplake's renames do."""
    ds.check_writable()
    if group not in ds.meta["groups"]:
        raise TensorNotFoundError(f"no group {group!r}; groups: {sorted(ds.meta['groups'])}")
    if not isinstance(new_group, str) or not posixpath.split(new_group)[1]:
        raise InvalidHtypeError(f"invalid new group name {new_group!r}")
    if posixpath.split(group)[0] != posixpath.split(new_group)[0]:
        raise InvalidHtypeError(
            f"cannot rename group {group!r} to {new_group!r}: a rename stays in the same parent"
        )
    if new_group in ds.meta["tensor_names"] or new_group in ds.meta["groups"]:
        raise TensorExistsError(
            f"cannot rename group {group!r} to {new_group!r}: a tensor or group of that name exists"
        )
    await ds.writes.flush()
    for name in [n for n in ds.visible_names() if in_group(n, group)]:
        await stage_rename(ds, name, new_group + name[len(group) :], within_group=False)
    ds.meta["groups"] = [
        new_group + g[len(group) :] if g == group or in_group(g, group) else g
        for g in ds.meta["groups"]
    ]
    ds.meta_dirty = True
    await ds.writes.flush()


async def rename_tensor(ds: DatasetEngine, name: str, new_name: str) -> None:
    ds.check_writable()
    _check_rename(ds, name, new_name)  # bad input: refused before anything is written
    await ds.writes.flush()
    await stage_rename(ds, name, new_name)
    await ds.writes.flush()


def _check_rename(ds: DatasetEngine, name: str, new_name: str, within_group: bool = True) -> None:
    ds.key_of(name)
    if not isinstance(new_name, str) or not posixpath.split(new_name)[1]:
        raise InvalidHtypeError(f"invalid new tensor name {new_name!r}")
    if within_group and posixpath.split(name)[0] != posixpath.split(new_name)[0]:
        raise InvalidHtypeError(
            f"cannot rename {name!r} to {new_name!r}: a rename stays in the same group; create "
            "the tensor in the other group and copy the data"
        )
    if new_name in ds.meta["tensor_names"]:
        raise TensorExistsError(
            f"cannot rename {name!r} to {new_name!r}: a tensor {new_name!r} exists; delete it "
            "first or pick another name"
        )
    if new_name in ds.meta["groups"]:
        raise TensorExistsError(f"cannot rename {name!r} to {new_name!r}: that is a group")


async def stage_rename(
    ds: DatasetEngine, name: str, new_name: str, within_group: bool = True
) -> None:
    """Rename ``name`` (and its companions) in memory and in the commit's dataset diff;
    stored by the next flush (a merge's, say). ``within_group=False``: its group is being
    renamed."""
    _check_rename(ds, name, new_name, within_group)
    diff = await load_dataset_diff(ds)
    pairs = [(name, new_name)]
    pairs += [(c.name(name), c.name(new_name)) for c in COMPANIONS.values()]
    for old, new in pairs:
        k = ds.meta["tensor_names"].get(old)
        if k is None or k not in ds.meta["tensors"]:
            continue
        if k not in ds.meta["hidden_tensors"] and not await _created_here(ds, k):
            diff.tensor_renamed(old, new)
        ds.meta["tensor_names"].pop(old)
        ds.meta["tensor_names"][new] = k
        await ds.load([k], full=True)
        ds.tensors[k].meta["name"] = new
        ds.tensors[k].meta_dirty = True
    ds.meta_dirty = ds.diff_dirty = True


def create_group(ds: DatasetEngine, name: str) -> None:
    """Add group ``name`` and its parents (staged; stored by the next flush)."""
    ds.check_writable()
    if (
        not isinstance(name, str)
        or not name.strip("/")
        or any(p in ("", ".", "..") for p in name.split("/"))
    ):
        raise InvalidHtypeError(f"invalid group name {name!r}: use a name like 'train'")
    part = name
    while part:
        if part in ds.meta["tensor_names"]:
            raise TensorExistsError(f"cannot create group {name!r}: {part!r} is a tensor")
        part = posixpath.split(part)[0]
    part = name
    while part:
        if part not in ds.meta["groups"]:
            ds.meta["groups"].append(part)
        part = posixpath.split(part)[0]
    ds.meta_dirty = True
