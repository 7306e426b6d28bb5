"""Sample info: what deeplake records about each image read from a file (its EXIF tags,
shape, format and file name) in the hidden ``_<tensor>_info`` tensor, and
``tensor.sample_info`` to read it back (``{}`` for samples given as arrays).

The records are written as deeplake writes them, so ``sample_info`` is the same whichever of
the two libraries appended the sample. Mixed into :class:`~shoal.tensor.AsyncTensor` and
:class:`~shoal.tensor.Tensor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _loop

if TYPE_CHECKING:
    import numpy as np

    from ._index import Index
    from .dataset import AsyncDataset
    from .engine.tensor import TensorEngine

INFO_EXTEND = "extend_info"


class AsyncSampleInfo:
    """``sample_info_async`` of an async tensor (or view)."""

    if TYPE_CHECKING:
        _ds: AsyncDataset
        _index: Index

        @property
        def _engine(self) -> TensorEngine: ...

        def _indices(self) -> np.ndarray: ...

    async def sample_info_async(self) -> Any:
        """What was recorded about each sample when it was appended: for an image read from
        a file (``shoal.read``, or a verified link), its ``exif``, ``shape``, ``format`` and
        ``filename``; ``{}`` for a sample given as an array. A dict for one sample, a list for
        several; None when the tensor keeps no sample info (as deeplake)."""
        e = self._engine
        links = e.meta.get("links") or {}
        key = next((k for k, v in links.items() if v.get("extend") == INFO_EXTEND), None)
        ds = self._ds._engine
        if key is None:
            return None
        await ds.load([key], full=True)
        holder = ds.tensors.get(key)
        if holder is None:
            return None
        idx = self._indices()
        seq = e.seq
        if seq is not None:  # one record per item: a list per sample (a dict for one item)
            items = getattr(self, "_items", None)
            if items is not None:
                start = int(seq.starts[int(idx[0])])
                picked = items.resolve(int(seq.lengths(idx)[0]))
                got = [
                    holder.kind.decode(b, holder.name)
                    for b in await holder.read_blobs(start + picked)
                ]
                return got[0] if items.is_scalar else got
            flat = [
                holder.kind.decode(b, holder.name) for b in await holder.read_blobs(seq.flat(idx))
            ]
            groups, pos = [], 0
            for n in seq.lengths(idx).tolist():
                groups.append(flat[pos : pos + n])
                pos += n
            return groups[0] if self._index.is_scalar else groups
        values = [holder.kind.decode(b, holder.name) for b in await holder.read_blobs(idx)]
        return values[0] if self._index.is_scalar else values


class SyncSampleInfo:
    """``sample_info`` of a tensor (or view)."""

    @property
    def _a(self) -> Any:
        raise NotImplementedError  # the tensor class defines it

    @property
    def sample_info(self) -> Any:
        """What was recorded about each sample when it was appended (see
        :meth:`AsyncSampleInfo.sample_info_async`): a dict, or a list of them for a view."""
        return _loop.run(self._a.sample_info_async())
