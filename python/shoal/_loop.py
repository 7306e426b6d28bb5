"""The one background event loop per process that runs shoal's async API for sync callers.

Sync calls (``shoal.load``, ``tensor.numpy()``, ...) submit the coroutine of their ``_async``
twin to this loop and wait for it. The loop lives in a daemon thread, is created lazily, and is
re-created when the process id changes: a forked DataLoader worker must never reuse the
parent's loop (its thread does not exist in the child) nor any session or pool bound to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import BlockingCallWarning

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid: int | None = None
_cpu_pool: concurrent.futures.ThreadPoolExecutor | None = None
_cpu_pool_pid: int | None = None


def _start() -> asyncio.AbstractEventLoop:
    global _loop, _thread, _pid
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=run, name="shoal-io", daemon=True)
    thread.start()
    ready.wait()
    _loop, _thread, _pid = loop, thread, os.getpid()
    return loop


def get_loop() -> asyncio.AbstractEventLoop:
    """The process's background loop, started on first use and after a fork."""
    loop = _loop
    if loop is not None and _pid == os.getpid() and not loop.is_closed():
        return loop
    with _lock:
        if _loop is not None and _pid == os.getpid() and not _loop.is_closed():
            return _loop
        return _start()


def background_loop() -> asyncio.AbstractEventLoop | None:
    """The background loop if it is already running in this process; never starts one (an
    async caller that only wants to know whether it is on shoal's loop must not create it)."""
    loop = _loop
    if loop is not None and _pid == os.getpid() and not loop.is_closed():
        return loop
    return None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the background loop and return its result (the sync façade)."""
    loop = get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(
            "a synchronous shoal call was made from inside shoal's own event loop; "
            "await the `_async` variant instead"
        )
    if running is not None:
        _warn_blocking(coro)
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _warn_blocking(coro: Coroutine[Any, Any, Any]) -> None:
    # A sync call from inside a running loop blocks that loop for a storage round trip. It is
    # a warning, not an error: notebooks run cells inside a loop, and a blocked notebook is
    # better than a broken one. Async applications should turn it into an error.
    twin = getattr(coro, "__qualname__", "") or "the `_async` twin"
    warnings.warn(
        f"a synchronous shoal call blocks the running event loop while it does I/O; in async "
        f"code await `{twin}()` instead (datasets opened with `await shoal.load_async(...)` "
        "offer only awaitable I/O)",
        BlockingCallWarning,
        stacklevel=4,
    )


def cpu_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Thread pool, sized to the cores, for native calls that release the GIL."""
    global _cpu_pool, _cpu_pool_pid
    if _cpu_pool is None or _cpu_pool_pid != os.getpid():
        with _lock:
            if _cpu_pool is None or _cpu_pool_pid != os.getpid():
                _cpu_pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=os.cpu_count() or 2, thread_name_prefix="shoal-cpu"
                )
                _cpu_pool_pid = os.getpid()
    return _cpu_pool


async def in_cpu_pool(fn: Any, *args: Any) -> Any:
    """Await ``fn(*args)`` on the CPU pool (for native functions that release the GIL)."""
    return await asyncio.get_running_loop().run_in_executor(cpu_pool(), fn, *args)
