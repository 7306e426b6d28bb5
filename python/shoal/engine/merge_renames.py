"""How a merge treats tensors renamed since the common ancestor, as deeplake 3.9.52 does
(``util/merge.process_renamed_tensors``).

For each tensor the target renamed (``old`` -> ``new``):

- ``new`` exists only on the target: the head renames ``old`` to ``new`` too and the two
  merge as one tensor; unless the head renamed ``old`` otherwise, or deleted it: then a
  :class:`MergeConflictError`, or with ``force=True`` the target's ``new`` is added as a
  new tensor beside the head's.
- ``new`` exists on both sides: fine if the head renamed ``old`` to ``new`` as well; else a
  conflict, or with ``force=True`` the two ``new`` tensors merge by sample ids.

Either way ``old`` counts as neither deleted on the target nor here. Renames are read from
the dataset diffs of each side since the common ancestor, nearest first, combined as
deeplake's ``merge_renamed_deleted`` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import MergeConflictError
from ..format import keys
from ..format.diffs import DatasetChanges

if TYPE_CHECKING:
    from .dataset import DatasetEngine


def commits_since(versions: Any, start: str, stop: str) -> list[str]:
    """``start`` and its ancestors, nearest first, down to (without) ``stop``."""
    out = []
    for c in versions.ancestors(start):
        if c == stop:
            break
        out.append(c)
    return out


async def renamed_since(ds: DatasetEngine, start: str, lca: str) -> dict[str, str]:
    """Tensors renamed from ``lca`` to ``start``: ``{old name: new name}``."""
    commits = commits_since(ds.versions, start, lca)
    raws = await ds.storage.get_many([keys.dataset_key(c, keys.DATASET_DIFF) for c in commits])
    renamed: dict[str, str] = {}
    deleted: list[str] = []
    done: set[str] = set()
    for c, raw in zip(commits, raws, strict=True):
        if not raw:
            continue
        changes = DatasetChanges.parse(bytes(raw), c)
        for old, new in changes.renamed.items():
            if new in deleted and new not in done:  # deleted later under its new name
                deleted[deleted.index(new)] = old
                done.add(new)
                continue
            renamed[old] = new
        deleted.extend(changes.deleted)
    return renamed


@dataclass
class Tensors:
    """The merge's sets of tensor names, as the renames leave them."""

    new: set[str]  # only the target has them: added
    common: set[str]  # on both sides: merged by sample ids
    deleted_here: set[str]  # in the common ancestor, gone from the head
    deleted_there: set[str]  # in the common ancestor, gone from the target
    renames: list[tuple[str, str]] = field(default_factory=list)  # the head renames these


async def plan_renames(
    ds: DatasetEngine, head: str, target: str, lca: str, names: Tensors, force: bool
) -> None:
    """Adjust ``names`` for the renames on both sides; raise on a rename conflict. Nothing
    is changed: the head's renames are listed in ``names.renames``."""
    theirs = await renamed_since(ds, target, lca)
    ours = await renamed_since(ds, head, lca)
    for old, new in theirs.items():
        if new in names.new:
            if not force:
                if old in ours:
                    raise MergeConflictError(
                        f"cannot merge: tensor {old!r} was renamed on both sides ({ours[old]!r} "
                        f"here, {new!r} on the target). Rename it to the same name on both, or "
                        f"pass force=True to add the target's {new!r} as a new tensor",
                        {old: []},
                    )
                if old in names.deleted_here:
                    raise MergeConflictError(
                        f"cannot merge: tensor {old!r} was renamed to {new!r} on the target but "
                        f"is deleted here. Pass force=True to add {new!r} as a new tensor",
                        {old: []},
                    )
                names.new.discard(new)
                names.deleted_there.discard(old)
                names.renames.append((old, new))
                names.common.add(new)
        elif new in names.common and ours.get(old) != new and not force:
            raise MergeConflictError(
                f"cannot merge: tensor {old!r} was renamed to {new!r} on the target, but "
                f"another {new!r} exists here. Rename one of them, or pass force=True to merge "
                f"the target's {new!r} into this one",
                {new: []},
            )
        names.deleted_there.discard(old)
        names.deleted_here.discard(old)
