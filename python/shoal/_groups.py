"""Tensor groups and the tensor list of a dataset: ``ds.create_group("train")``,
``ds["train/images"]``, ``ds.train.images``, nested groups; ``delete_tensor``,
``rename_tensor``, ``delete_group`` and ``rename_group``.

A group is a view of the dataset whose tensor names are relative to it (deeplake's
``group_index``); it shares the dataset's engine, so writes through it are the dataset's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import _loop
from ._index import Index
from ._meta import DatasetMeta
from .engine import tensor_admin
from .errors import TensorExistsError, TensorInUseError, TensorNotFoundError

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset
    from .tensor import AsyncTensor, Tensor


class AsyncGroups:
    """Name resolution through groups, and the operations on the tensor list."""

    _group: str = ""  # this view's group ("" at the root)

    def _full_name(self, name: str) -> str:
        return f"{self._group}/{name}" if self._group else name

    def _key(self: AsyncDataset, name: str) -> str:  # type: ignore[misc]
        """The key of tensor ``name`` (relative to this group)."""
        return self._engine.key_of(self._full_name(name))

    def _tensor_names(self: AsyncDataset) -> list[str]:  # type: ignore[misc]
        names = self._engine.visible_names()
        if not self._group:
            return names
        prefix = self._group + "/"
        return [n[len(prefix) :] for n in names if n.startswith(prefix)]

    def _tensor(self: AsyncDataset, name: str) -> AsyncTensor:  # type: ignore[misc]
        from .tensor import AsyncTensor

        key = self._key(name)
        return AsyncTensor(self, key, self._index if not self._index.is_full else None)

    def _is_group(self: AsyncDataset, name: str) -> bool:  # type: ignore[misc]
        return self._full_name(name) in self._engine.meta["groups"]

    def _group_view(self: AsyncDataset, name: str) -> AsyncDataset:  # type: ignore[misc]
        view = type(self)(self._engine, self._path, self._index, self._eager)
        object.__setattr__(view, "_group", self._full_name(name))
        return view

    def _view(self: AsyncDataset, index: Index) -> Any:  # type: ignore[misc]
        view = type(self)(self._engine, self._path, index, self._eager)
        object.__setattr__(view, "_group", self._group)
        return view

    @property
    def meta(self: AsyncDataset) -> Any:  # type: ignore[misc]
        """A copy of the dataset's meta (``meta.groups``, ``meta.tensors``, ...); a tensor
        named ``meta``, if there is one (shoal allows that name, deeplake does not)."""
        if "meta" in self._tensor_names():
            return self._tensor("meta")
        return DatasetMeta(json.loads(json.dumps(self._engine.meta)))

    @property
    def groups(self: AsyncDataset) -> dict[str, AsyncDataset]:  # type: ignore[misc]
        """The groups directly in this dataset or group, by name."""
        prefix = self._group + "/" if self._group else ""
        out = {}
        for g in self._engine.meta["groups"]:
            rest = g[len(prefix) :] if g.startswith(prefix) else None
            if rest and "/" not in rest:
                out[rest] = self._group_view(rest)
        return out

    def __getitem__(self: AsyncDataset, item: Any) -> Any:  # type: ignore[misc]
        if isinstance(item, str):
            if self._is_group(item):
                return self._group_view(item)
            return self._tensor(item)
        return self._view(self._index.compose(item, self._max_len()))

    def __getattr__(self: AsyncDataset, name: str) -> Any:  # type: ignore[misc]
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except TensorNotFoundError:
            raise AttributeError(
                f"dataset has no tensor, group or attribute {name!r}; tensors: "
                f"{self._tensor_names()}"
            ) from None

    # -- the tensor list ---------------------------------------------------------------------
    async def create_group_async(  # type: ignore[misc]
        self: AsyncDataset, name: str, exist_ok: bool = False
    ) -> AsyncDataset:
        """Create a group (and its parents); returns it."""
        self._check_root("create_group")
        if self._is_group(name):
            if not exist_ok:
                raise TensorExistsError(
                    f"group {self._full_name(name)!r} exists; pass exist_ok=True to reuse it"
                )
            return self._group_view(name)
        tensor_admin.create_group(self._engine, self._full_name(name))
        await self._engine.writes.after_write()
        return self._group_view(name)

    async def delete_tensor_async(  # type: ignore[misc]
        self: AsyncDataset, name: str, large_ok: bool = False
    ) -> None:
        """Delete a tensor (and its hidden companions); written at once. Raises
        ``TensorInUseError`` while a view of it (``ds.x[...]``) is still referenced."""
        self._check_root("delete_tensor")
        engine = self._engine
        full = self._full_name(name)
        key = engine.key_of(full)
        if any(v.key == key for v in list(engine.open_views)):
            raise TensorInUseError(
                f"tensor {full!r} has an open view (like ds.{full}[...]) in this process; drop "
                "it (del view) before deleting the tensor"
            )
        await tensor_admin.delete_tensor(engine, full, large_ok)

    async def delete_group_async(  # type: ignore[misc]
        self: AsyncDataset, name: str, large_ok: bool = False
    ) -> None:
        """Delete a group: its tensors (at any depth) and subgroups, in one write."""
        self._check_root("delete_group")
        engine = self._engine
        full = self._full_name(name)
        inside = {engine.key_of(n) for n in engine.visible_names() if n.startswith(full + "/")}
        if any(v.key in inside for v in list(engine.open_views)):
            raise TensorInUseError(
                f"a tensor of group {full!r} has an open view in this process; drop it (del "
                "view) before deleting the group"
            )
        await tensor_admin.delete_group(engine, full, large_ok)

    async def rename_group_async(  # type: ignore[misc]
        self: AsyncDataset, name: str, new_name: str
    ) -> None:
        """Rename a group within its parent (its tensors keep their data), in one write."""
        self._check_root("rename_group")
        await tensor_admin.rename_group(
            self._engine, self._full_name(name), self._full_name(new_name)
        )

    async def rename_tensor_async(  # type: ignore[misc]
        self: AsyncDataset, name: str, new_name: str
    ) -> AsyncTensor:
        """Rename a tensor within its group; written at once. Returns the tensor."""
        self._check_root("rename_tensor")
        full, new = self._full_name(name), self._full_name(new_name)
        await tensor_admin.rename_tensor(self._engine, full, new)
        return self._tensor(new_name)


class SyncGroups:
    """The sync façade's groups and tensor-list operations (``Dataset``)."""

    @property
    def groups(self: Dataset) -> dict[str, Dataset]:  # type: ignore[misc]
        """The groups directly in this dataset or group, by name."""
        from .dataset import Dataset

        return {n: Dataset(g) for n, g in self._a.groups.items()}

    def create_group(  # type: ignore[misc]
        self: Dataset, name: str, exist_ok: bool = False
    ) -> Dataset:
        """Create a group (``"train"``, or nested: ``"train/cats"``); returns it."""
        from .dataset import Dataset

        return Dataset(_loop.run(self._a.create_group_async(name, exist_ok)))

    def delete_tensor(self: Dataset, name: str, large_ok: bool = False) -> None:  # type: ignore[misc]
        """Delete a tensor and its hidden companions (written at once)."""
        _loop.run(self._a.delete_tensor_async(name, large_ok))

    def delete_group(self: Dataset, name: str, large_ok: bool = False) -> None:  # type: ignore[misc]
        """Delete a group: its tensors (at any depth) and subgroups (written at once)."""
        _loop.run(self._a.delete_group_async(name, large_ok))

    def rename_group(self: Dataset, name: str, new_name: str) -> None:  # type: ignore[misc]
        """Rename a group within its parent (written at once)."""
        _loop.run(self._a.rename_group_async(name, new_name))

    def rename_tensor(self: Dataset, name: str, new_name: str) -> Tensor:  # type: ignore[misc]
        """Rename a tensor within its group (written at once)."""
        from .tensor import Tensor

        return Tensor(self, _loop.run(self._a.rename_tensor_async(name, new_name)))
