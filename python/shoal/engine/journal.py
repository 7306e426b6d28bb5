"""The flush commit: a redo journal that makes a flush atomic, even under ``kill -9``.

A flush changes many objects (per tensor: encoders, info, commit diff, meta; then dataset
meta, info, version info), and no store writes several objects at once: a process killed half
way used to leave encoders that disagree with their metas. :func:`commit` writes, in order:

1. the new chunk objects, under new names no stored encoder points at (invisible to readers);
2. ONE journal object (the branch's, :func:`key_for`): the new bytes of every object to overwrite, the sha256 of
   the bytes each replaces, the chunk keys made obsolete. A single PUT is atomic (S3, GCS; the
   local provider writes a temporary file and renames it): once stored, **the flush is
   committed**;
3. the objects, in the caller's order (encoders and infos, tensor metas, dataset objects), so
   a reader unaware of the journal (deeplake) sees the metas last;
4. the deletion of the obsolete chunks, then of the journal.

A kill before step 2 leaves only unreferenced chunks; after it, :func:`recover` (run when a
dataset is opened) replays step 3, idempotent, and step 4. Read-only, it writes nothing but
serves the journal's objects in place of the stored ones (:class:`JournalView`). deeplake knows
nothing of the journal: until shoal has opened the dataset once, it may find a flush killed in
step 3 half written and refuse to load it.

A journal is replayed only while every object it names holds its old or its new bytes, or a
beginning of its new bytes; anything else means someone (deeplake, say) wrote after the flush
completed (the journal could not be deleted then): it is stale, and dropped rather than undoing
their writes. A PUT cut off by a kill is not always refused by the store: SeaweedFS keeps what
arrived (often nothing) as the object. An object holding a beginning of its new bytes is such
a PUT of this flush, and is written again; a journal holding a beginning of a journal was never
committed (its own PUT was cut off), and is dropped like the unreferenced chunks before it.

Each branch has its own journal key: writers of different branches (each holding its head's
lock) flush at the same time, and one writer's journal must never replace or delete another's.
A branch's journal is recovered when the branch is opened; and as the version info is the one
object writers of several branches change, every operation that changes the history (under
the version lock) first recovers any journal of any branch that names it (:func:`touching`):
a history change killed half way on one branch is completed before another branch's is stored.

In-process failures (exceptions, not kills): before step 2, the new chunks are removed and the
error raised. From step 2 on (a failed journal put may still have stored it), the objects
written get their old bytes back and the journal is deleted: a failed flush still leaves the
dataset as it was. Only if that undo fails too is the flush left committed: the journal stays
in memory and :class:`FlushIncompleteError` is raised; the caller keeps the flush's state in
memory (what storage holds after recovery), and the next flush through the same storage
handle, or the next open, writes the journal and its objects again before anything else, so a
journal is never overwritten before it is fully applied.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import CorruptDataError, NotFoundError, StorageError
from ..storage import Storage, bounded_gather

#: The main branch's journal key, at the dataset root: deeplake reads (and copies) only the
#: keys it knows, and deletes a dataset by removing everything under its root.
KEY = "shoal_flush_journal.json"
_PREFIX = "shoal_flush_journal"
_FORMAT, _VERSION = "shoal-flush-journal", 1

Buffer = bytes | bytearray | memoryview
log = logging.getLogger("shoal")

# Journals committed but not fully written because the store failed, by storage handle and key.
_pending: weakref.WeakKeyDictionary[Storage, dict[str, bytes]] = weakref.WeakKeyDictionary()


def key_for(branch: str | None) -> str:
    """The journal key of a branch's writer (a writer at no branch head writes none but
    history changes, which any key serves: ``main``'s). A digest keeps any branch name a
    plain root key."""
    if branch is None or branch == "main":
        return KEY
    return f"{_PREFIX}.{hashlib.sha256(branch.encode()).hexdigest()[:32]}.json"


def is_key(key: str) -> bool:
    """Whether ``key`` is some branch's journal."""
    return key.startswith(_PREFIX) and key.endswith(".json") and "/" not in key


class FlushIncompleteError(StorageError):
    """A flush committed but not fully written: the next flush or open completes it."""


@dataclass
class Journal:
    phases: list[dict[str, bytes]]  # key -> new bytes, written phase by phase
    old: dict[str, str | None]  # key -> sha256 of the bytes replaced (None: it did not exist)
    obsolete: list[str]


