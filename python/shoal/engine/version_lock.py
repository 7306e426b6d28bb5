"""deeplake's lock around reading, merging and writing ``version_control_info.json``, and
the way shoal takes it on local disk without deeplake's verify wait."""

from __future__ import annotations

import asyncio
import time

from ..storage import Storage
from .lock import VERIFY_LOCAL, WriteLock
from .lock import record as lock_record

VC_LOCK = "version_control_info.lock"


class VersionLock:
    """deeplake's 10 s lock around reading, merging and writing version_control_info.json,
    taken in the background from entering the block: its write-then-verify wait (0.01 s on
    local disk, longer on object stores) overlaps the work that needs no lock (reading the
    head, writing objects nothing names yet). :meth:`wait` before reading the version info;
    released when the block ends.

    Where the store can create an object only if it is absent, in one step (local disk),
    the lock is taken that way, without the wait. Another shoal writer's create then fails
    and it waits for us. A deeplake writer (or an older shoal) writes its record over any
    lock it read as free; if it read before our create, its record lands after ours, and it
    goes on only after its own verify wait, :data:`lock.VERIFY_LOCAL` later: each time our
    record is seen in place, no other writer can be between its reading and writing the
    version info for that long. So the writes are made within that window of a look
    (:meth:`confirm`); if they outlast it and our record was replaced meanwhile, the version
    info is merged again under the lock taken in full (:func:`merge_again`)."""

    def __init__(self, storage: Storage) -> None:
        self._lock = WriteLock(storage, VC_LOCK, timeout=30, validity=10)
        self._storage = storage
        self._taking: asyncio.Future[None] | None = None
        # monotonic time our record was last seen in place when taken without the wait;
        # None: taken the full way, held until released
        self._seen_at: float | None = None

    async def wait(self) -> None:
        assert self._taking is not None
        await self._taking

    async def _take(self) -> None:
        start = time.monotonic()
        if self._storage.remote or not await self._storage.put_if_absent(
            VC_LOCK, lock_record(self._lock.validity)
        ):
            await self._lock.acquire()
            return
        self._lock.written_at = time.time()
        self._seen_at = start

    async def confirm(self) -> bool:
        """Before the writes another writer must not interleave with: look at our record
        again if the window of the last look is half gone. False: it was replaced, the lock
        is now taken in full (after that writer) and what was read under it must be read
        again."""
        seen = self._seen_at
        if seen is None or time.monotonic() - seen < VERIFY_LOCAL / 2:
            return True
        start = time.monotonic()
        holder = await self._lock._holder()
        if holder is not None and holder.mine:
            self._seen_at = start
            return True
        self._seen_at = None
        self._lock.written_at = None
        await self._lock.acquire()
        return False

    async def outlasted(self) -> bool:
        """After the writes: whether another writer may have read the version info before
        they landed (they outlasted the window, and our record was replaced meanwhile)."""
        seen = self._seen_at
        if seen is None or time.monotonic() - seen < VERIFY_LOCAL:
            return False
        holder = await self._lock._holder()
        if holder is not None and holder.mine:
            return False
        self._seen_at = None
        self._lock.written_at = None
        await self._lock.acquire()
        return True

    async def __aenter__(self) -> VersionLock:
        self._taking = asyncio.ensure_future(self._take())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._taking is not None
        if not self._taking.done():
            await asyncio.gather(self._taking, return_exceptions=True)
        elif not self._taking.cancelled():
            self._taking.exception()  # retrieved: raised (or not) by wait() already
        await self._lock.release()
