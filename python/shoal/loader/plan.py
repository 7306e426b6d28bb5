"""What a loader reads, in which order: the options, checked once, and each epoch's batches.

Shuffling is chunk-aware: the order of the chunks is shuffled, then samples are shuffled
within consecutive windows of ``shuffle_buffer`` samples, so the pipeline holds a bounded
number of chunks at a time. Every rank computes the same epoch order from the same seed and
takes its own contiguous share of it (no overlap, full coverage, the ``torch.distributed``
convention); a share is split again between the workers of one rank (DataLoader workers).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._index import distinct_inverse
from ..errors import LoaderError

DEFAULT_PREFETCH_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Options:
    batch_size: int
    shuffle: bool
    seed: int
    drop_last: bool
    prefetch_bytes: int
    num_threads: int
    rank: int
    world_size: int
    shuffle_buffer: int | None  # samples; None: as many as half of prefetch_bytes holds


def _positive(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise LoaderError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _from_env(name: str, given: int | None, default: int) -> int:
    if given is not None:
        return _positive(name.lower(), given, 0)
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise LoaderError(
            f"environment variable {name}={raw!r} is not an integer; set it as torch.distributed "
            f"does, or pass {name.lower()}= to the loader"
        ) from None


def check_options(
    batch_size: object,
    shuffle: bool,
    seed: int | None,
    drop_last: bool,
    prefetch_bytes: object,
    num_threads: object,
    rank: int | None,
    world_size: int | None,
    shuffle_buffer: object = None,
) -> Options:
    """Validated options; rank and world size come from ``RANK``/``WORLD_SIZE`` when not given."""
    size = _positive("batch_size", batch_size)
    budget = _positive("prefetch_bytes", prefetch_bytes)
    threads = (
        _positive("num_threads", num_threads)
        if num_threads is not None
        else max(2, min(8, os.cpu_count() or 2))
    )
    world = _from_env("WORLD_SIZE", world_size, 1)
    if world < 1:
        raise LoaderError(f"world_size must be >= 1, got {world}")
    where = _from_env("RANK", rank, 0)
    if not 0 <= where < world:
        raise LoaderError(
            f"rank must be in [0, world_size): got rank={where} with world_size={world}"
        )
    if shuffle_buffer is not None:
        shuffle_buffer = _positive("shuffle_buffer", shuffle_buffer)
    if seed is None:
        if shuffle and world > 1:
            raise LoaderError(
                "shuffle=True with world_size > 1 needs seed=: every rank must shuffle the same "
                "way, or their shares would overlap"
            )
        seed = secrets.randbits(63)
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise LoaderError(f"seed must be an integer or None, got {seed!r}")
    return Options(
        size,
        bool(shuffle),
        int(seed),
        bool(drop_last),
        budget,
        threads,
        where,
        world,
        shuffle_buffer,
    )


def epoch_order(
    indices: np.ndarray, chunk_ends: np.ndarray, opts: Options, epoch: int, buffer: int
) -> np.ndarray:
    """Every index of ``indices`` once, in this epoch's order. ``chunk_ends``: the last sample
    index of each chunk of the tensor that sets the chunk grouping."""
    if not opts.shuffle or indices.size < 2:
        return indices
    rng = np.random.default_rng([opts.seed, epoch])
    rows = np.searchsorted(chunk_ends, indices, side="left") if chunk_ends.size else indices
    uniq, inverse = distinct_inverse(rows)
    chunk_rank = rng.permutation(uniq.size)
    grouped = indices[np.argsort(chunk_rank[inverse], kind="stable")]
    window = np.arange(grouped.size) // max(1, buffer)
    return grouped[np.lexsort((rng.random(grouped.size), window))]


def share(order: np.ndarray, part: int, parts: int) -> np.ndarray:
    """Contiguous share ``part`` of ``parts``: sizes differ by at most one, nothing overlaps."""
    bounds = (np.arange(parts + 1) * order.size) // parts
    return order[bounds[part] : bounds[part + 1]]


def batches(order: np.ndarray, batch_size: int, drop_last: bool) -> list[np.ndarray]:
    n = order.size - (order.size % batch_size if drop_last else 0)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def batch_count(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def worker_batches(
    all_batches: Sequence[np.ndarray], worker: int, workers: int
) -> list[np.ndarray]:
    """The batches of one worker of a rank: a contiguous run, so workers share few chunks."""
    bounds = (np.arange(workers + 1) * len(all_batches)) // workers
    return list(all_batches[bounds[worker] : bounds[worker + 1]])


@dataclass(frozen=True)
class Plan:
    """The indices a loader covers and how each epoch orders and splits them."""

    indices: np.ndarray  # dataset indices of the dataset or view, in view order
    chunk_ends: np.ndarray
    opts: Options
    buffer: int
    worker: int = 0
    workers: int = 1

    def epoch(self, epoch: int) -> list[np.ndarray]:
        order = epoch_order(self.indices, self.chunk_ends, self.opts, epoch, self.buffer)
        mine = share(order, self.opts.rank, self.opts.world_size)
        out = batches(mine, self.opts.batch_size, self.opts.drop_last)
        return worker_batches(out, self.worker, self.workers) if self.workers > 1 else out
