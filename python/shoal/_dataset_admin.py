"""Whole-dataset housekeeping as deeplake has it: ``ds.read_only = True``,
``ds.allow_delete``, ``ds.delete()``, ``ds.size_approx()`` and ``ds.random_split([...])``.

Mixed into :class:`~shoal.dataset.AsyncDataset` (``await ds.set_read_only_async(True)``,
``await ds.delete_async()``, ...) and :class:`~shoal.dataset.Dataset` (deeplake's spelling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _loop
from ._dataset_copy import check_options, copy_dataset
from .engine.lock import check_no_writer
from .errors import ReadOnlyError, SampleError, ShoalError
from .format.htypes import DEFAULT_MAX_CHUNK_SIZE

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset

# deeplake's DELETE_SAFETY_SIZE: ds.delete() of more than this needs large_ok=True
DELETE_SAFETY_SIZE = 1 * 1024**3


async def refuse_if_large(ds: AsyncDataset) -> None:
    """deeplake's guard before a delete: above 1 GB (by ``size_approx``) only with
    ``large_ok=True``."""
    size = await ds.size_approx_async()
    if size > DELETE_SAFETY_SIZE:
        raise ShoalError(
            f"{ds.path} holds about {size / 1024**3:.1f} GB; pass large_ok=True to delete a "
            "dataset larger than 1 GB"
        )


class AsyncDatasetAdmin:
    async def set_read_only_async(self: AsyncDataset, value: bool) -> None:  # type: ignore[misc]
        """``True``: write what is staged, give up the write lock, and refuse writes until
        set back to ``False`` (deeplake's ``ds.read_only = True``)."""
        e = self._engine
        if not isinstance(value, bool):
            raise TypeError(f"read_only must be True or False, got {value!r}")
        if value:
            if not e.read_only:
                await e.writes.flush()
                await e.release_lock()
            e.user_read_only = True
            return
        if e.storage.read_only:
            raise ReadOnlyError(
                f"{self.path} was opened read-only; to write, open it again with "
                f"shoal.load({self.path!r}, read_only=False)"
            )
        e.user_read_only = False

    @property
    def allow_delete(self: AsyncDataset) -> bool:  # type: ignore[misc]
        """Whether :meth:`delete_async` may delete the dataset (stored in its meta)."""
        return bool(self._engine.meta.get("allow_delete", True))

    async def set_allow_delete_async(self: AsyncDataset, value: bool) -> None:  # type: ignore[misc]
        e = self._engine
        e.check_writable()
        e.meta["allow_delete"] = bool(value)
        e.meta_dirty = True
        await e.writes.flush()

    async def size_approx_async(self: AsyncDataset) -> int:  # type: ignore[misc]
        """About how many bytes the dataset's chunks hold at this version, by deeplake's
        estimate (half of a full chunk each), hidden tensors included."""
        e = self._engine
        keys = list(e.meta["tensors"])
        await e.load(keys, full=True)
        total = 0
        for key in keys:
            t = e.tensors[key]
            chunks = len(np.unique(t.chunk_ids[:, 0])) if len(t.chunk_ids) else 0
            total += chunks * (int(t.meta.get("max_chunk_size") or DEFAULT_MAX_CHUNK_SIZE) // 2)
        return total

    async def delete_async(self: AsyncDataset, large_ok: bool = False) -> None:  # type: ignore[misc]
        """Delete the whole dataset, every version, from storage (irreversible). Refused
        when ``allow_delete`` is False, and above 1 GB unless ``large_ok``."""
        e = self._engine
        if self.is_view or self._group:
            raise ShoalError("delete() deletes whole datasets; call it on the dataset itself")
        if not self.allow_delete:
            raise ShoalError(
                f"{self.path} is marked allow_delete=False; set ds.allow_delete = True first "
                "to delete it"
            )
        if e.storage.read_only:
            e.storage.check_writable("the dataset")
        if not large_ok:
            await refuse_if_large(self)
        await e.writes.abandon()
        await e.release_lock()
        await check_no_writer(e.storage)  # not from under another writer's feet
        await e.storage.delete_prefix("")

    async def copy_async(  # type: ignore[misc]
        self: AsyncDataset,
        dest: str,
        tensors: Sequence[str] | None = None,
        overwrite: bool = False,
        creds: Any = None,
        token: str | None = None,
        **options: Any,
    ) -> AsyncDataset:
        """A new dataset at ``dest`` with what this dataset or view holds now, without the
        history (see :func:`shoal.copy`)."""
        check_options(options, "copy")
        return await copy_dataset(self, dest, tensors, overwrite, creds, token)

    def random_split(self: AsyncDataset, lengths: Sequence[float]) -> list[Any]:  # type: ignore[misc]
        """Views of a random order of the samples, of the given ``lengths`` (counts that sum
        to the length, or fractions that sum to 1), as deeplake's ``random_split``."""
        if self.max_len != self.min_len:
            raise SampleError(
                "random_split needs tensors of equal length; these have "
                f"{self.min_len} to {self.max_len} samples"
            )
        n = len(self)
        sizes = split_sizes(lengths, n)
        order = np.random.permutation(n)  # positions in this dataset or view
        views, start = [], 0
        for size in sizes:
            views.append(self[order[start : start + size].tolist()])
            start += size
        return views


def split_sizes(lengths: Sequence[float], n: int) -> list[int]:
    """deeplake's rule: fractions become ``floor(f * n)``, and what is left over is dealt
    out one by one from the first split on."""
    values = list(lengths)
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise ValueError(f"random_split needs a list of counts or fractions, got {lengths!r}")
    total = sum(values)
    if math.isclose(total, 1) and total <= 1:
        if any(not 0 <= v <= 1 for v in values):
            raise ValueError(f"random_split fractions must be between 0 and 1, got {values}")
        sizes = [math.floor(v * n) for v in values]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        return sizes
    if any(not float(v).is_integer() or v < 0 for v in values) or total != n:
        raise ValueError(
            f"random_split lengths {values} sum to {total}, the dataset has {n} samples; "
            "give counts that sum to the length, or fractions that sum to 1"
        )
    return [int(v) for v in values]


class DatasetAdmin:
    """The sync façade's spelling: ``ds.read_only = True``, ``ds.allow_delete = False``."""

    _a: Any

    @property
    def read_only(self) -> bool:
        return bool(self._a.read_only)

    @read_only.setter
    def read_only(self, value: bool) -> None:
        _loop.run(self._a.set_read_only_async(value))

    @property
    def allow_delete(self) -> bool:
        return bool(self._a.allow_delete)

    @allow_delete.setter
    def allow_delete(self, value: bool) -> None:
        _loop.run(self._a.set_allow_delete_async(value))

    def size_approx(self) -> int:
        """About how many bytes the dataset's chunks hold (deeplake's estimate)."""
        return int(_loop.run(self._a.size_approx_async()))

    def delete(self, large_ok: bool = False) -> None:
        """Delete the whole dataset from storage (irreversible); above 1 GB only with
        ``large_ok=True``, and never while ``allow_delete`` is False."""
        _loop.run(self._a.delete_async(large_ok))

    def copy(  # type: ignore[misc]
        self: Dataset,
        dest: str,
        tensors: Sequence[str] | None = None,
        overwrite: bool = False,
        creds: Any = None,
        token: str | None = None,
        **options: Any,
    ) -> Dataset:
        """A new dataset at ``dest`` with what this dataset or view holds now, without the
        history: ``ds[100:200].copy(dest)`` (see :func:`shoal.copy`)."""
        from .dataset import Dataset

        copied = _loop.run(
            self._load_visible().copy_async(dest, tensors, overwrite, creds, token, **options)
        )
        return Dataset(copied)

    def random_split(self: Dataset, lengths: Sequence[float]) -> list[Dataset]:  # type: ignore[misc]
        """Random views of the given lengths (counts, or fractions summing to 1)."""
        from .dataset import Dataset

        return [Dataset(v) for v in self._load_visible().random_split(lengths)]
