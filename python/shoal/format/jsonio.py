"""JSON the way deeplake writes it, so files we write are byte-for-byte what it would write."""

from __future__ import annotations

import json
from typing import Any

from ..errors import CorruptDataError


def dumps_meta(obj: Any) -> bytes:
    """Metas and info files: sorted keys, 4-space indent."""
    return json.dumps(obj, sort_keys=True, indent=4).encode()


def dumps_compact(obj: Any) -> bytes:
    """version_control_info.json and commit_info.json: default separators, insertion order."""
    return json.dumps(obj).encode()


def loads(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptDataError(
            f"{what} is not valid JSON ({exc}); the dataset is damaged — restore the file from "
            "a backup or re-create the dataset"
        ) from None
