"""Recycled buffers: memory is handed out again only once nothing can read what it held (a
memoryview, an array made from it, a reshaped view, a slice of any of them), and the pool
keeps within its bound."""

from __future__ import annotations

import numpy as np

from shoal.storage._buffers import BUFFERS, MIN_SIZE, Recycler, refcounts_behave


def filled(pool: Recycler, size: int, value: int) -> np.ndarray:
    arr = pool.take(size)
    arr[:] = value
    return arr


def test_memory_is_reused_only_once_nothing_refers_to_it() -> None:
    pool = Recycler(64 * MIN_SIZE)
    first = filled(pool, 3 * MIN_SIZE, 1)
    first.flags.writeable = False
    view = memoryview(first)  # type: ignore[arg-type]
    readers = [view[10:20], np.frombuffer(view, np.uint8)[5:], first.reshape(3, -1)[1:]]
    del first, view
    second = filled(pool, 3 * MIN_SIZE, 2)  # the first is still read: fresh memory
    assert pool.reused == 0
    assert all(bytes(memoryview(r).cast("B")[:3]) == b"\x01\x01\x01" for r in readers)
    del readers
    third = filled(pool, 3 * MIN_SIZE - 100, 3)  # a similar size: the first's memory
    assert pool.reused == 1 and third.size == 3 * MIN_SIZE - 100 and third.flags.writeable
    assert int(second[0]) == 2
    del third
    assert pool.take(MIN_SIZE * 3).size == 3 * MIN_SIZE and pool.reused == 2


def test_this_interpreter_pools() -> None:
    """The import-time check passes here, so the tests above exercise the pool CI ships."""
    assert refcounts_behave() and BUFFERS.max_bytes > 0


def test_small_buffers_and_a_disabled_pool_allocate() -> None:
    pool = Recycler(64 * MIN_SIZE)
    assert pool.take(1000).size == 1000 and pool.pooled_bytes == 0
    off = Recycler(0)
    assert off.take(2 * MIN_SIZE).size == 2 * MIN_SIZE and off.pooled_bytes == 0


def test_the_pool_stays_within_its_bound() -> None:
    pool = Recycler(5 * MIN_SIZE)
    held = [pool.take(2 * MIN_SIZE) for _ in range(4)]  # two pooled, two ordinary
    assert pool.pooled_bytes == 4 * MIN_SIZE
    del held
    big = pool.take(4 * MIN_SIZE)  # too big for the free ones: they make room for it
    assert big.size == 4 * MIN_SIZE and pool.reused == 0 and pool.pooled_bytes <= 5 * MIN_SIZE
    small = pool.take(MIN_SIZE)  # much smaller than what is free: not given a big array
    assert small.base is None or small.base.size < 4 * MIN_SIZE
    pool.clear()
    assert pool.pooled_bytes == 0


def test_a_forked_child_takes_buffers_while_a_parent_thread_held_the_lock() -> None:
    """A DataLoader worker forked while one of the parent's threads was inside the pool."""
    import os
    import signal
    import time

    from shoal.storage._buffers import BUFFERS

    with BUFFERS._lock:  # held across the fork, as a loader thread might
        pid = os.fork()
        if pid == 0:  # the child: must not wait for a lock nobody will release
            code = 0 if BUFFERS.take(2 * MIN_SIZE).size == 2 * MIN_SIZE else 1
            os._exit(code)
    deadline = time.monotonic() + 20
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline:
        time.sleep(0.02)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # hung on the inherited lock
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done and os.waitstatus_to_exitcode(status) == 0
