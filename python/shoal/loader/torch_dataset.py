"""``ds.pytorch()``: the loader as a ``torch.utils.data.IterableDataset``.

Each DataLoader worker takes a contiguous run of the rank's batches (workers share few
chunks), and a forked worker opens the dataset again from its storage: its own event loop,
connection pool and caches, nothing of the parent's used. Batches are dicts of torch tensors
(a list where the samples' shapes differ, or for text and json).

It takes deeplake's arguments too, so that deeplake training code runs unchanged: iterated
directly it is what deeplake's ``pytorch()`` returns, a loader of torch batches (with
``num_workers`` it runs a DataLoader of that many worker processes over itself), a per-sample
``transform`` (a function, or ``{tensor: function}``), ``collate_fn``, and deeplake's
``"index"`` of each sample. Wrapped in ``DataLoader(ds.pytorch(...), batch_size=None,
num_workers=n)`` it is the same batches, split between the DataLoader's workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.dataset import DatasetEngine
from ..errors import LoaderError, ShoalError
from .api import Loader, open_loader
from .transform import collate

_INSTALL = (
    "ds.pytorch() needs PyTorch, which is not installed: pip install torch (a CPU-only build: "
    "pip install torch --index-url https://download.pytorch.org/whl/cpu; on Debian/Ubuntu: "
    "apt install python3-torch). ds.loader() gives the same batches as numpy arrays without it."
)


@dataclass(frozen=True)
class TorchOptions:
    """What torch itself does with the batches (the loader's options are separate)."""

    num_workers: int = 0
    pin_memory: bool = False
    persistent_workers: bool = False
    custom_collate: bool = False  # the batches are what the user's collate_fn made


class SampleTransform:
    """deeplake's per-sample ``transform``: a function of the sample dict (given
    ``transform_kwargs``), or ``{tensor: function or None}`` applied tensor by tensor; and
    the user's ``collate_fn`` over each batch's samples, if any."""

    def __init__(
        self,
        transform: Any,
        kwargs: Mapping[str, Any] | None,
        collate_fn: Callable[[list[Any]], Any] | None,
    ) -> None:
        self._fn = transform if callable(transform) else None
        self._per_tensor = dict(transform) if isinstance(transform, Mapping) else None
        self._kwargs = dict(kwargs or {})
        self.collate: Callable[[list[Any]], Any] = collate_fn or collate

    def __call__(self, sample: dict[str, Any]) -> Any:
        if self._per_tensor is not None:
            return {
                k: (f(v) if (f := self._per_tensor.get(k)) is not None else v)
                for k, v in sample.items()
            }
        if self._fn is not None:
            return self._fn(sample, **self._kwargs)
        return sample


def sample_transform(
    transform: Any, transform_kwargs: Any, collate_fn: Any
) -> SampleTransform | None:
    """The loader's transform for deeplake's arguments (None: batches as they are read)."""
    if transform is not None and not callable(transform) and not isinstance(transform, Mapping):
        raise LoaderError(
            f"transform must be a function of one sample dict, or {{tensor: function}}, "
            f"got {transform!r}"
        )
    if isinstance(transform, Mapping):
        bad = [k for k, f in transform.items() if f is not None and not callable(f)]
        if bad:
            raise LoaderError(f"transform[{bad[0]!r}] must be a function or None")
    if collate_fn is not None and not callable(collate_fn):
        raise LoaderError(f"collate_fn must be a function of a list of samples, got {collate_fn!r}")
    if transform_kwargs is not None and not isinstance(transform_kwargs, Mapping):
        raise LoaderError(f"transform_kwargs must be a dict, got {transform_kwargs!r}")
    if transform is None and collate_fn is None:
        return None
    return SampleTransform(transform, transform_kwargs, collate_fn)


def to_torch(value: Any) -> Any:
    """Arrays become tensors (dicts and lists walked); anything else stays."""
    import torch  # type: ignore[import-not-found,unused-ignore]

    if isinstance(value, np.ndarray) and value.dtype != object:
        if not value.flags.writeable:
            value = value.copy()  # torch wants memory it may write
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    return value


def _as_is(batch: Any) -> Any:
    return batch


def make_torch_dataset(
    engine: DatasetEngine,
    indices: np.ndarray,
    batch_size: int,
    options: dict[str, Any],
    torch_options: TorchOptions | None = None,
) -> Any:
    try:
        from torch.utils.data import (  # type: ignore[import-not-found,unused-ignore]
            DataLoader,
            IterableDataset,
            get_worker_info,
        )
    except ImportError:
        raise ShoalError(_INSTALL) from None
    how = torch_options or TorchOptions()

    class ShoalIterableDataset(IterableDataset):  # type: ignore[misc,unused-ignore]
        """Batches of a shoal dataset; one ``iter()`` per epoch in each worker."""

        def __init__(self, workers: int) -> None:
            self._pid = os.getpid()
            self._epoch = 0
            self._workers = workers

        def set_epoch(self, epoch: int) -> None:
            """The epoch the next iteration yields (it orders the shuffle)."""
            self._epoch = int(epoch)

        def __len__(self) -> int:
            return len(open_loader(engine, indices, batch_size=batch_size, **options))

        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
            if self._workers and info is None:
                yield from self._through_workers()
                return
            worker = (info.id, info.num_workers) if info is not None else (0, 1)
            inner = open_loader(
                engine,
                indices,
                batch_size=batch_size,
                worker=worker,
                engine_pid=self._pid,
                **options,
            )
            inner.set_epoch(self._epoch)
            self._epoch += 1
            loader = Loader(inner)
            try:
                for batch in loader:
                    yield batch if how.custom_collate else to_torch(batch)
            finally:
                loader.close()

        def _through_workers(self) -> Iterator[Any]:
            """deeplake's ``num_workers``: a DataLoader of worker processes over this."""
            inner = ShoalIterableDataset(0)
            inner._pid, inner._epoch = self._pid, self._epoch
            self._epoch += 1
            yield from DataLoader(
                inner,
                batch_size=None,
                num_workers=self._workers,
                collate_fn=_as_is,
                pin_memory=how.pin_memory,
                persistent_workers=False,
            )

    return ShoalIterableDataset(how.num_workers)
