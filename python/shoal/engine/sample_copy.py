"""Samples of one tensor appended to another as they are stored (``shoal.copy``): compressed
images keep their bytes (no decode, no lossy re-encode), tiled samples are tiled again, and
each hidden companion (shape, id, sample info) is copied beside its tensor.

The samples are read a run of consecutive indices at a time (each chunk read once per run)
and staged on the destination, whose writer cuts them into its own chunks.

A link tensor's entries (each sample's URL) are copied with their creds codes, which keep
their meaning because the copy takes the source's ``linked_creds.json`` key list as it is;
the linked files are not read (the shape bounds come from the ``_shape`` companion). A
sequence tensor's selected samples bring their items, and the copy's sequence index is made
anew from each sample's item count, as appending those samples makes it; the per-item
companions (shape, info) take the items, the per-sample one (the ids) the samples.

Copied into a plain tensor (an optimized view unlinks, as deeplake's does), a link tensor's
samples are the files its links name, read with the source's creds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LinkError
from ..links import engine as link_engine
from . import staging
from .merge_copy import runs, stored_run

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .samples import Prepared
    from .tensor import TensorEngine

# samples read and staged at a time: the writer drains full chunks between blocks
BLOCK = 1024


def companions_by_kind(ds: DatasetEngine, t: TensorEngine) -> dict[str, TensorEngine]:
    """A tensor's hidden companions by the deeplake function that extends each one."""
    out = {}
    for key, link in (t.meta.get("links") or {}).items():
        found = ds.tensors.get(key)
        if found is not None and link.get("extend"):
            out[str(link["extend"])] = found
    return out


def _per_item(parent: TensorEngine, companion: TensorEngine) -> bool:
    """Whether a sequence tensor's companion holds one entry per item (shape, info) or one
    per sample (the ids): the meta's ``flatten_sequence``."""
    link = (parent.meta.get("links") or {}).get(companion.key) or {}
    return bool(link.get("flatten_sequence", True))


async def copy_tensor(
    src_ds: DatasetEngine,
    src: TensorEngine,
    dst_ds: DatasetEngine,
    dst: TensorEngine,
    samples: np.ndarray,
    drain: Callable[[], Awaitable[None]],
) -> None:
    """Append ``src``'s samples ``samples`` (in that order) and their companions' entries to
    ``dst`` and its companions, a block at a time (``drain`` after each)."""
    theirs = companions_by_kind(src_ds, src)
    pairs = [(src, dst, True)]
    for kind, dst_c in companions_by_kind(dst_ds, dst).items():
        if kind in theirs:
            pairs.append((theirs[kind], dst_c, _per_item(src, theirs[kind])))
    linked = bool(src.meta.get("is_link"))
    unlinked = linked and not dst.meta.get("is_link")  # the files stored themselves
    if linked:
        await link_engine.load_index(src)
        if not unlinked:
            await link_engine.load_index(dst)
    for start in range(0, len(samples), BLOCK):
        block = samples[start : start + BLOCK]
        items = src.seq.flat(block) if src.seq is not None else block
        for s, d, per_item in pairs:
            idx = items if per_item else block
            if unlinked and s is src:
                await _copy_files(src, dst, idx)
            elif linked and s is src:
                await _copy_links(src, dst, idx, theirs.get("extend_shape"))
            else:
                await copy_block(s, d, idx)
        if src.seq is not None and dst.seq is not None:
            dst.seq.stage(src.seq.lengths(block).tolist())
        await drain()
    if len(samples):
        _fill_dtype(src, dst, typestr=True)
        for s, d, _ in pairs[1:]:
            _fill_dtype(s, d, typestr=False)


def _fill_dtype(src: TensorEngine, dst: TensorEngine, typestr: bool) -> None:
    """The dtype samples copied as stored do not set, as deeplake's copy leaves it: the
    source's dtype, and for the tensor itself (not its companions) its typestr too."""
    if dst.meta.get("dtype") is None and src.meta.get("dtype") is not None:
        dst.meta["dtype"] = src.meta["dtype"]
    if typestr and dst.meta.get("typestr") is None and src.meta.get("typestr") is not None:
        dst.meta["typestr"] = src.meta["typestr"]


def check_copyable(src: TensorEngine, samples: np.ndarray) -> None:
    """Refuse, before anything is made, samples copy cannot copy as stored: a link tensor's
    link_tiled samples (a grid of linked files)."""
    if not src.meta.get("is_link") or not src.tiles:
        return
    items = src.seq.flat(samples) if src.seq is not None else samples
    tiled = sorted(set(src.tiles) & set(items.tolist()))
    if tiled:
        raise LinkError(
            f"copy: sample {tiled[0]} of tensor {src.name!r} is a link_tiled sample (a grid of "
            "linked files), which copy does not copy yet; shoal.deepcopy copies it, or copy a "
            "view without it or pass tensors=[...] without the tensor"
        )


async def copy_block(src: TensorEngine, dst: TensorEngine, idx: np.ndarray) -> None:
    """Append ``src``'s samples ``idx`` (in that order) to ``dst``."""
    if not len(idx):
        return
    for part in await _stored(src, idx):
        dst.stage(part, [])


async def _stored(src: TensorEngine, idx: np.ndarray) -> list[Prepared]:
    lasts = src.chunk_ids[:, 1].astype(np.int64)
    return [await stored_run(src, lasts, start, end) for start, end in runs(idx.tolist())]


async def _copy_links(
    src: TensorEngine, dst: TensorEngine, idx: np.ndarray, shapes: TensorEngine | None
) -> None:
    """Append link samples ``idx``: their stored URLs and creds codes."""
    if not len(idx):
        return
    assert src.creds_index is not None, "load_index loads the creds index"
    stored = await _stored(src, idx)
    blobs = [b for part in stored for b in part.blobs]
    verified = link_engine.verifies(dst) and shapes is not None
    linked_shapes: list[tuple[int, ...]] = []
    if verified and shapes is not None:
        linked_shapes = [tuple(int(x) for x in a) for a in await shapes.read_arrays(idx)]
    elif src.meta.get("min_shape"):  # no shape companion: the source's bounds, as a merge
        bounds = [tuple(src.meta["min_shape"]), tuple(src.meta["max_shape"])]
        staging.update_shape_bounds(dst.meta, bounds)
    dst.stage(
        link_engine.LinkPrepared(
            blobs=blobs,
            shapes=[(1,)] * len(blobs),
            codes=src.creds_index.codes[idx].astype(int).tolist(),
            linked_shapes=linked_shapes,
            verified=verified,
            infos=[{} for _ in blobs],
        ),
        [],
    )


async def _copy_files(src: TensorEngine, dst: TensorEngine, idx: np.ndarray) -> None:
    """Append the files link samples ``idx`` name: an image file as its bytes (kept as they
    are when their format is the tensor's sample compression), any other decoded; a None
    link stays an empty sample."""
    if not len(idx):
        return
    datas = await link_engine.read_files(src, idx)
    image = str(dst.meta.get("htype") or "").startswith("image")
    samples: list[Any] = []
    ndim = len(src.meta.get("max_shape") or []) or (3 if image else 1)
    empty = np.zeros((0,) * ndim, dtype=np.dtype(dst.meta.get("dtype") or "uint8"))
    for pos, data in enumerate(datas):
        if not data:  # a None link: an empty sample of the tensor's rank
            samples.append(empty)
        elif image and bytes(data[:8]).startswith(_IMAGE_MAGIC):
            samples.append(bytes(data))
        else:
            samples.append((await link_engine.read_arrays(src, idx[pos : pos + 1]))[0])
    dst.stage(*dst.prepare(samples))


_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