def _digest(data: Buffer | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def encode(journal: Journal) -> bytes:
    phases = [
        [[k, journal.old.get(k), base64.b64encode(v).decode()] for k, v in phase.items()]
        for phase in journal.phases
    ]
    doc = {"format": _FORMAT, "version": _VERSION, "phases": phases, "obsolete": journal.obsolete}
    return json.dumps(doc, separators=(",", ":")).encode()


def decode(raw: Buffer, url: str, key: str = KEY) -> Journal:
    """Parse a stored journal; anything unexpected is a :class:`CorruptDataError`."""
    try:
        doc = json.loads(bytes(raw))
        if doc.get("format") != _FORMAT or doc.get("version") != _VERSION:
            raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r}")
        phases: list[dict[str, bytes]] = []
        old: dict[str, str | None] = {}
        for entries in doc["phases"]:
            phase = {}
            for key, digest, data in entries:
                if not isinstance(key, str) or not isinstance(digest, str | None):
                    raise ValueError(f"bad entry for {key!r}")
                phase[key] = base64.b64decode(data, validate=True)
                old[key] = digest
            phases.append(phase)
        obsolete = [str(k) for k in doc["obsolete"]]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CorruptDataError(
            f"{url}/{key} is not a shoal flush journal ({exc}); if no shoal process is writing "
            f"this dataset, delete {key} (a flush it recorded, if any, is then lost) and open "
            "the dataset again"
        ) from None
    return Journal(phases, old, obsolete)


async def commit(
    storage: Storage,
    key: str,
    chunks: Mapping[str, Buffer],
    phases: Sequence[Mapping[str, bytes]],
    obsolete: Sequence[str],
    drained: Sequence[str] = (),
    current: Mapping[str, Buffer | None] | None = None,
) -> None:
    """Write one flush atomically through journal ``key`` (the writer's branch's,
    :func:`key_for`). ``chunks``: new chunk objects; ``phases``: objects to
    overwrite, in write order; ``obsolete``: chunk keys to delete once no longer named;
    ``drained``: chunk objects it names, written before it (removed if it fails);
    ``current``: what some of the objects to overwrite hold now, read by the caller (under
    a lock that keeps them so); the others are read here."""
    await _finish_pending(storage)
    known = current or {}
    keys = [k for phase in phases for k in phase]
    unread = [k for k in keys if k not in known]
    try:
        # independent: the new chunks are written while the objects to replace are read
        found, wrote = await asyncio.gather(
            storage.get_many(unread), storage.put_many(chunks), return_exceptions=True
        )
        for outcome in (found, wrote):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(found, list)
        read = dict(zip(unread, found, strict=True))
        previous = {k: known[k] if k in known else read[k] for k in keys}
    except BaseException:
        await asyncio.shield(remove_unreferenced(storage, [*chunks, *drained]))
        raise
    journal = Journal(
        [dict(p) for p in phases], {k: _digest(v) for k, v in previous.items()}, list(obsolete)
    )
    raw = encode(journal)
    attempted: list[str] = []
    try:
        await storage.put(key, raw)
        for phase in phases:
            attempted.extend(phase)
            await storage.put_many(phase)
    except BaseException as exc:
        if await asyncio.shield(_undo(storage, key, attempted, previous)):
            await asyncio.shield(remove_unreferenced(storage, [*chunks, *drained]))
            raise
        _pending.setdefault(storage, {})[key] = raw
        raise FlushIncompleteError(
            f"writing a flush to {storage.url} failed ({exc}) and could not be undone; the flush "
            "is kept and is completed by the next flush of this dataset or when it is opened again"
        ) from exc
    await _cleanup(storage, key, journal.obsolete)


def has_pending(storage: Storage) -> bool:
    """Whether a flush through this very provider is committed but not finished."""
    return bool(_pending.get(storage)) and not storage.read_only


def touching(raw: Buffer, key: str, url: str, shared: str) -> bool:
    """Whether a stored journal rewrites ``shared`` (a whole one; a cut-off write committed
    nothing and is dropped by :func:`recover` whatever it names)."""
    if _cut_off(raw):
        return True
    journal = decode(raw, url, key)
    return any(shared in phase for phase in journal.phases)


async def recover(storage: Storage, key: str = KEY, raw: Buffer | None = None) -> Storage:
    """Complete a flush a killed process committed through journal ``key`` but did not
    finish; call before reading any meta it may name. ``raw``: the journal, when the caller
    read it already. Returns the storage to read through: ``storage`` itself, or, when it is
    read-only, a :class:`JournalView` serving the journal's objects."""
    if _pending.get(storage) and not storage.read_only:
        await _finish_pending(storage)
        raw = None
    if raw is None:
        (raw,) = await storage.get_many([key])
    if raw is None:
        return storage
    if _cut_off(raw):
        log.warning("%s: dropping a flush journal whose write was cut off", storage.url)
        if not storage.read_only:
            await storage.delete(key)
        return storage
    journal = decode(raw, storage.url, key)
    keys = [k for phase in journal.phases for k in phase]
    current = dict(zip(keys, await storage.get_many(keys), strict=True))
    new = {k: v for phase in journal.phases for k, v in phase.items()}
    state = {k: _digest(current[k]) for k in keys}
    stale = [
        k
        for k in keys
        if state[k] not in (_digest(new[k]), journal.old[k]) and not _torn(current[k], new[k])
    ]
    if stale:
        # Written after the flush completed (the journal could not be deleted then): replaying
        # would undo someone's later writes.
        log.warning("%s: ignoring a stale flush journal (%s changed since)", storage.url, stale[0])
        if not storage.read_only:
            await storage.delete(key)
        return storage
    if storage.read_only:
        return JournalView(storage, new)
    todo = [{k: v for k, v in phase.items() if state[k] != _digest(v)} for phase in journal.phases]
    await _finish(storage, key, Journal(todo, journal.old, journal.obsolete), raw)
    return storage


