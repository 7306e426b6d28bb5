"""Pooled network clients, bound to the event loop and the process that made them.

:class:`ClientCache` is the one cache every kind of client uses (aiobotocore clients, aiohttp
sessions); :func:`close_on_loop` closes an exit stack on the loop that owns it, from anywhere.
The documented entry point for providers is :mod:`shoal.storage._cloud`; this module sits below
auth, storage and the platform so all of them can use it (it imports nothing of shoal).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ClientCache", "Lease", "LeaseHold", "close_on_loop"]

# Cleanup tasks scheduled by finalizers, kept referenced until they finish.
_pending_closes: set[asyncio.Task[None]] = set()


def close_on_loop(loop: asyncio.AbstractEventLoop, stack: contextlib.AsyncExitStack) -> None:
    """Close ``stack`` on ``loop`` from anywhere (a finalizer, another loop), if it still runs."""
    if loop.is_closed() or not loop.is_running():
        return

    def schedule() -> None:
        task = loop.create_task(stack.aclose())
        _pending_closes.add(task)
        task.add_done_callback(_pending_closes.discard)

    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(schedule)


C = TypeVar("C")

#: Every cache, for the fork and exit hooks.
_caches: list[ClientCache[Any]] = []
_guard = threading.Lock()


class _Entry(Generic[C]):
    """One pooled client on one loop."""

    __slots__ = ("client", "keep_idle", "key", "last_used", "loop", "pid", "stack", "users")

    def __init__(
        self,
        key: Hashable,
        client: C,
        stack: contextlib.AsyncExitStack,
        loop: asyncio.AbstractEventLoop,
        keep_idle: bool = True,
    ) -> None:
        self.key = key
        self.client = client
        self.stack: contextlib.AsyncExitStack | None = stack
        self.loop = loop
        self.keep_idle = keep_idle
        self.pid = os.getpid()
        self.users = 0
        self.last_used = time.monotonic()

    @property
    def closed(self) -> bool:
        return self.stack is None


class Lease(Generic[C]):
    """A provider's hold on a pooled client. :meth:`release` is idempotent and thread-safe."""

    __slots__ = ("__weakref__", "_cache", "_entry")

    def __init__(self, cache: ClientCache[C], entry: _Entry[C]) -> None:
        self._cache = cache
        self._entry: _Entry[C] | None = entry

    @property
    def client(self) -> C:
        entry = self._entry
        if entry is None:
            raise RuntimeError("the client lease was released")
        return entry.client

    def valid(self) -> bool:
        """Whether the client may be used here: same process, running on its loop, open."""
        entry = self._entry
        if entry is None or entry.closed or entry.pid != os.getpid():
            return False
        try:
            return asyncio.get_running_loop() is entry.loop
        except RuntimeError:
            return False

    def release(self) -> None:
        """Give the client back (from a finalizer, any thread): evicted clients are closed on
        their loop, soon."""
        entry, self._entry = self._entry, None
        if entry is not None:
            for e in self._cache._release(entry):
                stack, e.stack = e.stack, None
                if stack is not None:
                    close_on_loop(e.loop, stack)

    def drop(self) -> None:
        """Let go of a lease that is no longer valid here: released if this process made it
        (another loop), left alone if it was inherited through a fork (it is the parent's)."""
        entry = self._entry
        if entry is not None and entry.pid == os.getpid():
            self.release()

    async def arelease(self) -> None:
        """Give the client back; an evicted client of the running loop is closed before this
        returns (a provider's ``close()``)."""
        entry, self._entry = self._entry, None
        if entry is None:
            return
        evicted = self._cache._release(entry)
        here = [e for e in evicted if e.loop is asyncio.get_running_loop()]
        for e in evicted:
            if e not in here:
                stack, e.stack = e.stack, None
                if stack is not None:
                    close_on_loop(e.loop, stack)
        await _close_all(here)

    async def discard(self) -> None:
        """Release and close the client now, whoever else uses it (it is broken)."""
        entry, self._entry = self._entry, None
        if entry is not None:
            await self._cache._discard(entry)

    aclose = discard  # closes like the exit stack a provider used to own


