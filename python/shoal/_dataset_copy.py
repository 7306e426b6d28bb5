"""``ds.copy(dest)`` / ``shoal.copy``: a new dataset holding what a dataset or view holds
now, without its history (deeplake's ``copy``).

Each tensor is made like its source (meta, info, companions) and its samples (the view's, in
the view's order) are appended as they are stored, with their hidden companions, inside one
write batch: full chunks are written as they fill, the rest when the copy ends; a copy that
fails leaves the new dataset with its tensors and no samples. The source's creds key names
come along (``linked_creds.json``), never their secrets. An optimized saved view is made the
same way (``copy_to`` with ``unlink`` and ``view_info``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import routing
from .engine.dataset import DatasetEngine
from .engine.sample_copy import check_copyable, copy_tensor
from .errors import DatasetNotFoundError, ShoalError

if TYPE_CHECKING:
    from .dataset import AsyncDataset

# deeplake's options for its own workers and output; shoal copies concurrently and quietly
IGNORED_OPTIONS = frozenset(
    {"num_workers", "scheduler", "progressbar", "public", "verbose", "runtime"}
)


def check_options(options: dict[str, Any], what: str) -> None:
    """deeplake's copy options are accepted and ignored; anything else is a mistake."""
    unknown = set(options) - IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"{what}() got unexpected arguments {sorted(unknown)}")


async def copy_dataset(
    source: AsyncDataset,
    dest: str,
    tensors: Sequence[str] | None,
    overwrite: bool,
    creds: Any,
    token: str | None,
) -> AsyncDataset:
    """Copy ``source`` (a dataset or view whose tensors' metas are loaded) to ``dest``."""
    plan = await plan_copy(source, tensors)
    storage = await routing.open_storage(routing.parse(dest), creds=creds, token=token)
    return await copy_to(plan, storage, dest, overwrite)


@dataclass
class CopyPlan:
    """What a copy takes: the tensors (names and keys) and each one's samples."""

    source: AsyncDataset
    names: list[str]
    keys: list[str]
    picked: dict[str, np.ndarray] = field(default_factory=dict)
    indices: np.ndarray | None = None  # the view's sample indices (a saved view's VDS_INDEX)


async def plan_copy(source: AsyncDataset, tensors: Sequence[str] | None) -> CopyPlan:
    """The tensors and samples to copy, checked before anything is made."""
    if source._group:
        raise ShoalError("copy copies datasets and views, not groups; pass the dataset")
    names = _picked(source, tensors)
    engine = source._engine
    keys = [engine.key_of(n) for n in names]
    await engine.load(keys, full=True, info=True)
    await engine.load([k for key in keys for k in engine.with_companions(key)], full=True)
    whole = source._index.is_full
    view = source._index.resolve(source._max_len())
    plan = CopyPlan(source, names, keys, indices=view)
    for key in keys:
        src_t = engine.tensors[key]
        plan.picked[key] = np.arange(src_t.samples, dtype=np.int64) if whole else view
        check_copyable(src_t, plan.picked[key])
    return plan


def _unlinks(t: Any, unlink: bool) -> bool:
    """Whether a copy stores a link tensor's files themselves (deeplake: not videos)."""
    return unlink and bool(t.meta.get("is_link")) and t.meta.get("htype") != "video"


async def copy_to(
    plan: CopyPlan,
    storage: Any,
    url: str,
    overwrite: bool,
    unlink: bool = False,
    view_info: dict[str, Any] | None = None,
) -> AsyncDataset:
    """Make the dataset ``plan`` copies in ``storage``. ``unlink``: link tensors become
    plain ones holding their files; ``view_info``: a saved view's (an optimized one: its
    ``VDS_INDEX`` of the view's indices is added last and ``view_info`` joins the info)."""
    from .dataset import AsyncDataset

    source, engine = plan.source, plan.source._engine
    target = AsyncDataset(await DatasetEngine.create(storage, overwrite=overwrite), url)
    out = target._engine
    out.info.update(json.loads(json.dumps(engine.info)))
    out.info_dirty = True  # written even when empty, with its diff, as deeplake's copy does
    out.writes.enter()  # one batch: full chunks are written as they fill, the rest at the end
    failed = True
    try:
        await _copy_creds_keys(engine, out)
        for name, key in zip(plan.names, plan.keys, strict=True):
            src_t = engine.tensors[key]
            off = _unlinks(src_t, unlink)
            dst_t = out.tensors[target._create_like(name, source._tensor(name), off)]
            await copy_tensor(engine, src_t, out, dst_t, plan.picked[key], out.writes.drain)
        if view_info is not None:
            await _add_view_index(target, plan, view_info)
        failed = False
    finally:
        await out.writes.exit(raised=failed)
    return target


async def _add_view_index(target: AsyncDataset, plan: CopyPlan, info: dict[str, Any]) -> None:
    assert plan.indices is not None
    await target.create_tensor_async(
        "VDS_INDEX",
        dtype="uint64",
        hidden=True,
        create_shape_tensor=False,
        create_id_tensor=False,
        create_sample_info_tensor=False,
    )
    await target["VDS_INDEX"].extend_async(plan.indices.astype(np.uint64))
    target._engine.info.update(info)


async def _copy_creds_keys(engine: DatasetEngine, out: DatasetEngine) -> None:
    """The source's creds key names (managed and used ones marked), in their order, so the
    copied links' creds codes name the same keys; never their secrets. deeplake's copy
    stores the names (whatever tensors it copies) and drops the secrets too: populate them
    on the copy to read its links."""
    theirs = await engine.links.load()
    mine = await out.links.load()
    mine.keys = list(theirs.keys)
    mine.managed = set(theirs.managed)
    mine.used = set(theirs.used)
    mine.dirty = True


def _picked(source: Any, tensors: Sequence[str] | None) -> list[str]:
    names: list[str] = source._tensor_names()
    if tensors is None:
        return names
    picked: list[str] = []
    for want in tensors:
        inside = [n for n in names if n == want or n.startswith(want.rstrip("/") + "/")]
        if not inside:
            raise DatasetNotFoundError(f"copy: no tensor or group {want!r}; tensors: {names}")
        picked.extend(n for n in inside if n not in picked)
    return picked
