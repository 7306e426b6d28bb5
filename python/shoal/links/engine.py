"""The link tensor's side of the engine: checking samples before they are staged, the creds
index, and reads that fetch the linked files.

A link tensor's chunks hold each sample's URL as UTF-8 (shape ``(1,)``, uncompressed whatever
the meta's ``sample_compression`` says: that names the linked files' format), and its creds
index says which creds key reads it. With ``verify`` (the default) every linked file is read
on append, so the meta's shape bounds and the ``_shape`` companion hold the files' shapes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.samples import Prepared
from ..errors import SampleError
from . import decode, encoder, tiled
from .decode_queue import DecodeQueue
from .encoder import CredsIndex
from .sample import LinkedSample

if TYPE_CHECKING:
    from ..engine.tensor import TensorEngine
    from .resolve import LinkResolver


@dataclass(frozen=True)
class Checked:
    """A linked sample checked for appending: its URL, creds code and data shape."""

    path: str
    code: int
    shape: tuple[int, ...] | None  # None: not verified, or an empty (None) sample
    info: dict[str, Any] | None = None  # the sample info record of a verified image file


@dataclass
class LinkPrepared(Prepared):
    codes: list[int] = field(default_factory=list)
    linked_shapes: list[tuple[int, ...]] = field(default_factory=list)
    verified: bool = False
    infos: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bound_shapes(self) -> list[tuple[int, ...]]:
        return [s for s in self.linked_shapes if any(s)] if self.verified else []

    @property
    def companion_shapes(self) -> list[tuple[int, ...]]:
        return self.linked_shapes if self.verified else self.shapes

    @property
    def companion_infos(self) -> list[dict[str, Any]]:
        return self.infos if self.verified else [{} for _ in self.shapes]


def resolver(t: TensorEngine) -> LinkResolver:
    found = t.ctx.links
    assert found is not None, "the dataset engine gives every tensor context a link resolver"
    return found  # type: ignore[no-any-return]


def verifies(t: TensorEngine) -> bool:
    return bool(t.meta.get("verify", True))


async def load_index(t: TensorEngine) -> None:
    """The tensor's creds index (and the dataset's creds keys), once."""
    await resolver(t).load()
    if t.creds_index is None:
        raw = (await t.ctx.storage.get_many([t.tensor_key(encoder.KEY)]))[0]
        where = f"{t.ctx.url}/{t.tensor_key(encoder.KEY)}"
        if t.creds_index is None:
            t.creds_index = CredsIndex(encoder.parse(raw, t.length, where))


async def check_samples(t: TensorEngine, samples: Any) -> list[Checked]:
    """Validate linked samples for appending: each names a known key of the right kind, and
    (when the tensor verifies) each file is read to learn its shape. Changes nothing."""
    await load_index(t)
    res = resolver(t)
    link_creds = res.creds
    items = list(samples)
    out: list[Checked] = []
    for i, s in enumerate(items):
        if s is None:
            out.append(Checked("", 0, None))
            continue
        if not isinstance(s, LinkedSample):
            raise SampleError(
                f"tensor {t.name!r} is a link tensor; sample {i} is {type(s).__name__}: append "
                "shoal.link(url, creds_key=...) samples (or None)"
            )
        code = link_creds.encoding(s.creds_key, s.path, i)
        out.append(Checked(s.path, code, None))
    if not verifies(t):
        for i, c in enumerate(out):  # deeplake refuses unpopulated keys even without verify
            key = items[i].creds_key if c.path else None
            if key is not None:
                from .sample import path_kind

                link_creds.check_ready(key, i, path_kind(c.path))
        return out
    todo = [(i, c.path, items[i].creds_key) for i, c in enumerate(out) if c.path]
    datas = await res.get_many(todo)
    htype = str(t.meta.get("htype"))
    probed = await asyncio.get_running_loop().run_in_executor(
        t.cpu_pool(),
        lambda: [
            decode.probe_with_info(d, htype, i, p)
            for (i, p, _), d in zip(todo, datas, strict=False)
        ],
    )
    for (i, _, _), (shape, info) in zip(todo, probed, strict=True):
        out[i] = Checked(out[i].path, out[i].code, shape, info)
    return out


def prepare(t: TensorEngine, checked: list[Checked]) -> LinkPrepared:
    """Checked samples as staged bytes: each URL as UTF-8, shape (1,)."""
    for c in checked:
        if not isinstance(c, Checked):
            raise SampleError(
                f"tensor {t.name!r} is a link tensor: append shoal.link(url) samples with "
                "tensor.append / extend"
            )
    return LinkPrepared(
        blobs=[c.path.encode("utf-8") for c in checked],
        shapes=[(1,)] * len(checked),
        codes=[c.code for c in checked],
        linked_shapes=batch_shapes([c.shape for c in checked]),
        verified=verifies(t),
        infos=[c.info if c.info is not None else {} for c in checked],
    )


def batch_shapes(shapes: list[tuple[int, ...] | None]) -> list[tuple[int, ...]]:
    """The ``_shape`` entries of one append's (or update's) samples, as deeplake 3.9.52
    writes them: ``(0,)`` for a None sample, and when the batch mixes ranks every shorter
    entry padded to the longest (with 0 for an empty sample, 1 otherwise). So a None appended
    on its own is ``[0]``, one extended between images ``[0, 0, 0]``."""
    out = [s if s is not None else (0,) for s in shapes]
    ndim = max((len(s) for s in out), default=0)
    return [s + (int(any(s) and all(s)),) * (ndim - len(s)) if len(s) < ndim else s for s in out]


def staged(t: TensorEngine, prepared: LinkPrepared) -> None:
    """After the tensor staged ``prepared``: its creds codes, and the keys now in use."""
    assert t.creds_index is not None, "check_samples loads the creds index"
    t.creds_index.stage(prepared.codes)
    link_creds = resolver(t).creds
    for code in set(prepared.codes):
        if code:
            link_creds.mark_used(link_creds.keys[code - 1])


def staged_updates(t: TensorEngine, indices: list[int], prepared: LinkPrepared) -> None:
    """After the tensor staged new values of samples ``indices``: their creds codes."""
    assert t.creds_index is not None, "check_samples loads the creds index"
    t.creds_index.set(indices, prepared.codes)
    link_creds = resolver(t).creds
    for code in set(prepared.codes):
        if code:
            link_creds.mark_used(link_creds.keys[code - 1])


def staged_pops(t: TensorEngine, indices: list[int]) -> None:
    """After the tensor staged the removal of samples ``indices``: their creds codes go too."""
    if t.creds_index is not None:
        t.creds_index.pop(indices)


def flush_objects(t: TensorEngine) -> dict[str, bytes]:
    """What a flush stores for the tensor's creds index."""
    index = t.creds_index
    if index is None or not (index.dirty or t.is_new):
        return {}
    return {t.tensor_key(encoder.KEY): encoder.serialize(index.codes)}


