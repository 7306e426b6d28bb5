"""What opening a dataset reads beyond its version info: the objects of the version asked for
that a handle already open elsewhere in the history knows it will need (read in the same round
trip as the version info), and the flush journals to complete first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import VersionError
from ..format import keys
from ..storage import Storage
from . import journal
from .context import TensorContext

if TYPE_CHECKING:
    from .dataset import DatasetEngine


def all_primed(
    ctx: TensorContext, tensor_keys: list[str], info: bool, primed: dict[str, bytes | None] | None
) -> bool:
    """Whether loading these tensors reads nothing (their objects were read already)."""
    if not primed:
        return False
    names = (keys.TENSOR_META, keys.TENSOR_INFO) if info else (keys.TENSOR_META,)
    return all(ctx.tensor_key(k, n) in primed for k in tensor_keys for n in names)


def guess(known: DatasetEngine | None, version: str | None) -> tuple[str | None, list[str]]:
    """The commit ``version`` is at in ``known``'s history, and the keys of its dataset meta
    and info and of the metas and infos of ``known``'s tensors there (none for the first
    commit, whose dataset objects are read anyway)."""
    if known is None or version is None:
        return None, []
    try:
        commit_id, _ = known.versions.resolve(version)
    except VersionError:
        return None, []
    visible = [known.key_of(n) for n in known.visible_names()]
    wanted = [
        keys.tensor_key(commit_id, k, n)
        for k in visible
        for n in (keys.TENSOR_META, keys.TENSOR_INFO)
    ]
    if commit_id != keys.FIRST_COMMIT_ID:
        wanted = [
            keys.dataset_key(commit_id, keys.DATASET_META),
            keys.dataset_key(commit_id, keys.DATASET_INFO),
            *wanted,
        ]
    return commit_id, wanted


async def recover(storage: Storage, journals: dict[str, bytes | None]) -> tuple[Storage, bool]:
    """Complete the flushes killed (or failing) writers committed through these journals but
    did not finish; the storage to read through, and whether there were any."""
    pending = journal.has_pending(storage)
    found = [k for k, raw in journals.items() if raw is not None]
    if pending and not found:
        found = [journal.KEY]  # recovering any journal first finishes what this handle owes
    for key in found:
        # once pending flushes are finished, the journals read before may be gone
        storage = await journal.recover(storage, key, None if pending else journals[key])
    return storage, bool(found)
