"""``embedding``: vectors (float32 by default) a vector index may be built over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import HType


class Embedding(HType):
    name = "embedding"
    default_dtype = "float32"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"vdb_indexes": []}


HTYPE = Embedding()
