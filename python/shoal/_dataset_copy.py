"""``ds.copy(dest)`` / ``shoal.copy``: a new dataset holding what a dataset or view holds
now, without its history (deeplake's ``copy``).

Each tensor is made like its source (meta, info, companions) and its samples (the view's, in
the view's order) are appended as they are stored, with their hidden companions, inside one
write batch: full chunks are written as they fill, the rest when the copy ends; a copy that
fails leaves the new dataset with its tensors and no samples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import routing
from .engine.dataset import DatasetEngine
from .engine.sample_copy import BLOCK, companions_by_kind, copy_block
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
    from .dataset import AsyncDataset

    if source._group:
        raise ShoalError("copy copies datasets and views, not groups; pass the dataset")
    names = _picked(source, tensors)
    engine = source._engine
    keys = [engine.key_of(n) for n in names]
    await engine.load(keys, full=True, info=True)
    for key in keys:
        t = engine.tensors[key]
        if t.meta.get("is_link") or t.meta.get("is_sequence"):
            raise ShoalError(
                f"copy does not copy {t.htype} tensors ({t.name!r}) yet; shoal.deepcopy "
                "copies them (with the history), or pass tensors=[...] without it"
            )
    await engine.load([k for key in keys for k in engine.with_companions(key)], full=True)
    storage = await routing.open_storage(routing.parse(dest), creds=creds, token=token)
    target = AsyncDataset(await DatasetEngine.create(storage, overwrite=overwrite), dest)
    out = target._engine
    out.info.update(json.loads(json.dumps(engine.info)))
    out.info_dirty = bool(engine.info)
    whole = source._index.is_full
    view = source._index.resolve(source._max_len())
    out.writes.enter()  # one batch: full chunks are written as they fill, the rest at the end
    failed = True
    try:
        for name, key in zip(names, keys, strict=True):
            src_t = engine.tensors[key]
            dst_t = out.tensors[target._create_like(name, source._tensor(name), False)]
            pairs = [(src_t, dst_t)]
            theirs = companions_by_kind(engine, src_t)
            for kind, dst_c in companions_by_kind(out, dst_t).items():
                if kind in theirs:
                    pairs.append((theirs[kind], dst_c))
            idx = np.arange(src_t.samples, dtype=np.int64) if whole else view
            for start in range(0, len(idx), BLOCK):
                for s, d in pairs:
                    await copy_block(s, d, idx[start : start + BLOCK])
                await out.writes.drain()
        failed = False
    finally:
        await out.writes.exit(raised=failed)
    return target


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
