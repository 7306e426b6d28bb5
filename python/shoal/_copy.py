"""``shoal.deepcopy``: a copy of a dataset with its whole version history, object by object,
from any storage to any other (deeplake's ``deepcopy``).

The objects are copied as they are stored (no decoding), many at a time. The root
``dataset_meta.json``, which makes a path a dataset, is written last: a copy cut short is not
a dataset, and a new attempt (with ``overwrite=True``) starts again. Write locks are not
copied: the copy has no writer yet. With ``tensors``, only those tensors (and their hidden
companions) are copied, and every version's ``dataset_meta.json`` lists only them.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import routing
from ._dataset_copy import check_options
from .engine.dataset import DatasetEngine
from .engine.lock import NAME as LOCK_NAME
from .errors import DatasetNotFoundError, ShoalError
from .format.keys import DATASET_META
from .storage import Storage, bounded_gather

if TYPE_CHECKING:
    from .dataset import AsyncDataset


async def deepcopy_async(
    src: Any,
    dest: str,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    dest_creds: Any = None,
    token: str | None = None,
    **options: Any,
) -> AsyncDataset:
    """Copy the dataset at ``src`` (a path, or an opened dataset) to ``dest`` with its
    whole history; the copy, opened."""
    from .api import load_async

    await _copy_objects(src, dest, tensors, overwrite, src_creds, dest_creds, token, options)
    return await load_async(dest, creds=dest_creds, token=token)


async def _copy_objects(
    src: Any,
    dest: str,
    tensors: Sequence[str] | None,
    overwrite: bool,
    src_creds: Any,
    dest_creds: Any,
    token: str | None,
    options: dict[str, Any],
) -> None:
    check_options(options, "deepcopy")
    source, close_source = await _source_storage(src, src_creds, token)
    try:
        if not await DatasetEngine.exists(source):
            raise DatasetNotFoundError(f"no dataset at {source.url} to copy")
        keys = [k for k in await source.list("") if posixpath.basename(k) != LOCK_NAME]
        metas: dict[str, bytes] = {}
        if tensors is not None:
            keys, metas = await _only(source, keys, list(tensors))
        target = await routing.open_storage(routing.parse(dest), creds=dest_creds, token=token)
        try:
            await DatasetEngine.make_room(target, overwrite)

            async def copy(key: str) -> None:
                data = metas.get(key)
                await target.put(key, data if data is not None else await source.get(key))

            await bounded_gather(copy(k) for k in keys if k != DATASET_META)
            if DATASET_META in keys:
                await copy(DATASET_META)
        finally:
            await target.close()
    finally:
        if close_source:
            await source.close()


def _opened(src: Any) -> Any:
    """The async dataset of an opened dataset (a sync façade or an AsyncDataset), or None."""
    inner = getattr(src, "_a", src)
    return inner if isinstance(getattr(inner, "_engine", None), DatasetEngine) else None


def _path(src: Any, what: str) -> Any:
    if not isinstance(src, str) and not hasattr(src, "__fspath__"):
        raise TypeError(f"{what} needs a path or a dataset as src, got {src!r}")
    return src


async def _source_storage(src: Any, creds: Any, token: str | None) -> tuple[Storage, bool]:
    inner = _opened(src)
    if inner is not None:
        if inner.is_view:
            raise ShoalError(
                "deepcopy copies whole datasets, not views; pass the dataset (or its path)"
            )
        if inner._group:
            raise ShoalError("deepcopy copies whole datasets, not groups; pass the dataset")
        return inner._engine.storage, False
    storage = await routing.open_storage(
        routing.parse(_path(src, "deepcopy")), read_only=True, creds=creds, token=token
    )
    return storage, True


async def _only(
    source: Storage, keys: list[str], wanted: list[str]
) -> tuple[list[str], dict[str, bytes]]:
    """The keys of the ``wanted`` tensors (or groups) and their companions at every version,
    and every version's dataset meta rewritten to list only them."""
    engine = await DatasetEngine.open(source, None, load_tensors=False)
    names: dict[str, str] = engine.meta["tensor_names"]
    picked: set[str] = set()
    for want in wanted:
        inside = [n for n in names if n == want or n.startswith(want.rstrip("/") + "/")]
        if not inside:
            raise DatasetNotFoundError(
                f"deepcopy: no tensor or group {want!r} in {source.url}; tensors: "
                f"{engine.visible_names()}"
            )
        picked.update(names[n] for n in inside)
    await engine.load(sorted(picked))
    for key in list(picked):
        picked.update(k for k in engine.tensors[key].meta.get("links", {}) if k in names.values())
    dropped = [k for k in names.values() if k not in picked]

    def kept(key: str) -> bool:
        return not any(key.startswith(t + "/") or f"/{t}/" in key for t in dropped)

    meta_keys = [k for k in keys if posixpath.basename(k) == DATASET_META]
    found = await source.get_many(meta_keys)  # every version's, at once
    metas = {
        k: _filtered_meta(raw, picked, wanted)
        for k, raw in zip(meta_keys, found, strict=True)
        if raw is not None
    }
    return [k for k in keys if kept(k)], metas


