"""``tag``: a list of tags per sample, stored as a JSON list like ``list`` but, as deeplake
makes it, without a shape companion. Read and appended to, not created."""

from __future__ import annotations

from .list import ListHType


class Tag(ListHType):
    name = "tag"
    companions = ("id",)


HTYPE = Tag()
