"""Small binary side files: commit_diff (big-endian) and dataset_diff."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import CorruptDataError


@dataclass
class CommitDiff:
    """The part of a tensor's commit_diff shoal maintains; the rest is kept verbatim."""

    created: bool = False
    info_updated: bool = False
    data_transformed: bool = False
    added_start: int = 0
    added_end: int = 0
    tail: bytes = b"\x00" * 8 + b"\x00" + b"\x00" * 8  # no updates, not cleared, no deletes

    @classmethod
    def parse(cls, data: bytes, key: str) -> CommitDiff:
        if len(data) < 19:
            raise CorruptDataError(f"{key!r} is {len(data)} bytes; a commit_diff has at least 19")
        created, info, transformed = data[0], data[1], data[2]
        start, end = struct.unpack(">QQ", data[3:19])
        return cls(bool(created), bool(info), bool(transformed), start, end, bytes(data[19:]))

    def serialize(self) -> bytes:
        head = bytes([self.created, self.info_updated, self.data_transformed])
        return head + struct.pack(">QQ", self.added_start, self.added_end) + self.tail


def dataset_diff(info_updated: bool) -> bytes:
    """A dataset_diff with no renames or deletions."""
    return bytes([info_updated]) + struct.pack(">QQ", 0, 0)