def _filtered_meta(raw: bytes, picked: set[str], wanted: list[str]) -> bytes:
    meta = json.loads(raw)
    names = meta.get("tensor_names") or {t: t for t in meta.get("tensors", [])}
    meta["tensors"] = [t for t in meta.get("tensors", []) if t in picked]
    meta["hidden_tensors"] = [t for t in meta.get("hidden_tensors", []) if t in meta["tensors"]]
    meta["tensor_names"] = {n: k for n, k in names.items() if k in picked}
    meta["groups"] = [
        g for g in meta.get("groups", []) if any(w == g or w.startswith(g + "/") for w in wanted)
    ]
    return json.dumps(meta).encode()


def deepcopy(
    src: Any,
    dest: str,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    dest_creds: Any = None,
    token: str | None = None,
    **options: Any,
) -> Any:
    """Copy the dataset at ``src`` (a path, or an opened dataset: what its last flush
    stored) to ``dest`` with its whole version history, and open the copy. ``tensors``: only
    these tensors or groups. Raises ``DatasetExistsError`` when ``dest`` holds a dataset
    (``overwrite=True`` replaces it). deeplake's worker and progress options are accepted
    and ignored."""
    from . import _loop
    from .api import load

    _loop.run(_copy_objects(src, dest, tensors, overwrite, src_creds, dest_creds, token, options))
    return load(dest, creds=dest_creds, token=token)


async def copy_async(
    src: Any,
    dest: str,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    dest_creds: Any = None,
    token: str | None = None,
    **options: Any,
) -> AsyncDataset:
    """A new dataset at ``dest`` holding what ``src`` (a path, a dataset or a view) holds
    now, without its history (deeplake's ``copy``); the copy, opened."""
    from ._dataset_copy import copy_dataset
    from .api import load_async

    check_options(options, "copy")
    source = _opened(src)
    if source is None:
        source = await load_async(_path(src, "copy"), read_only=True, creds=src_creds, token=token)
    return await copy_dataset(source, str(dest), tensors, overwrite, dest_creds, token)


def copy(
    src: Any,
    dest: str,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    dest_creds: Any = None,
    token: str | None = None,
    **options: Any,
) -> Any:
    """A new dataset at ``dest`` with what ``src`` (a path, a dataset or a view, e.g.
    ``ds[100:200]``) holds now, without its history: the samples copied as they are stored
    (compressed images are not re-encoded). ``tensors``: only these tensors or groups.
    Raises ``DatasetExistsError`` when ``dest`` holds a dataset (``overwrite=True`` replaces
    it). Linked and sequence tensors are not copied yet (``deepcopy`` copies them)."""
    from . import _loop
    from .api import load

    if hasattr(src, "_load_visible"):  # a sync Dataset: its tensors' metas, loaded
        src = src._load_visible()
    _loop.run(copy_async(src, dest, tensors, overwrite, src_creds, dest_creds, token, **options))
    return load(dest, creds=dest_creds, token=token)
