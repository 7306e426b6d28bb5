"""The prefetching pipeline: batches planned ahead, their chunks fetched concurrently within a
memory bound, each batch assembled off the GIL, handed out in order.

One producer task walks the planned batches (epoch after epoch: prefetch carries across an
epoch's end) and admits a batch when the bytes it adds fit in ``prefetch_bytes``: the chunks
it needs that are not held yet (fetched whole, many in flight) plus its assembled output.
Each admitted batch is a task that awaits its chunks, then assembles (and transforms) on the
loader's threads. A chunk no admitted batch needs any more stays (idle) until its room is
wanted, so a small chunk that many batches share is fetched once, unless no batch of the
epoch still to come needs it: then it is dropped at once (its buffer goes back to the
recycled pool, see :mod:`..storage._buffers`, rather than fresh pages being faulted in for
the next chunk while it sits idle). An output's bytes are released when the consumer takes
it. When no batch is outstanding, a batch is admitted whatever its size, so a batch bigger
than the bound still makes progress.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.chunks import DecodedChunk
from . import transform as transforms
from .reader import Need, TensorReader

MAX_BATCHES_AHEAD = 64
# Chunk GETs in flight at once. More does not go faster (a store serves a few dozen streams
# at full speed), and with fewer the chunks of the next batch, fetched first (the semaphore
# is first come, first served), arrive sooner. The pipeline starts with only the fetches of
# the first batch, and opens the other slots once all of them are in: the first batch is
# what a training loop waits for, and any later fetch started before it would share the
# bandwidth, and the CPU reading the sockets, with it (on a loaded machine a small chunk of
# the first batch coming in early used to open slots whose fetches then delayed its big
# chunks by hundreds of milliseconds).
FETCHES_IN_FLIGHT = int(os.environ.get("SHOAL_LOADER_FETCHES", "8"))


@dataclass
class EpochEnd:
    epoch: int


@dataclass
class EpochPlan:
    """Every batch of the epoch whose batches follow (they still follow one by one): tells
    the pipeline the last batch that needs each chunk."""

    batches: list[np.ndarray]


@dataclass
class _Job:
    idx: np.ndarray
    needs: list[Need]
    out_bytes: int
    task: asyncio.Task[Any] | None = None


@dataclass
class _Held:
    reader: TensorReader
    which: int  # the reader's position
    row: int  # the chunk's row in the reader's tensor
    task: asyncio.Task[DecodedChunk]
    nbytes: int
    refs: int = 0
    done: bool = field(default=False)


class Pipeline:
    """Runs on the loop that creates it (:meth:`start`); every method is called there."""

    def __init__(
        self,
        readers: list[TensorReader],
        batches: Iterator[np.ndarray | EpochPlan | EpochEnd],
        budget: int,
        pool: concurrent.futures.ThreadPoolExecutor,
        transform: transforms.Transform | None,
        return_index: bool = False,
    ) -> None:
        self._readers = readers
        self._return_index = return_index
        self._batches = batches
        self._budget = budget
        self._pool = pool
        self._transform = transform
        self._ready: collections.deque[_Job | EpochEnd] = collections.deque()
        self._held: dict[str, _Held] = {}
        # Held chunks no admitted batch needs any more, oldest first: kept while the bound
        # allows (a small chunk many batches share, labels say, is not fetched per batch).
        self._idle: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._outstanding = 0  # batches admitted and not taken by the consumer yet
        self._used = 0
        self._wake_producer = asyncio.Event()
        self._wake_consumer = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        # Fetches of the first batch take slots of their own; the others wait until those
        # are all in (a slot a first fetch gives back must not go to a later one).
        self._first_slots = asyncio.Semaphore(max(1, FETCHES_IN_FLIGHT))
        self._slots = asyncio.Semaphore(0)
        self._slots_to_open = max(1, FETCHES_IN_FLIGHT)
        self._first_admitted = False
        self._first_keys: set[str] = set()  # the first batch's chunks not fetched yet
        # This epoch: the position of the last batch admitted, and per reader (when known,
        # computed on a loader thread) the last position that needs each chunk row.
        self._position = -1
        self._epochs = 0
        self._last_use: list[np.ndarray | None] | None = None
        self.peak_used = 0

    @property
    def used(self) -> int:
        """Bytes held now: chunks fetched or in flight, and assembled batches not taken."""
        return self._used

    def start(self) -> None:
        self._producer = asyncio.get_running_loop().create_task(self._produce())
        # A producer that fails must wake a consumer waiting for the next batch.
        self._producer.add_done_callback(lambda _: self._wake_consumer.set())

    # -- consumer ----------------------------------------------------------------------------
    async def next(self) -> dict[str, Any] | EpochEnd:
        """The next batch, or the end of an epoch."""
        while not self._ready:
            producer = self._producer
            if producer is not None and producer.done():
                producer.result()  # raises what stopped it
                raise RuntimeError("the loader's plan ended")  # planned batches never end
            self._wake_consumer.clear()
            await self._wake_consumer.wait()
        item = self._ready.popleft()
        self._wake_producer.set()
        if isinstance(item, EpochEnd):
            return item
        assert item.task is not None
        try:
            out: dict[str, Any] = await item.task
        finally:
            self._outstanding -= 1
            self._release(item.out_bytes)
        return out

    async def next_ready(self, limit: int) -> list[dict[str, Any] | EpochEnd]:
        """The next batch (waiting for it), then those after it that are already assembled,
        up to ``limit`` batches and an epoch's end: a thread taking batches from another
        thread's loop pays one hop for several. A batch whose assembly failed is left for
        the next call, so the batches before it are handed out first."""
        out = [await self.next()]
        room = self._budget // 8  # what the caller holds outside the bound
        while len(out) < limit and not isinstance(out[-1], EpochEnd) and self._ready:
            head = self._ready[0]
            if isinstance(head, _Job):
                task = head.task
                if task is None or not task.done() or task.cancelled() or task.exception():
                    break
                room -= head.out_bytes
                if room < 0:
                    break
            out.append(await self.next())  # ready: returns without waiting
        return out

    async def close(self) -> None:
        """Cancel every task and drop every chunk (after an error, a break, or at the end)."""
        tasks: list[asyncio.Task[Any]] = []
        if self._producer is not None:
            tasks.append(self._producer)
        tasks.extend(j.task for j in self._ready if isinstance(j, _Job) and j.task is not None)
        tasks.extend(h.task for h in self._held.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ready.clear()
        self._held.clear()
        self._idle.clear()
        self._outstanding = 0
        self._used = 0

    # -- producer ----------------------------------------------------------------------------
    def _release(self, nbytes: int) -> None:
        self._used -= nbytes
        self._wake_producer.set()

    def _add(self, nbytes: int) -> None:
        self._used += nbytes
        self.peak_used = max(self.peak_used, self._used)

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        for item in self._batches:
            if isinstance(item, EpochPlan):
                self._start_epoch(item.batches)
                continue
            if isinstance(item, EpochEnd):
                # (an empty epoch is only ends: they wait for room like batches do)
                while len(self._ready) >= MAX_BATCHES_AHEAD:
                    self._wake_producer.clear()
                    await self._wake_producer.wait()
                self._ready.append(item)
                self._wake_consumer.set()
                continue
            needs = [r.need(item) for r in self._readers]
            out_bytes = int(sum(r.sample_bytes for r in self._readers) * item.size)
            while True:
                # Chunks still held are shared, not added (recomputed after each wait: a
                # chunk may have been dropped meanwhile).
                new = {
                    key: (reader, est)
                    for reader, need in zip(self._readers, needs, strict=True)
                    for key, est in need.estimates.items()
                    if key not in self._held
                }
                want = sum(est for _, est in new.values()) + out_bytes
                # With no batch outstanding, admit whatever the size: progress first.
                fits = self._outstanding == 0 or self._used + want <= self._budget
                if fits and len(self._ready) < MAX_BATCHES_AHEAD:
                    break
                if not fits and self._evict_idle(needs):
                    continue
                self._wake_producer.clear()
                await self._wake_producer.wait()
            if not self._first_admitted:
                self._first_admitted = True
                self._first_keys = set(new)
                if not new:  # nothing to wait for
                    self._open_slots(self._slots_to_open)
            for which, (reader, need) in enumerate(zip(self._readers, needs, strict=True)):
                for row, key in need.keys.items():
                    if key not in new:
                        continue
                    est = need.estimates[key]
                    task = loop.create_task(self._fetch(key, reader))
                    # Its error reaches the consumer through the batch that awaits it; marked
                    # as seen here so a pipeline dropped without close() logs nothing at exit.
                    task.add_done_callback(_seen)
                    self._held[key] = _Held(reader, which, row, task, est)
                    self._add(est)
            for need in needs:
                for key in need.keys.values():
                    self._held[key].refs += 1
                    self._idle.pop(key, None)
            job = _Job(item, needs, out_bytes)
            self._position += 1
            self._outstanding += 1
            self._add(out_bytes)
            job.task = loop.create_task(self._build(job))
            self._ready.append(job)
            self._wake_consumer.set()
            if new:
                # Let the fetches just created send their requests before planning goes on:
                # up to MAX_BATCHES_AHEAD batches are planned without a wait otherwise, tens
                # of milliseconds before the first batch's GETs even start.
                await asyncio.sleep(0)

    def _open_slots(self, count: int) -> None:
        """Allow ``count`` more fetches in flight for good (releases without acquires)."""
        for _ in range(min(count, self._slots_to_open)):
            self._slots_to_open -= 1
            self._slots.release()

    async def _fetch(self, key: str, reader: TensorReader) -> DecodedChunk:
        try:
            async with self._first_slots if key in self._first_keys else self._slots:
                chunk = await reader.fetch(key)
        finally:
            # The first batch's chunks are in (or one failed, which that batch reports):
            # every other slot opens.
            first = self._first_keys
            if key in first:
                first.discard(key)
                if not first:
                    self._open_slots(self._slots_to_open)
        held = self._held.get(key)
        if held is not None and not held.done:
            held.done = True
            self._used += chunk.nbytes - held.nbytes  # the estimate becomes the real size
            held.nbytes = chunk.nbytes
            reader.learn(chunk)
            self._wake_producer.set()
        return chunk

    async def _build(self, job: _Job) -> dict[str, Any]:
        try:
            through_engine: dict[int, Any] = {}
            for i, (reader, need) in enumerate(zip(self._readers, job.needs, strict=True)):
                if need.fallback:
                    through_engine[i] = await reader.read_through_engine(job.idx)
            chunks = {
                key: await self._held[key].task for need in job.needs for key in need.keys.values()
            }
            loop = asyncio.get_running_loop()
            batch: dict[str, Any] = await loop.run_in_executor(
                self._pool, self._assemble, job, chunks, through_engine
            )
            return batch
        finally:
            self._unref(job)

    def _unref(self, job: _Job) -> None:
        for need in job.needs:
            for key in need.keys.values():
                held = self._held.get(key)
                if held is None:
                    continue
                held.refs -= 1
                if held.refs <= 0:
                    if not self._drop_if_unneeded(key, held):
                        self._idle[key] = None
                    self._wake_producer.set()  # it may be evicted to make room now

    def _start_epoch(self, batches: list[np.ndarray]) -> None:
        """Batches are about to be admitted from position 0 again; which chunk each still
        needs is worked out on a loader thread (a pass over the epoch's indices) while the
        first ones are fetched. Until it is known, chunks no batch needs stay idle."""
        self._position = -1
        self._last_use = None
        self._epochs += 1
        epoch = self._epochs
        readers = self._readers
        if not batches or not any(r.fast for r in readers):
            return  # nothing to fetch (and no thread started for it)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool, lambda: [r.last_use(batches) for r in readers])

        def known(done: asyncio.Future[list[np.ndarray | None]]) -> None:
            if done.cancelled() or done.exception() is not None or epoch != self._epochs:
                return
            self._last_use = done.result()
            for key in list(self._idle):
                if self._drop_if_unneeded(key, self._held[key]):
                    del self._idle[key]

        work.add_done_callback(known)

    def _drop_if_unneeded(self, key: str, held: _Held) -> bool:
        """Drop a fetched chunk that no admitted batch holds and none to come this epoch
        needs; False if it may be needed (or that is not known yet)."""
        last_use = self._last_use
        if last_use is None or held.refs > 0 or not held.done:
            return False
        last = last_use[held.which]
        if last is None or last[held.row] > self._position:
            return False
        del self._held[key]
        self._release(held.nbytes)
        return True

    def _evict_idle(self, needs: list[Need]) -> bool:
        """Drop the oldest idle chunk the next batch does not need; False if there is none."""
        wanted = {key for need in needs for key in need.keys.values()}
        for key in self._idle:
            if key not in wanted:
                del self._idle[key]
                held = self._held.pop(key)
                self._release(held.nbytes)
                return True
        return False

    def _assemble(
        self, job: _Job, chunks: dict[str, DecodedChunk], through_engine: dict[int, Any]
    ) -> Any:
        n = job.idx.size
        batch: dict[str, Any] = {}
        for i, (reader, need) in enumerate(zip(self._readers, job.needs, strict=True)):
            if i in through_engine:
                batch[reader.name] = through_engine[i]
            else:
                batch[reader.name] = reader.assemble(need, chunks, n)
        if self._return_index:  # deeplake's "index": each sample's index, as array([i])
            batch["index"] = job.idx.reshape(-1, 1).astype(np.int64)
        if self._transform is not None:
            return transforms.apply(self._transform, batch, job.idx)
        return batch


def _seen(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