# -- reads ------------------------------------------------------------------------------------
async def _blobs(t: TensorEngine, idx: np.ndarray) -> list[bytes]:
    from ..engine import reads

    return list(await reads.read_blobs(t, idx))


def _tiled(t: TensorEngine, index: int) -> bool:
    """Whether sample ``index`` is a grid of linked files (``deeplake.link_tiled``)."""
    return bool(t.tiles) and index in t.tiles


def _one_file(t: TensorEngine, index: int) -> None:
    if _tiled(t, index):
        raise SampleError(
            f"tensor {t.name!r}, sample {index} is a link_tiled sample: an image made of a grid "
            "of linked files, not one file; read it with .numpy()"
        )


async def read_paths(t: TensorEngine, idx: np.ndarray) -> list[str]:
    for i in idx.tolist():
        _one_file(t, int(i))
    return [b.decode("utf-8") for b in await _blobs(t, idx)]


async def _items(
    t: TensorEngine, idx: np.ndarray
) -> tuple[list[str], list[str | None], dict[int, bytes]]:
    """Each sample's URL ("" for a None sample or a tiled one), creds key, and the entries of
    tiled samples (by position in ``idx``)."""
    await t.ensure_full()
    await load_index(t)
    assert t.creds_index is not None
    blobs = await _blobs(t, idx)
    pairs = enumerate(zip(idx.tolist(), blobs, strict=True))
    tiled = {pos: b for pos, (i, b) in pairs if _tiled(t, int(i))}
    paths = ["" if pos in tiled else b.decode("utf-8") for pos, b in enumerate(blobs)]
    link_creds = resolver(t).creds
    codes = t.creds_index.codes[idx].tolist() if idx.size else []
    names = [
        link_creds.key_of(int(c), t.name, int(i)) for c, i in zip(codes, idx.tolist(), strict=False)
    ]
    return paths, names, tiled


async def read_files(t: TensorEngine, idx: np.ndarray) -> list[bytes]:
    """The linked files' bytes (empty for None samples), fetched concurrently."""
    for i in idx.tolist():
        _one_file(t, int(i))
    paths, names, _ = await _items(t, idx)
    todo = [(int(i), p, k) for i, p, k in zip(idx.tolist(), paths, names, strict=True) if p]
    got = iter(await resolver(t).get_many(todo))
    return [next(got) if p else b"" for p in paths]


async def read_arrays(t: TensorEngine, idx: np.ndarray) -> list[np.ndarray]:
    """The linked files decoded: fetched concurrently, each decoded on the CPU pool as soon as
    it arrives (:class:`.decode_queue.DecodeQueue`), so decoding overlaps the fetches still
    in flight and runs on every core. If samples fail (to fetch or to decode), the first of
    them in ``idx``'s order is raised, naming it, once the rest are done."""
    paths, names, tiled_entries = await _items(t, idx)
    res = resolver(t)
    ndim = len(t.meta.get("max_shape") or []) or None
    dtype = t.dtype  # files of another dtype (a float64 .npy, say) read as the tensor's

    def one_file(data: Any, index: int, path: str) -> np.ndarray:
        arr = decode.to_array(data, ndim, index, path)
        return arr if dtype is None or arr.dtype == dtype else arr.astype(dtype)

    queue = DecodeQueue(t.cpu_pool(), one_file, len(paths))
    empty = np.zeros((0,) * (ndim or 1), dtype=dtype or np.uint8)

    async def fetch(pos: int, i: int, path: str, key: str | None) -> None:
        if pos in tiled_entries:
            queue.out[pos] = await tiled.read(t, res, i, tiled_entries[pos], key, dtype)
            return
        if not path:
            queue.out[pos] = empty.copy()
            return
        queue.submit(pos, await res.get(i, path, key, view=True), i, path)

    items = zip(idx.tolist(), paths, names, strict=True)
    async with res.batch():
        fetched = await asyncio.gather(
            *(fetch(pos, int(i), p, k) for pos, (i, p, k) in enumerate(items)),
            return_exceptions=True,
        )
    got = await queue.results()
    for failed, decoded in zip(fetched, got, strict=True):
        if isinstance(failed, BaseException):
            raise failed
        if isinstance(decoded, BaseException):
            raise decoded
    return got