class LeaseHold(Generic[C]):
    """A provider's hold on a pooled client: given back when the provider closes or, for a
    provider dropped without ``close()`` (a dataset going out of scope), when it is
    collected (``on_collect(*args)`` runs then; it must not reference the provider)."""

    __slots__ = ("_finalizer", "lease")

    def __init__(self) -> None:
        self.lease: Lease[C] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def adopt(
        self, owner: object, lease: Lease[C], on_collect: Callable[..., None], *args: Any
    ) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self.lease = lease
        self._finalizer = weakref.finalize(owner, on_collect, *args)
        self._finalizer.atexit = False

    async def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        lease, self.lease = self.lease, None
        if lease is not None:
            await lease.arelease()


class _KeyLock:
    """The lock that lets one opener make the client of a key, and how many wait on it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class _LoopState(Generic[C]):
    """The cache's clients on one loop, and the sentinel that closes them with the loop."""

    __slots__ = ("entries", "locks", "loop", "sentinel")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.entries: dict[tuple[Hashable, int], _Entry[C]] = {}
        # one maker per key: concurrent opens of one location share one client
        self.locks: dict[Hashable, _KeyLock] = {}
        self.sentinel: AsyncIterator[None] | None = None


class ClientCache(Generic[C]):
    """Pooled clients keyed by (key, loop, process). See the module docstring."""

    def __init__(self, name: str, *, max_idle: int = 4) -> None:
        self.name = name
        self.max_idle = max_idle
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState[C]] = {}
        # what a forked child inherited: kept referenced (so nothing closes it on collection)
        # and never used
        self._inherited: list[_LoopState[C]] = []
        with _guard:
            _caches.append(self)

    def __repr__(self) -> str:
        n = sum(len(s.entries) for s in self._loops.values())
        return f"ClientCache({self.name!r}, {n} clients on {len(self._loops)} loops)"

    def __len__(self) -> int:
        return sum(len(s.entries) for s in self._loops.values())

    async def acquire(
        self,
        key: Hashable,
        make: Callable[[contextlib.AsyncExitStack], Awaitable[C]],
        *,
        keep_idle: bool = True,
    ) -> Lease[C]:
        """The client for ``key`` on the running loop, made with ``make(stack)`` if there is
        none (``make`` enters what must be closed into ``stack``). ``keep_idle=False``: close
        the client when its last lease is released instead of keeping it for a later open (a
        key only its present users can have: an idle client would never be used again, and
        would keep what it holds alive)."""
        loop = asyncio.get_running_loop()
        pid = os.getpid()
        state = self._loops.get(loop)
        entry = state.entries.get((key, pid)) if state is not None else None
        if entry is not None and not entry.closed:
            return self._lease(entry)
        state = await self._state(loop)
        slot = state.locks.setdefault(key, _KeyLock())
        slot.users += 1
        try:
            async with slot.lock:
                entry = state.entries.get((key, pid))
                if entry is None or entry.closed:
                    stack = contextlib.AsyncExitStack()
                    try:
                        client = await make(stack)
                    except BaseException:
                        await stack.aclose()
                        raise
                    entry = _Entry(key, client, stack, loop, keep_idle)
                    state.entries[(key, pid)] = entry
        finally:
            # Gone with the last opener waiting on it: keys hold credentials objects, and a
            # lock kept per key ever opened would keep every one of them alive.
            slot.users -= 1
            if not slot.users and state.locks.get(key) is slot:
                del state.locks[key]
        return self._lease(entry)

    def _lease(self, entry: _Entry[C]) -> Lease[C]:
        with _guard:
            entry.users += 1
            entry.last_used = time.monotonic()
        return Lease(self, entry)

    async def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopState[C]:
        known = self._loops.get(loop)
        if known is not None:
            return known
        self._forget_closed_loops()
        state: _LoopState[C] = _LoopState(loop)
        self._loops[loop] = state  # before any await: concurrent callers share it
        # Closed by loop.shutdown_asyncgens(): the one hook asyncio gives when a loop ends.
        sentinel = self._watch(state)
        await sentinel.__anext__()
        state.sentinel = sentinel
        return state

    async def _watch(self, state: _LoopState[C]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self._loops.get(state.loop) is state:
                del self._loops[state.loop]
            await _close_all(list(state.entries.values()))
            state.entries.clear()

    def _forget_closed_loops(self) -> None:
        """Drop the states of loops closed without shutting down their async generators;
        their clients cannot be closed any more (their loop is gone)."""
        for loop in [lp for lp in self._loops if lp.is_closed()]:
            self._inherited.append(self._loops.pop(loop))  # referenced: no noise on collection

    def _release(self, entry: _Entry[C]) -> list[_Entry[C]]:
        """Give ``entry`` back; the idle entries now evicted (beyond ``max_idle``), taken out of
        the cache for the caller to close."""
        with _guard:
            entry.users -= 1
            entry.last_used = time.monotonic()
            if entry.pid != os.getpid():
                return []
            state = self._loops.get(entry.loop)
            if state is None:
                return []
            idle = sorted(
                (e for e in state.entries.values() if e.users <= 0 and not e.closed),
                key=lambda e: e.last_used,
            )
            kept = [e for e in idle if e.keep_idle]
            evict = [e for e in idle if not e.keep_idle] + kept[: max(0, len(kept) - self.max_idle)]
            for e in evict:
                state.entries.pop((e.key, e.pid), None)
        return evict

    async def _discard(self, entry: _Entry[C]) -> None:
        with _guard:
            entry.users -= 1
            state = self._loops.get(entry.loop)
            if state is not None and state.entries.get((entry.key, entry.pid)) is entry:
                del state.entries[(entry.key, entry.pid)]
        stack, entry.stack = entry.stack, None
        if stack is None:
            return
        if entry.pid == os.getpid() and entry.loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await stack.aclose()
        elif entry.pid == os.getpid():
            close_on_loop(entry.loop, stack)

    async def aclose(self) -> None:
        """Close every client of the running loop now (tests, benchmarks, shutdown)."""
        loop = asyncio.get_running_loop()
        state = self._loops.pop(loop, None)
        if state is not None:
            entries = list(state.entries.values())
            state.entries.clear()
            await _close_all(entries)

    # -- process events ------------------------------------------------------------------------
    def _after_fork(self) -> None:
        self._inherited.extend(self._loops.values())
        self._loops = {}

    def _at_exit(self) -> list[Any]:
        """Close clients on loops still running in other threads; the futures to wait for."""
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        waits = []
        for loop, state in list(self._loops.items()):
            if loop is current or loop.is_closed() or not loop.is_running():
                continue
            for entry in list(state.entries.values()):
                stack, entry.stack = entry.stack, None
                if stack is not None:
                    with contextlib.suppress(RuntimeError):
                        waits.append(asyncio.run_coroutine_threadsafe(stack.aclose(), loop))
            state.entries.clear()
        return waits


async def _close_all(entries: list[_Entry[Any]]) -> None:
    # Only this process's entries are in a live state: what a fork inherited was set aside.
    stacks = []
    for entry in entries:
        stack, entry.stack = entry.stack, None
        if stack is not None:
            stacks.append(stack.aclose())
    for result in await asyncio.gather(*stacks, return_exceptions=True):
        if isinstance(result, asyncio.CancelledError):
            raise result


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # it may have been held by a thread that does not exist here
    for cache in _caches:
        cache._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_at_exit() -> None:
    """Clients on a loop still running in another thread (shoal's background loop): close
    them there, briefly, so aiohttp does not complain about unclosed sessions at shutdown."""
    waits = [w for cache in list(_caches) for w in cache._at_exit()]
    for fut in waits:
        with contextlib.suppress(Exception):
            fut.result(timeout=2)
