"""Small binary side files: commit_diff and dataset_diff (both big-endian), as deeplake 3.9.52
writes them (``core/version_control/commit_diff.py``, ``dataset_diff.py``).

The index bookkeeping mirrors deeplake's exactly (``update_data``, ``pop``, ``tensor_renamed``,
``tensor_deleted``): a diff, a merge or a checkout by either library reads these the same way.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from ..errors import CorruptDataError


@dataclass
class CommitDiff:
    """What one commit changed in one tensor."""

    created: bool = False
    info_updated: bool = False
    data_transformed: bool = False
    added_start: int = 0
    added_end: int = 0
    updated: set[int] = field(default_factory=set)
    cleared: bool = False
    deleted: set[int] = field(default_factory=set)
    deleted_ids: list[int] = field(default_factory=list)
    # ``deleted`` sorted and ``deleted_ids`` as a set, rebuilt when either changed outside
    # ``pop``: popping many samples would otherwise cost time quadratic in their number.
    _deleted_sorted: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _ids_seen: set[int] = field(default_factory=set, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes, key: str) -> CommitDiff:
        if len(data) < 28:
            raise CorruptDataError(f"{key!r} is {len(data)} bytes; a commit_diff has at least 28")
        try:
            created, info, transformed = data[0], data[1], data[2]
            start, end, n_upd = struct.unpack(">QQQ", data[3:27])
            pos = 27
            updated = set(struct.unpack(f">{n_upd}Q", data[pos : pos + 8 * n_upd]))
            pos += 8 * n_upd
            cleared = bool(data[pos])
            pos += 1
            deleted: set[int] = set()
            ids: list[int] = []
            if len(data) > pos:
                (n_del,) = struct.unpack(">Q", data[pos : pos + 8])
                pos += 8
                deleted = set(struct.unpack(f">{n_del}Q", data[pos : pos + 8 * n_del]))
                pos += 8 * n_del
                if len(data) > pos:
                    ids = list(struct.unpack(f">{n_del}Q", data[pos : pos + 8 * n_del]))
        except (struct.error, IndexError):
            raise CorruptDataError(f"{key!r} is not a valid commit_diff") from None
        return cls(
            bool(created),
            bool(info),
            bool(transformed),
            start,
            end,
            updated,
            cleared,
            deleted,
            ids,
        )

    def serialize(self) -> bytes:
        head = bytes([self.created, self.info_updated, self.data_transformed])
        upd = sorted(self.updated)
        dels = sorted(self.deleted)
        return b"".join(
            [
                head,
                struct.pack(f">QQQ{len(upd)}Q", self.added_start, self.added_end, len(upd), *upd),
                bytes([self.cleared]),
                struct.pack(f">Q{len(dels)}Q", len(dels), *dels),
                struct.pack(f">{len(self.deleted_ids)}Q", *self.deleted_ids),
            ]
        )

    def copy(self) -> CommitDiff:
        return CommitDiff(
            self.created,
            self.info_updated,
            self.data_transformed,
            self.added_start,
            self.added_end,
            set(self.updated),
            self.cleared,
            set(self.deleted),
            list(self.deleted_ids),
        )

    def _translate(self, index: int) -> int:
        if not self.deleted:
            return index
        if len(self._deleted_sorted) != len(self.deleted):
            self._deleted_sorted = sorted(self.deleted)
        return index + bisect.bisect_left(self._deleted_sorted, index)

    def update_data(self, index: int) -> None:
        """An in-place update of sample ``index`` (samples added in this commit are not
        "updated": they are new)."""
        index = self._translate(index)
        if not self.added_start <= index < self.added_end:
            self.updated.add(index)

    def pop(self, index: int, sample_id: int | None) -> None:
        """Sample ``index`` removed (call in descending index order, as deeplake does)."""
        index = self._translate(index)
        if not self.added_start <= index < self.added_end:
            if index not in self.deleted:
                self.deleted.add(index)
                bisect.insort(self._deleted_sorted, index)
            self.added_start -= 1
        self.added_end -= 1
        if self.updated:
            self.updated.discard(index)
            self.updated = {i - 1 if i > index else i for i in self.updated}
        if sample_id is not None:
            if len(self._ids_seen) != len(self.deleted_ids):
                self._ids_seen = set(self.deleted_ids)
            if sample_id not in self._ids_seen:
                self._ids_seen.add(sample_id)
                self.deleted_ids.append(sample_id)


@dataclass
class DatasetDiff:
    """What one commit changed at the dataset level: info, renamed and deleted tensors."""

    info_updated: bool = False
    renamed: dict[str, str] = field(default_factory=dict)  # old name -> new name, in order
    deleted: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, key: str) -> DatasetDiff:
        try:
            out = cls(bool(data[0]))
            (n,) = struct.unpack(">Q", data[1:9])
            pos = 9
            for _ in range(n):
                lo, ln = struct.unpack(">QQ", data[pos : pos + 16])
                pos += 16
                old = data[pos : pos + lo].decode()
                new = data[pos + lo : pos + lo + ln].decode()
                pos += lo + ln
                out.renamed[old] = new
            (n,) = struct.unpack(">Q", data[pos : pos + 8])
            pos += 8
            for _ in range(n):
                (ln,) = struct.unpack(">Q", data[pos : pos + 8])
                out.deleted.append(data[pos + 8 : pos + 8 + ln].decode())
                pos += 8 + ln
        except (struct.error, IndexError, UnicodeDecodeError):
            raise CorruptDataError(f"{key!r} is not a valid dataset_diff") from None
        return out

    def serialize(self) -> bytes:
        parts = [bytes([self.info_updated]), struct.pack(">Q", len(self.renamed))]
        for old, new in self.renamed.items():
            o, n = old.encode(), new.encode()
            parts.append(struct.pack(">QQ", len(o), len(n)) + o + n)
        parts.append(struct.pack(">Q", len(self.deleted)))
        for name in self.deleted:
            b = name.encode()
            parts.append(struct.pack(">Q", len(b)) + b)
        return b"".join(parts)

    def tensor_renamed(self, old_name: str, new_name: str) -> None:
        for old, new in self.renamed.items():
            if old_name == new:
                if old == new_name:
                    self.renamed.pop(old)
                else:
                    self.renamed[old] = new_name
                return
        self.renamed[old_name] = new_name

    def tensor_deleted(self, name: str) -> None:
        if name in self.deleted:
            return
        for old, new in self.renamed.items():
            if name == new:
                self.renamed.pop(old)
                self.deleted.append(old)
                return
        self.deleted.append(name)


def dataset_diff(info_updated: bool) -> bytes:
    """A dataset_diff with no renames or deletions."""
    return DatasetDiff(info_updated).serialize()