def _torn(current: Buffer | None, new: bytes) -> bool:
    """``current`` is what a cut-off PUT of ``new`` may leave: a proper beginning of it."""
    return current is not None and len(current) < len(new) and new.startswith(bytes(current))


#: How every journal begins (:func:`encode`).
_HEAD = json.dumps({"format": _FORMAT, "version": _VERSION}, separators=(",", ":"))[:-1].encode()


def _cut_off(raw: Buffer) -> bool:
    """``raw`` is a journal whose PUT was cut off: a beginning of one, not a whole one."""
    data = bytes(raw)
    if len(data) <= len(_HEAD):
        return _HEAD.startswith(data)
    if not data.startswith(_HEAD):
        return False
    try:
        json.loads(data)
    except ValueError:
        return True
    return False


async def _finish(storage: Storage, key: str, journal: Journal, raw: Buffer | None = None) -> None:
    """Steps 3 and 4: the objects phase by phase, then the garbage, then the journal."""
    for phase in journal.phases:
        await storage.put_many(phase)
    await _cleanup(storage, key, journal.obsolete, raw)


async def _cleanup(
    storage: Storage, key: str, obsolete: list[str], raw: Buffer | None = None
) -> None:
    # The flush is complete: what cannot be deleted is garbage, or a journal replayed as a no-op.
    with contextlib.suppress(Exception):
        await bounded_gather(storage.delete(k) for k in obsolete)
    # A replayed journal is deleted only if still there: a live writer may have stored its next.
    if raw is None or (await storage.get_many([key]))[0] == raw:
        with contextlib.suppress(Exception):
            await storage.delete(key)


async def _finish_pending(storage: Storage) -> None:
    pending = _pending.get(storage, {})
    for key, raw in list(pending.items()):
        await storage.put(key, raw)
        await _finish(storage, key, decode(raw, storage.url, key))
        del pending[key]


async def _undo(
    storage: Storage, key: str, attempted: list[str], previous: dict[str, Buffer | None]
) -> bool:
    """Give the objects a failed flush may have written their old bytes back, then delete the
    journal. False if that could not be done (the journal then stays authoritative)."""

    async def restore(key: str) -> None:
        old = previous[key]
        try:
            if old is None:
                await storage.delete(key)
            else:
                await storage.put(key, old)
        except Exception:
            # A put that failed may not have written anything: fine if the old bytes are there.
            (now,) = await storage.get_many([key])
            if _digest(now) != _digest(old):
                raise

    try:
        await bounded_gather(restore(k) for k in attempted)
        await storage.delete(key)
    except Exception:
        return False
    return True


async def remove_unreferenced(storage: Storage, keys: Sequence[str]) -> None:
    """Best effort: chunk objects of a flush that did not happen are unreferenced garbage."""

    await asyncio.gather(*(storage.delete(k) for k in keys), return_exceptions=True)


class JournalView(Storage):
    """A read-only view of ``inner`` in which the objects of a committed but unfinished flush
    read as the journal says they will be, and the journal itself is hidden."""

    def __init__(self, inner: Storage, objects: dict[str, bytes]) -> None:
        super().__init__(inner.url, read_only=True)
        self.inner = inner
        self.remote = inner.remote
        self.range_merge_gap, self.range_merge_max = inner.range_merge_gap, inner.range_merge_max
        self.objects = objects

    def check_writable(self, key: str) -> None:
        self.inner.check_writable(key)  # the provider knows why it is read-only
        super().check_writable(key)

    async def get(self, key: str) -> bytes:
        if is_key(key):
            raise NotFoundError(f"{key!r} not found in {self.url}")
        return self.objects[key] if key in self.objects else await self.inner.get(key)

    async def get_buffer(self, key: str) -> bytes | memoryview:
        if is_key(key) or key in self.objects:
            return await self.get(key)
        return await self.inner.get_buffer(key)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        if is_key(key) or key in self.objects:
            return (await self.get(key))[start:end]
        return await self.inner.get_range(key, start, end)

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        if is_key(key) or key in self.objects:
            data = await self.get(key)
            return [data[s:e] for s, e in ranges]
        return await self.inner.get_ranges(key, ranges)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        mine = {**self.objects, **{k: None for k in keys if is_key(k)}}
        stored = iter(await self.inner.get_many([k for k in keys if k not in mine]))
        return [mine[k] if k in mine else next(stored) for k in keys]

    async def exists(self, key: str) -> bool:
        return not is_key(key) and (key in self.objects or await self.inner.exists(key))

    async def list(self, prefix: str = "") -> list[str]:
        listed = {
            *await self.inner.list(prefix),
            *(k for k in self.objects if k.startswith(prefix)),
        }
        return sorted(k for k in listed if not is_key(k))

    async def put(self, key: str, data: Buffer) -> None:
        self.check_writable(key)

    async def delete(self, key: str) -> None:
        self.check_writable(key)

    async def close(self) -> None:
        await self.inner.close()
