"""The loaders users iterate: :class:`AsyncLoader` (``async for``) and :class:`Loader` (``for``).

Each ``for``/``async for`` runs one epoch. The pipeline behind it is kept when an epoch ends
normally, already prefetching the next one (no stall between epochs); it is shut down when an
iteration stops early (a ``break``, an error) or when the loader is closed, releasing its
memory, tasks and threads. The sync loader runs the pipeline on shoal's background loop; in a
forked process (DataLoader workers) both rebuild everything from the dataset's storage.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import os
import sys
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np

from .. import _loop
from ..engine.dataset import DatasetEngine
from ..errors import LoaderError
from . import plan as plans
from .pipeline import EpochEnd, EpochPlan, Pipeline
from .reader import TensorReader
from .transform import Transform

# Batches a ``for`` loop takes from the loader's thread at once, when they are ready.
HANDOFF = 16
# Shutdowns scheduled by finalizers, kept referenced until they finish.
_stopping: set[asyncio.Task[Any]] = set()
# Loaders with a running pipeline, stopped at exit (a pipeline left prefetching the next
# epoch on the background loop would otherwise be destroyed mid-task).
_running: weakref.WeakSet[AsyncLoader] = weakref.WeakSet()
# Shutdowns of dropped loaders sent to another thread's loop, awaited at exit.
_stop_futures: set[concurrent.futures.Future[Any]] = set()


def _stop_all() -> None:
    for future in list(_stop_futures):
        with contextlib.suppress(Exception):
            future.result(timeout=5)
    for loader in list(_running):
        loop = loader._pipeline_loop
        if loader._pipeline is None or loop is None or loader._pid != os.getpid():
            continue
        if loop.is_running() and not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(loader._stop(), loop).result(timeout=5)


def check_tensors(engine: DatasetEngine, tensors: list[str] | str | None) -> list[str]:
    visible = engine.visible_names()
    if tensors is None:
        names = visible
    else:
        names = [tensors] if isinstance(tensors, str) else list(tensors)
        unknown = [n for n in names if n not in visible]
        if unknown:
            raise LoaderError(f"unknown tensor(s) {unknown} for the loader; tensors: {visible}")
    if not names:
        raise LoaderError(
            "the loader has no tensor to read: pass tensors=[names...] of the dataset's "
            f"tensors {visible}, or create one"
        )
    return names


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, unit="batch")


def _planned(plan: plans.Plan, first: int) -> Iterator[np.ndarray | EpochPlan | EpochEnd]:
    """Epoch after epoch (a function, not a method: the pipeline must not keep the loader
    alive, so that dropping the loader stops it at once)."""
    epoch = first
    while True:
        batches = plan.epoch(epoch)
        yield EpochPlan(batches)
        yield from batches
        yield EpochEnd(epoch)
        epoch += 1


class AsyncLoader:
    """Batches of a dataset or view, as dicts of numpy arrays, for ``async for``."""

    def __init__(
        self,
        engine: DatasetEngine,
        names: list[str],
        indices: np.ndarray,
        opts: plans.Options,
        transform: Transform | None = None,
        progress: bool = False,
        worker: tuple[int, int] = (0, 1),
        engine_pid: int | None = None,
        return_index: bool = False,
    ) -> None:
        self._engine = engine
        self._return_index = return_index
        self._names = names
        self._indices = indices
        self.opts = opts
        self._transform = transform
        self._progress = progress
        self._worker = worker
        # The process the engine was opened in: a forked child opens its own.
        self._pid = engine_pid or os.getpid()
        self._plan: plans.Plan | None = None
        self._pipeline: Pipeline | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._epoch = 0  # the epoch the next iteration yields
        self._busy = False
        self._pipeline_loop: asyncio.AbstractEventLoop | None = None

    # -- what an epoch holds -----------------------------------------------------------------
    def __len__(self) -> int:
        """Batches per epoch (for this rank and worker)."""
        mine = plans.share(self._indices, self.opts.rank, self.opts.world_size).size
        count = plans.batch_count(mine, self.opts.batch_size, self.opts.drop_last)
        worker, workers = self._worker
        return int((worker + 1) * count // workers - worker * count // workers)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration yields (it orders the shuffle)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration yield ``epoch`` (as ``DistributedSampler.set_epoch``)."""
        if epoch != self._epoch:
            self._epoch = int(epoch)
            self._drop_pipeline_later()

    @property
    def prefetched_bytes(self) -> int:
        """Bytes the pipeline holds now (0 when it is shut down)."""
        return self._pipeline.used if self._pipeline is not None else 0

    # -- setup -------------------------------------------------------------------------------
    async def _ensure_plan(self) -> plans.Plan:
        if self._pid != os.getpid():  # a forked child: nothing of the parent's loop is usable
            self._pid = os.getpid()
            self._pipeline, self._pool, self._plan, self._busy = None, None, None, False
            old = self._engine
            self._engine = await DatasetEngine.open(old.storage, old.commit_id, load_tensors=False)
        if self._plan is None:
            engine = self._engine
            keys = [engine.key_of(n) for n in self._names]
            await engine.load(keys, full=True)
            readers = [
                TensorReader(n, engine.loaded(k)) for n, k in zip(self._names, keys, strict=True)
            ]
            for r in readers:
                if not r.t.fetch.owners_known:
                    await r.t.fetch.load_owners()
            self._readers = readers
            primary = max(readers, key=lambda r: (r.fast, len(r.t.chunk_ids)))
            per_sample = max(1.0, sum(r.stored_per_sample for r in readers))
            buffer = self.opts.shuffle_buffer or max(
                self.opts.batch_size, int(self.opts.prefetch_bytes // 2 / per_sample)
            )
            self._plan = plans.Plan(
                self._indices, primary.chunk_ends, self.opts, buffer, *self._worker
            )
        return self._plan

    async def _start(self) -> Pipeline:
        plan = await self._ensure_plan()
        if self._pipeline is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self.opts.num_threads, thread_name_prefix="shoal-loader"
            )
            self._pipeline = Pipeline(
                self._readers,
                _planned(plan, self._epoch),
                self.opts.prefetch_bytes,
                self._pool,
                self._transform,
                self._return_index,
            )
            self._pipeline.start()
            self._pipeline_loop = asyncio.get_running_loop()
            if not _running:
                # Registered on first use, after the client pool's own exit hook, so that it
                # runs before it: pipelines stop before their connections close.
                atexit.unregister(_stop_all)
                atexit.register(_stop_all)
            _running.add(self)
        return self._pipeline

    # -- one step, and shutting down -----------------------------------------------------------
    async def _next(self) -> Any:
        pipeline = await self._start()
        item = await pipeline.next()
        if isinstance(item, EpochEnd):
            self._epoch = item.epoch + 1
        return item

    async def _next_ready(self) -> list[Any]:
        """:meth:`_next`, and the batches after it that are ready (see Pipeline.next_ready)."""
        pipeline = await self._start()
        items = await pipeline.next_ready(HANDOFF)
        if isinstance(items[-1], EpochEnd):
            self._epoch = items[-1].epoch + 1
        return items

    async def _stop(self) -> concurrent.futures.ThreadPoolExecutor | None:
        """Shut the pipeline down; returns the thread pool for the caller to join (or None)."""
        pipeline, pool = self._pipeline, self._pool
        self._pipeline, self._pool = None, None
        if pipeline is not None:
            await pipeline.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return pool

    def _drop_pipeline_later(self) -> None:
        """Stop the pipeline from anywhere (a finalizer, ``set_epoch``), on the loop it runs on."""
        loop = self._pipeline_loop
        if self._pipeline is None or loop is None or loop.is_closed() or self._pid != os.getpid():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(self._stop())
            _stopping.add(task)
            task.add_done_callback(_stopping.discard)
        else:
            future = asyncio.run_coroutine_threadsafe(self._stop(), loop)
            _stop_futures.add(future)
            future.add_done_callback(_stop_futures.discard)

    def __del__(self) -> None:
        if getattr(self, "_pipeline", None) is not None:
            self._drop_pipeline_later()

    async def aclose(self) -> None:
        """Stop prefetching and release the memory and threads the loader holds."""
        await self._stop()

    async def __aenter__(self) -> AsyncLoader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _enter(self) -> None:
        if self._busy:
            raise LoaderError(
                "this loader is already being iterated; finish or break that loop first, or "
                "make a second loader"
            )
        self._busy = True

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        self._enter()
        finished = False
        bar = _progress_bar(len(self), self._progress)
        try:
            while True:
                item = await self._next()
                if isinstance(item, EpochEnd):
                    finished = True
                    return
                if bar is not None:
                    bar.update(1)
                yield item
        finally:
            self._busy = False
            if bar is not None:
                bar.close()
            if not finished:
                await self._stop()


