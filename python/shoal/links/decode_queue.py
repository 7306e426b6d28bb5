"""Decoding linked files on the CPU pool as they arrive, with no future or loop wake-up per file.

A batch of linked images is fetched concurrently and each file is decoded as soon as it is
in, so decoding overlaps the fetches still in flight. Handing each file to the pool through
``run_in_executor`` costs the event loop (the thread that also drives every fetch) a future,
a pool submission, and a wake-up through its self-pipe when the decode is done: a tenth of a
millisecond per file, on the thread the fetches wait for. Here the loop appends the file to a
queue, and at most one drainer per core (a task on the CPU pool, started only when fewer are
running) decodes until the queue is empty, then gives its pool thread back. The loop hears
once, when the last file of the batch is decoded.

The native decoders release the GIL, so the drainers decode on every core while the loop
goes on fetching.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import threading
from collections.abc import Callable
from typing import Any


class DecodeQueue:
    """``fn(*args)`` for every item submitted, on at most ``workers`` threads of ``pool``;
    :meth:`results` waits for them all. A failing item's exception takes its place in the
    results: the caller decides which one to raise."""

    def __init__(
        self,
        pool: concurrent.futures.Executor,
        fn: Callable[..., Any],
        size: int,
        workers: int | None = None,
    ) -> None:
        self._pool = pool
        self._fn = fn
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._items: collections.deque[tuple[int, tuple[Any, ...]]] = collections.deque()
        self._running = 0  # drainers on the pool
        self._pending = 0  # submitted, not decoded yet
        self._done: asyncio.Future[None] | None = None
        self.out: list[Any] = [None] * size

    def submit(self, pos: int, *args: Any) -> None:
        """Decode ``args`` into ``out[pos]`` (called on the event loop)."""
        with self._lock:
            self._items.append((pos, args))
            self._pending += 1
            start = self._running < self._workers
            if start:
                self._running += 1
        if start:
            self._pool.submit(self._drain)

    async def results(self) -> list[Any]:
        """Every submitted item's result (or exception), once all are decoded."""
        with self._lock:
            if self._pending == 0:
                return self.out
            self._done = self._loop.create_future()
        try:
            await self._done
        except asyncio.CancelledError:
            self.cancel()
            raise
        return self.out

    def cancel(self) -> None:
        """Drop what is not being decoded yet (the read was cancelled)."""
        with self._lock:
            self._pending -= len(self._items)
            self._items.clear()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._items:
                    self._running -= 1
                    return
                pos, args = self._items.popleft()
            try:
                self.out[pos] = self._fn(*args)
            except Exception as exc:  # kept in its place; the caller raises the first
                self.out[pos] = exc
            with self._lock:
                self._pending -= 1
                done = self._done if self._pending == 0 else None
            if done is not None:
                self._loop.call_soon_threadsafe(_resolve, done)


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
