"""Reading the per-commit change records whole: a tensor's ``commit_diff`` and the
dataset's ``dataset_diff`` (both big-endian, ``core/version_control/*_diff.py``), for
``diff``, ``merge`` and the "has this head changed" test."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptDataError


@dataclass
class TensorChanges:
    created: bool = False
    info_updated: bool = False
    data_transformed: bool = False
    added: tuple[int, int] = (0, 0)
    updated: set[int] = field(default_factory=set)
    cleared: bool = False
    deleted: set[int] = field(default_factory=set)
    deleted_ids: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, data: bytes, where: str) -> TensorChanges:
        try:
            created, info, transformed = data[0], data[1], data[2]
            start, end, n_upd = struct.unpack_from(">QQQ", data, 3)
            pos = 27
            updated = set(struct.unpack_from(f">{n_upd}Q", data, pos))
            pos += 8 * n_upd
            cleared = bool(data[pos])
            pos += 1
            deleted: set[int] = set()
            deleted_ids: set[int] = set()
            if len(data) > pos:
                (n_del,) = struct.unpack_from(">Q", data, pos)
                pos += 8
                deleted = set(struct.unpack_from(f">{n_del}Q", data, pos))
                pos += 8 * n_del
                if len(data) > pos:
                    deleted_ids = set(struct.unpack_from(f">{n_del}Q", data, pos))
        except (IndexError, struct.error):
            raise CorruptDataError(f"{where} is not a commit_diff ({len(data)} bytes)") from None
        return cls(
            bool(created),
            bool(info),
            bool(transformed),
            (start, end),
            updated,
            cleared,
            deleted,
            deleted_ids,
        )

    @property
    def changed(self) -> bool:
        """deeplake's ``has_change``."""
        return bool(
            self.created
            or self.cleared
            or self.added[1] > self.added[0]
            or self.updated
            or self.info_updated
            or self.deleted
        )

    def as_dict(self) -> dict[str, object]:
        """The form of deeplake's ``diff(as_dict=True)`` tensor entries."""
        return {
            "created": self.created,
            "cleared": self.cleared,
            "info_updated": self.info_updated,
            "data_added": list(self.added),
            "data_updated": set(self.updated),
            "data_deleted": set(self.deleted),
            "data_transformed_in_place": self.data_transformed,
        }


@dataclass
class DatasetChanges:
    info_updated: bool = False
    renamed: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, where: str) -> DatasetChanges:
        try:
            info = bool(data[0])
            (n_ren,) = struct.unpack_from(">Q", data, 1)
            pos = 9
            renamed: dict[str, str] = {}
            for _ in range(n_ren):
                lo, ln = struct.unpack_from(">QQ", data, pos)
                pos += 16
                renamed[data[pos : pos + lo].decode()] = data[pos + lo : pos + lo + ln].decode()
                pos += lo + ln
            (n_del,) = struct.unpack_from(">Q", data, pos)
            pos += 8
            deleted = []
            for _ in range(n_del):
                (n,) = struct.unpack_from(">Q", data, pos)
                deleted.append(data[pos + 8 : pos + 8 + n].decode())
                pos += 8 + n
        except (IndexError, struct.error, UnicodeDecodeError):
            raise CorruptDataError(f"{where} is not a dataset_diff ({len(data)} bytes)") from None
        return cls(info, renamed, deleted)
