"""Recycled memory for large buffers: response bodies and assembled batches.

Fresh memory costs the kernel a page fault and the zeroing of every page before anything is
written there: measured on the loader, clearing pages was a third of its CPU, half of it for
chunk bodies the socket reads into, half for the batches assembled from them. A buffer of at
least :data:`MIN_SIZE` bytes is therefore taken from a small process-wide set of arrays that
are reused once nothing refers to them any more.

A handed-out buffer is a numpy view of a pooled array, and every view of a view, every
memoryview and every array made from one (``np.frombuffer``, ``reshape``, slices) refers to
that pooled array, as does anything reading it through the buffer protocol. So an array the
pool alone refers to (its reference count says so) cannot be read by anyone, and is handed
out again. Arrays beyond the pool's bound are ordinary allocations, freed as usual.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np

from .._env import env_int

MIN_SIZE = 1 << 20  # smaller buffers are cheap to allocate
_STEP = 1 << 20  # capacities are whole MiB, so one array fits buffers of similar sizes
# References to a pooled array nobody else holds, as counted in take(): the pool's list,
# the loop variable, getrefcount's argument.
_ALONE = 3


class Recycler:
    """At most ``max_bytes`` of pooled arrays, in use or free (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._arrays: list[np.ndarray] = []
        self._bytes = 0
        self._lock = threading.Lock()
        self.reused = 0  # for tests and benchmarks

    def take(self, size: int) -> np.ndarray:
        """An uninitialised writable uint8 array of ``size`` bytes."""
        if size < MIN_SIZE or self.max_bytes <= 0:
            return np.empty(size, np.uint8)
        with self._lock:
            best: np.ndarray | None = None
            for array in self._arrays:  # the smallest free one that fits, up to ~2x the size
                if (
                    size <= array.size <= 2 * size + _STEP
                    and sys.getrefcount(array) == _ALONE
                    and (best is None or array.size < best.size)
                ):
                    best = array
            if best is not None:
                self.reused += 1
                return best[:size]
            capacity = -(-size // _STEP) * _STEP
            if self._bytes + capacity > self.max_bytes:
                self._drop_free(self._bytes + capacity - self.max_bytes)
            array = np.empty(capacity, np.uint8)
            if self._bytes + capacity <= self.max_bytes:
                self._arrays.append(array)
                self._bytes += capacity
            return array[:size]

    def _drop_free(self, wanted: int) -> None:
        """Let free arrays go (oldest first) until ``wanted`` bytes are released."""
        keep: list[np.ndarray] = []
        for array in self._arrays:
            if wanted > 0 and sys.getrefcount(array) == _ALONE:
                wanted -= array.size
                self._bytes -= array.size
            else:
                keep.append(array)
        self._arrays = keep

    def clear(self) -> None:
        """Forget every array (those in use are freed when their users let go)."""
        with self._lock:
            self._arrays = []
            self._bytes = 0

    @property
    def pooled_bytes(self) -> int:
        return self._bytes

    def _after_fork(self) -> None:
        # A thread of the parent may have held the lock when it forked: the child starts
        # with a lock of its own (and the arrays it inherited, which nothing else shares).
        self._lock = threading.Lock()


def refcounts_behave() -> bool:
    """Whether this interpreter's reference counts tell a free pooled array from one in use
    the way :meth:`Recycler.take` reads them. ``_ALONE`` is what CPython 3.11 reports; an
    interpreter that skips counting borrowed references (as newer CPythons may) would report
    less and let a buffer be handed out while it is still read. Checked once, by taking
    buffers while one is held: where the counts differ, nothing is pooled."""
    probe = Recycler(4 * MIN_SIZE)
    held = probe.take(MIN_SIZE)
    other = probe.take(MIN_SIZE)
    if np.shares_memory(held, other):  # handed out while in use: never pool here
        return False
    del held, other
    probe.take(MIN_SIZE)
    return probe.reused == 1  # a free one was found again


#: The process's pool (``SHOAL_RECYCLE_MB``: its bound in MiB; 0 turns it off). Empty on an
#: interpreter whose reference counts the pool cannot rely on.
BUFFERS = Recycler(env_int("SHOAL_RECYCLE_MB", 192, min=0) * (1 << 20) if refcounts_behave() else 0)
os.register_at_fork(after_in_child=BUFFERS._after_fork)
