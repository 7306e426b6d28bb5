"""``tag``: a list of tags per sample, stored as a JSON list like ``list`` but, as deeplake
makes it, without a shape companion; a single value appended is stored as a one-tag list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import SampleContext
from .list import ListHType


class Tag(ListHType):
    name = "tag"
    companions = ("id",)
    companion_links: ClassVar[Mapping[str, str]] = {}

    def listed(self, sample: Any, ctx: SampleContext) -> list[Any]:
        if not isinstance(sample, (list, tuple, np.ndarray)):
            sample = [sample]
        return super().listed(sample, ctx)


HTYPE = Tag()
