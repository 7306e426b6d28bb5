"""The write lock of a branch head: deeplake's ``dataset_lock.lock``, taken and honoured.

deeplake 3.9.52 (``core/lock.py``) keeps one lock object per branch head: ``dataset_lock.lock``
at the root for the first commit, ``versions/<head>/dataset_lock.lock`` otherwise. Its 18
bytes are the writer's node id (``uuid.getnode()``, 6 bytes little-endian), the expiry time
(``time.time() + 300`` as a native float64) and the writer's process id (4 bytes
little-endian). A lock whose node and pid differ from ours and whose expiry is in the future
belongs to another writer. deeplake takes it when a dataset opens for writing at a head (on
local, S3, GCS and Azure storage, not in memory), and an opener that finds it taken falls back
to read-only with a warning.

shoal takes the lock at its first write to a head (opening to read leaves nothing behind, so
readers never lock deeplake out), keeps it until the dataset is closed, garbage-collected or
the process ends, and renews it on a write when :data:`RENEW_AFTER` of its validity has passed
(two minutes of five, deeplake's interval): between writes nothing runs in the background. A writer that finds the lock taken raises
:class:`DatasetLockedError` naming the holder and the lock's age, or waits for it when given a
``lock_timeout``. Two improvements on deeplake: a lock left by a dead process of this machine
(same node, no such pid) is taken over at once instead of after five minutes, and a writer
whose lock expired and was taken by someone else finds out at its next write instead of
writing over them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import struct
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from functools import cache

from .. import _loop
from ..errors import DatasetLockedError
from ..format.keys import FIRST_COMMIT_ID
from ..storage import Storage

NAME = "dataset_lock.lock"
VALIDITY = 300.0  # deeplake's DATASET_LOCK_VALIDITY
RENEW_AFTER = 0.4  # of the validity: 120 s of 300, deeplake's DATASET_LOCK_UPDATE_INTERVAL
# After writing the lock, read it back this much later: a writer that raced us and wrote
# last wins. deeplake waits 0.01 s on local disk and 0.5 s on object stores.
VERIFY_LOCAL, VERIFY_REMOTE = 0.01, 0.1
POLL = 0.5  # how often a waiting writer looks again


@cache
def node_id() -> int:
    return uuid.getnode()


def lock_key(head: str) -> str:
    return NAME if head == FIRST_COMMIT_ID else f"versions/{head}/{NAME}"


def record(duration: float = VALIDITY) -> bytes:
    tag = os.getpid().to_bytes(4, "little")
    return node_id().to_bytes(6, "little") + struct.pack("d", time.time() + duration) + tag


@dataclass(frozen=True)
class Holder:
    node: int
    expires: float
    pid: int | None

    @classmethod
    def parse(cls, raw: bytes) -> Holder | None:
        if len(raw) < 14:
            return None  # not a lock record: treated as no lock, as deeplake fails to parse it
        node = int.from_bytes(raw[:6], "little")
        (expires,) = struct.unpack("d", raw[6:14])
        pid = int.from_bytes(raw[14:18], "little") if len(raw) >= 18 else None
        return cls(node, expires, pid)

    @property
    def mine(self) -> bool:
        return self.node == node_id() and self.pid == os.getpid()

    @property
    def live(self) -> bool:
        """Held by another writer that may still be writing."""
        if self.mine or self.expires <= time.time():
            return False
        if self.node == node_id() and self.pid is not None:
            return _pid_alive(self.pid)  # same machine: a dead process holds nothing
        return True

    def describe(self) -> str:
        where = "this machine" if self.node == node_id() else f"machine {self.node:012x}"
        return f"process {self.pid} on {where}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


async def check_no_writer(storage: Storage) -> None:
    """Before deleting or replacing a whole dataset: no other writer holds any branch head."""
    from ..format.versions import VersionInfo

    (raw,) = await storage.get_many(["version_control_info.json"])
    heads = list(VersionInfo.parse(raw).branches.values()) if raw else [FIRST_COMMIT_ID]
    for head in heads:
        await head_lock(storage, head).check_free()


def head_lock(storage: Storage, head: str, timeout: float | None = 0) -> WriteLock:
    """The write lock of a branch head."""
    return WriteLock(storage, lock_key(head), timeout)


class WriteLock:
    """One lock object (a head's, or the 10 s lock around ``version_control_info.json``),
    for one dataset handle."""

    def __init__(
        self, storage: Storage, key: str, timeout: float | None = 0, validity: float = VALIDITY
    ) -> None:
        self.storage = storage
        self.key = key
        self.timeout = timeout  # seconds to wait for another writer; None: wait for ever
        self.validity = validity
        self.written_at: float | None = None  # when we last wrote our record

    @property
    def held(self) -> bool:
        return self.written_at is not None

    async def ensure(self) -> bool:
        """Before a write: take the lock, or renew it when it is getting old. True when the
        lock was not ours without a break since our last write (taken now, or found gone or
        replaced): another writer may have written in between."""
        if (
            self.written_at is not None
            and time.time() - self.written_at < self.validity * RENEW_AFTER
        ):
            return False
        return await self.acquire()

    async def acquire(self) -> bool:
        start = time.monotonic()
        verify = VERIFY_REMOTE if self.storage.remote else VERIFY_LOCAL
        while True:
            holder = await self._holder()
            if holder is not None and holder.live:
                waited = time.monotonic() - start
                if self.timeout is not None and waited >= self.timeout:
                    self.written_at = None
                    raise self._locked(holder)
                await asyncio.sleep(min(POLL, max(0.0, holder.expires - time.time())) or POLL)
                continue
            if holder is not None and holder.mine and self.written_at is not None:
                await self._write()  # a renewal: nobody else wrote in between
                return False
            await self._write()
            await asyncio.sleep(verify)
            holder = await self._holder()
            if holder is not None and holder.mine:
                return True
            self.written_at = None  # another writer's record landed after ours: theirs

    async def check_free(self) -> None:
        """Raise :class:`DatasetLockedError` if another writer holds the lock now."""
        holder = await self._holder()
        if holder is not None and holder.live:
            raise self._locked(holder)

    async def release(self) -> None:
        if self.written_at is None:
            return
        self.written_at = None
        with contextlib.suppress(Exception):
            holder = await self._holder()
            if holder is not None and holder.mine:
                await self.storage.delete(self.key)

    async def _holder(self) -> Holder | None:
        (raw,) = await self.storage.get_many([self.key])
        return Holder.parse(raw) if raw else None

    async def _write(self) -> None:
        await self.storage.put(self.key, record(self.validity))
        self.written_at = time.time()

    def _locked(self, holder: Holder) -> DatasetLockedError:
        now = time.time()
        age, left = now - (holder.expires - self.validity), holder.expires - now
        return DatasetLockedError(
            f"{self.storage.url} is being written by another writer ({holder.describe()}): its "
            f"lock {self.key} was written {age:.0f} s ago and expires in {left:.0f} s unless "
            "renewed. Wait for that writer to finish, open the dataset with read_only=True, or "
            "pass lock_timeout=<seconds> (None: no limit) to wait for the lock",
            holder.describe(),
            age,
            left,
        )


# -- lifetime: held until released, the handle is collected, or the process exits -----------
_held: set[WriteLock] = set()


def hold(owner: object, storage: Storage, head: str, timeout: float | None) -> WriteLock:
    """The head lock for a dataset handle ``owner``, released when ``owner`` is collected or
    the process exits (if its I/O loop still runs then)."""
    return adopt(owner, head_lock(storage, head, timeout))


def adopt(owner: object, lock: WriteLock) -> WriteLock:
    """``lock`` (maybe taken already) held for ``owner``, as :func:`hold` does."""
    _held.add(lock)
    weakref.finalize(owner, _release_soon, lock)
    return lock


async def release(lock: WriteLock) -> None:
    _held.discard(lock)
    await lock.release()


def _release_soon(lock: WriteLock) -> None:
    _held.discard(lock)
    if not lock.held:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        # Collected inside a running event loop (an async application dropping a dataset, or
        # shoal's I/O loop itself): released by a task of that loop. Waiting here would stall
        # the loop for the release's requests, or deadlock it.
        task = running.create_task(lock.release())
        _releasing.add(task)
        task.add_done_callback(_releasing.discard)
        return
    loop = _loop.background_loop()
    if loop is None:
        return
    fut = asyncio.run_coroutine_threadsafe(lock.release(), loop)
    # Collected on the main thread (``del ds; gc.collect()``): released before going on, so
    # the next writer finds the lock gone. Elsewhere (a worker the I/O loop may be waiting for)
    # blocking could deadlock: released in the background.
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(Exception):
            fut.result(timeout=10)


#: Releases started by :func:`_release_soon` on a running loop, referenced until they end.
_releasing: set[asyncio.Task[None]] = set()


@atexit.register
def _release_all() -> None:
    loop = _loop.background_loop()
    if loop is None:
        return
    for lock in [x for x in _held if x.held]:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(lock.release(), loop).result(timeout=10)
    _held.clear()