class Loader:
    """Batches of a dataset or view, as dicts of numpy arrays, for ``for`` loops."""

    def __init__(self, inner: AsyncLoader) -> None:
        self._a = inner

    def __len__(self) -> int:
        return len(self._a)

    @property
    def epoch(self) -> int:
        return self._a.epoch

    def set_epoch(self, epoch: int) -> None:
        self._a.set_epoch(epoch)

    @property
    def prefetched_bytes(self) -> int:
        return self._a.prefetched_bytes

    def close(self) -> None:
        """Stop prefetching and release the memory and threads the loader holds."""
        if sys.is_finalizing():
            # An iteration left suspended until the interpreter exits: the background loop's
            # thread is gone, so waiting for it would hang; the exit releases everything.
            return
        pool = _loop.run(self._a._stop())
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        a = self._a
        a._enter()
        finished = False
        bar = _progress_bar(len(a), a._progress)
        ready: collections.deque[Any] = collections.deque()
        try:
            while True:
                if not ready:  # one hop to the loop's thread for every batch ready
                    ready.extend(_loop.run(a._next_ready()))  # (warns inside a running loop)
                item = ready.popleft()
                if isinstance(item, EpochEnd):
                    finished = True
                    return
                if bar is not None:
                    bar.update(1)
                yield item
        finally:
            a._busy = False
            if bar is not None:
                bar.close()
            if not finished:
                self.close()


def open_loader(
    engine: DatasetEngine,
    indices: np.ndarray,
    *,
    batch_size: int = 1,
    shuffle: bool = False,
    seed: int | None = None,
    tensors: list[str] | str | None = None,
    transform: Transform | None = None,
    drop_last: bool = False,
    prefetch_bytes: int = plans.DEFAULT_PREFETCH_BYTES,
    num_threads: int | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool = False,
    shuffle_buffer: int | None = None,
    worker: tuple[int, int] = (0, 1),
    engine_pid: int | None = None,
    return_index: bool = False,
) -> AsyncLoader:
    """An :class:`AsyncLoader` with every argument checked (no I/O)."""
    opts = plans.check_options(
        batch_size,
        shuffle,
        seed,
        drop_last,
        prefetch_bytes,
        num_threads,
        rank,
        world_size,
        shuffle_buffer,
    )
    if transform is not None and not callable(transform):
        raise LoaderError(f"transform must be callable (one sample dict in), got {transform!r}")
    names = check_tensors(engine, tensors)
    return AsyncLoader(
        engine, names, indices, opts, transform, progress, worker, engine_pid, return_index
    )
