"""``ds.pytorch()``: the loader as a ``torch.utils.data.IterableDataset``.

Each DataLoader worker takes a contiguous run of the rank's batches (workers share few
chunks), and a forked worker opens the dataset again from its storage: its own event loop,
connection pool and caches, nothing of the parent's used. The batches are dicts of numpy
arrays; with ``DataLoader(..., batch_size=None)`` torch turns them into tensors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..engine.dataset import DatasetEngine
from ..errors import ShoalError
from .api import Loader, open_loader

_INSTALL = (
    "ds.pytorch() needs PyTorch, which is not installed: pip install torch (a CPU-only build: "
    "pip install torch --index-url https://download.pytorch.org/whl/cpu; on Debian/Ubuntu: "
    "apt install python3-torch). ds.loader() gives the same batches as numpy arrays without it."
)


def make_torch_dataset(
    engine: DatasetEngine, indices: np.ndarray, batch_size: int, options: dict[str, Any]
) -> Any:
    try:
        from torch.utils.data import (  # type: ignore[import-not-found,unused-ignore]
            IterableDataset,
            get_worker_info,
        )
    except ImportError:
        raise ShoalError(_INSTALL) from None

    class ShoalIterableDataset(IterableDataset):  # type: ignore[misc,unused-ignore]
        """Batches of a shoal dataset; one ``iter()`` per epoch in each worker."""

        def __init__(self) -> None:
            self._pid = os.getpid()
            self._epoch = 0

        def set_epoch(self, epoch: int) -> None:
            """The epoch the next iteration yields (it orders the shuffle)."""
            self._epoch = int(epoch)

        def __len__(self) -> int:
            return len(open_loader(engine, indices, batch_size=batch_size, **options))

        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
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
                yield from loader
            finally:
                loader.close()

    return ShoalIterableDataset()
