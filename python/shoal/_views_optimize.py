"""Optimized saved views, as deeplake 3.9.52 writes them: the view's samples copied (as
``copy`` copies them, link tensors storing their files, video links kept) into the view's
own dataset, so loading it reads those samples only.

``ds[...].save_view(optimize=True)`` makes ``.queries/<id>/`` that way at once: the copied
tensors, then a hidden ``VDS_INDEX`` of the view's sample indices, the source's info joined
by the view's (``"virtual-datasource": false``); ``queries.json`` lists the same record.
``ds.get_view(id).optimize()`` (and ``load_view(id, optimize=True)``) turns a saved virtual
view into one: the copy goes to ``.queries/<id>_OPTIMIZED/``, the record names it as its
``path`` and is no longer virtual, and the virtual view's folder is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._dataset_copy import copy_to, plan_copy
from .errors import ShoalError
from .storage._prefixed import PrefixedStorage

if TYPE_CHECKING:
    from .dataset import AsyncDataset

FOLDER = ".queries"
SUFFIX = "_OPTIMIZED"


async def write_optimized(
    view: AsyncDataset,
    storage: Any,
    url: str,
    info: dict[str, Any],
    tensors: Sequence[str] | None,
    overwrite: bool,
) -> None:
    """The samples of ``view`` copied to ``storage`` as an optimized view with ``info``."""
    plan = await plan_copy(view, tensors)
    vds = await copy_to(plan, storage, url, overwrite, unlink=True, view_info=info)
    await vds._engine.release_lock()


async def optimize_entry(
    ds: AsyncDataset, info: dict[str, Any], tensors: Sequence[str] | None
) -> dict[str, Any]:
    """Make the saved view ``info`` (a record of ``ds``'s ``queries.json``) an optimized
    one; its new record. An optimized view is left as it is."""
    from ._views import _edit_queries, _load

    if not info.get("virtual-datasource", True):
        return info
    if ds._engine.storage.read_only:
        raise ShoalError(
            f"optimizing view {info['id']!r} writes into {ds.path}/{FOLDER}: open the dataset "
            "writable (read_only=False)"
        )
    old = str(info.get("path") or info["id"])
    new = old + SUFFIX
    view = await _load(ds, info)
    vds_info = await _vds_info(ds, old)
    vds_info.update({"virtual-datasource": False, "path": new})
    storage = PrefixedStorage(ds._engine.storage, f"{FOLDER}/{new}")
    url = f"{ds.path.rstrip('/')}/{FOLDER}/{new}"
    await write_optimized(view, storage, url, vds_info, tensors, overwrite=True)
    done: dict[str, Any] = {}

    def mark(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for entry in entries:
            if entry["id"] == info["id"]:
                entry.update({"virtual-datasource": False, "path": new})
                done.update(entry)
        return entries

    await _edit_queries(ds._engine.storage, mark)
    if not done:  # deleted meanwhile: the copy goes too
        await ds._engine.storage.delete_prefix(f"{FOLDER}/{new}/")
        raise KeyError(f"no view with id {info['id']!r} in {ds.path}")
    await ds._engine.storage.delete_prefix(f"{FOLDER}/{old}/")
    return done


async def _vds_info(ds: AsyncDataset, folder: str) -> dict[str, Any]:
    """The info of the virtual view's own dataset (deeplake carries it to the copy)."""
    from .engine.dataset import DatasetEngine

    storage = PrefixedStorage(ds._engine.storage, f"{FOLDER}/{folder}", read_only=True)
    engine = await DatasetEngine.open(storage, None)
    return dict(engine.info)
