"""The public Dataset: tensors by name, views by index, batched writes, info."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _loop
from ._index import Index
from .engine.dataset import DatasetEngine
from .engine.tensor import TensorEngine
from .errors import ReadOnlyError, ShoalError, TensorNotFoundError
from .info import Info
from .tensor import Tensor


class Dataset:
    """A dataset (``shoal.load(path)``) or a view of some of its samples (``ds[10:20]``).

    Outside a ``with ds:`` block every write is flushed at once; inside, writes are batched
    and flushed when the block ends (or on ``ds.flush()``).
    """

    def __init__(self, engine: DatasetEngine, path: str, index: Index | None = None) -> None:
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_index", index or Index())

    _engine: DatasetEngine
    _path: str
    _index: Index

    # -- identity ----------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._engine.read_only

    @property
    def branch(self) -> str | None:
        return self._engine.branch

    @property
    def commit_id(self) -> str:
        return self._engine.commit_id

    @property
    def branches(self) -> list[str]:
        return list(self._engine.versions.branches)

    @property
    def commits(self) -> list[dict[str, Any]]:
        """Committed versions on this dataset's history, newest first."""
        out = []
        for cid in self._engine.versions.ancestors(self.commit_id):
            node = self._engine.versions.commits.get(cid, {})
            if node.get("commit_time") is not None:
                out.append({"commit": cid, **node})
        return out

    async def checkout_async(self, ref: str, create: bool = False) -> str:
        self._check_root("checkout")
        if create:
            raise ShoalError(
                "creating branches is not supported by shoal yet; create it with deeplake, then "
                "check it out here"
            )
        await self._engine.flush()
        engine = await DatasetEngine.open(self._engine.storage, ref)
        object.__setattr__(self, "_engine", engine)
        return engine.commit_id

    def checkout(self, ref: str, create: bool = False) -> str:
        """Switch this handle to a branch (writable at its head) or a commit (read-only)."""
        return _loop.run(self.checkout_async(ref, create=create))

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"Dataset(path={self._path!r}{ro}, tensors={self._tensor_names()})"

    # -- tensors -----------------------------------------------------------------------------
    def _tensor_names(self) -> list[str]:
        return self._engine.visible_names()

    @property
    def tensors(self) -> dict[str, Tensor]:
        """Visible tensors by name (hidden companions excluded)."""
        # Tensor handles load their tensor on first use, so listing costs no I/O.
        return {n: self._tensor(n, load=False) for n in self._tensor_names()}

    def _tensor(self, name: str, load: bool = True) -> Tensor:
        key = self._engine.key_of(name)
        if load:
            self._engine.load_sync([key])
        return Tensor(self, key, self._index if not self._index.is_full else None)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            return self._tensor(item)
        return Dataset._view(self, self._index.compose(item, self._max_len()))

    def _view(self, index: Index) -> Dataset:
        view = Dataset(self._engine, self._path, index)
        return view

    def __getattr__(self, name: str) -> Tensor:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._tensor(name)
        except TensorNotFoundError:
            raise AttributeError(
                f"dataset has no tensor or attribute {name!r}; tensors: {self._tensor_names()}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"cannot set {name!r} on a dataset; create tensors with ds.create_tensor({name!r})"
        )

    def _max_len(self) -> int:
        engine = self._engine
        visible = [engine.key_of(n) for n in self._tensor_names()]
        engine.load_sync(visible)
        lengths = [engine.tensors[k].length for k in visible]
        return min(lengths) if lengths else 0

    def __len__(self) -> int:
        return self._index.length(self._max_len())

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    @property
    def info(self) -> Info:
        engine = self._engine

        def changed() -> None:
            engine.check_writable()
            engine.info_dirty = True
            self._autoflush()

        return Info(engine.info, changed)

    # -- writes ------------------------------------------------------------------------------
    def create_tensor(
        self,
        name: str,
        htype: str = "generic",
        dtype: Any = None,
        sample_compression: str | None = None,
        chunk_compression: str | None = None,
        max_chunk_size: int | None = None,
        hidden: bool = False,
        **htype_kwargs: Any,
    ) -> Tensor:
        """Create a tensor. ``htype_kwargs``: ``class_names`` (class_label), ``tiling_threshold``,
        ``coords`` (bbox), ... Raises ``TensorExistsError``, ``InvalidHtypeError``,
        ``InvalidCompressionError``."""
        self._check_root("create_tensor")
        self._engine.create_tensor(
            name,
            htype,
            dtype,
            sample_compression,
            chunk_compression,
            max_chunk_size,
            hidden,
            **htype_kwargs,
        )
        self._autoflush()
        return self._tensor(name) if not hidden else Tensor(self, name)

    async def create_tensor_async(self, name: str, htype: str = "generic", **kwargs: Any) -> Tensor:
        self._check_root("create_tensor")
        self._engine.create_tensor(name, htype, **kwargs)
        await self._autoflush_async()
        return self._tensor(name) if not kwargs.get("hidden") else Tensor(self, name)

    def _check_root(self, what: str) -> None:
        if not self._index.is_full:
            raise ShoalError(f"{what} works on the whole dataset, not on a view")

    def _stage(self, key: str, samples: list[Any]) -> None:
        """Validate and stage samples for a tensor and its hidden companions, all or nothing.

        The tensor and its companions must be loaded (``engine.with_companions``)."""
        engine = self._engine
        engine.check_writable()
        parent = engine.tensors[key]
        prepared, new_names = parent.prepare(samples)
        companions = [
            (engine.tensors[k], _companion_samples(parent, link, prepared.shapes))
            for k, link in parent.meta.get("links", {}).items()
            if k in engine.tensors
        ]
        prepared_companions = [(t, t.prepare(vals)) for t, vals in companions]
        parent.stage(prepared, new_names)
        for t, (p, names) in prepared_companions:
            t.stage(p, names)

    def _autoflush(self) -> None:
        engine = self._engine
        if engine.batch_depth == 0:
            _loop.run(engine.flush())
        elif engine.wants_drain():
            engine.drain_sync()

    async def _autoflush_async(self) -> None:
        engine = self._engine
        if engine.batch_depth == 0:
            await engine.flush()
        else:
            await engine.drain()

    def flush(self) -> None:
        """Write every staged change to storage."""
        _loop.run(self._engine.flush())

    async def flush_async(self) -> None:
        await self._engine.flush()

    def __enter__(self) -> Dataset:
        self._engine.batch_depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._engine.batch_depth -= 1
        if self._engine.batch_depth == 0 and not self._engine.read_only:
            self.flush()

    async def __aenter__(self) -> Dataset:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._engine.batch_depth -= 1
        if self._engine.batch_depth == 0 and not self._engine.read_only:
            await self.flush_async()

    # -- reads -------------------------------------------------------------------------------
    def summary(self) -> str:
        """Print (and return) a table of the tensors: htype, shape, dtype, compression."""
        rows = [("tensor", "htype", "shape", "dtype", "compression")]
        for name, t in self.tensors.items():
            comp = t.sample_compression or t.chunk_compression or "None"
            dtype = (
                t.dtype.name
                if t.dtype is not None and t.htype not in ("text", "json")
                else ("str" if t.htype == "text" else "Any" if t.htype == "json" else "None")
            )
            rows.append((name, t.htype, str(t.shape), dtype, comp))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"Dataset(path={self._path!r}, read_only={self.read_only}, samples={len(self)})"]
        for j, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        text = "\n".join(lines)
        print(text)
        return text


def _companion_samples(
    parent: TensorEngine, link: dict[str, Any], shapes: list[tuple[int, ...]]
) -> list[Any]:
    fn = link.get("extend")
    n = len(shapes)
    if fn == "extend_id":
        return np.frombuffer(os.urandom(8 * n), dtype=np.uint64).reshape(n, 1)  # type: ignore[return-value]
    if fn == "extend_shape":
        return np.asarray(shapes, dtype=np.int64).reshape(n, -1)  # type: ignore[return-value]
    if fn == "extend_info":
        return [{}] * n
    if fn == "extend_len":
        return [np.array([s[0] if s else 0], dtype=np.int64) for s in shapes]
    raise ReadOnlyError(
        f"tensor {parent.name!r} is linked to a hidden tensor through {fn!r}, which shoal does "
        "not maintain; append to it with deeplake, or copy the data to a new tensor"
    )
