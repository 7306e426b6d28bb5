"""Loading the next chunk of a scan before it is asked for.

A contiguous range read suggests a scan, so the chunk after the last one read is loaded in
the background and the next batch finds it decoded. The caller says which loop the load runs
on: the loop it is awaited on, or the background loop for the sync fast path; nothing here
guesses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable

import numpy as np


class Prefetcher:
    def __init__(self) -> None:
        self._pending: set[int] = set()  # chunk rows being loaded
        self._tasks: set[asyncio.Future[None] | concurrent.futures.Future[None]] = set()

    def after_read(
        self,
        idx: np.ndarray,
        rows: np.ndarray,
        n_rows: int,
        load: Callable[[int], Awaitable[object]],
        loop: asyncio.AbstractEventLoop,
        same_thread: bool,
    ) -> None:
        """After reading ``idx`` (in chunk ``rows``), start loading the next chunk on ``loop``;
        ``same_thread``: the caller runs on ``loop`` (else it is another thread's loop)."""
        nxt = int(rows.max()) + 1
        if (
            idx.size < 2
            or int(idx[-1]) - int(idx[0]) + 1 != idx.size
            or nxt >= n_rows
            or nxt in self._pending
        ):
            return
        self._pending.add(nxt)

        async def run() -> None:
            try:
                await load(nxt)
            except Exception:  # a prefetch is a hint; the real read reports any error
                pass
            finally:
                self._pending.discard(nxt)

        # Keep a reference until it finishes: the loop holds tasks only weakly.
        task: asyncio.Future[None] | concurrent.futures.Future[None]
        if same_thread:
            task = loop.create_task(run())
        else:
            task = asyncio.run_coroutine_threadsafe(run(), loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
