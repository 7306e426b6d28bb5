"""What a tensor may use of its dataset: where it is stored, at which commit, and the caches.

A tensor engine gets this narrow view instead of the dataset engine, so that reading and
writing one tensor never reaches into dataset-wide state (flush policy, other tensors, the
dataset meta). The dataset engine owns one context per opened commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..format import keys
from ..storage import Storage
from .chunks import ChunkCache, HeaderCache


@dataclass
class TensorContext:
    storage: Storage
    commit_id: str
    #: The commit and its ancestors, nearest first: where chunks of older commits live.
    ancestors: list[str]
    cache: ChunkCache = field(default_factory=ChunkCache)
    headers: HeaderCache = field(default_factory=HeaderCache)
    #: The dataset's :class:`~shoal.links.resolve.LinkResolver` (link tensors read with it).
    links: Any = None

    @property
    def url(self) -> str:
        return self.storage.url

    @property
    def remote(self) -> bool:
        return self.storage.remote

    @property
    def loopback(self) -> bool:
        return self.storage.loopback

    def tensor_key(self, tensor: str, name: str) -> str:
        return keys.tensor_key(self.commit_id, tensor, name)

    def owns(self, chunk_key: str) -> bool:
        """Whether a chunk object belongs to this commit (may be replaced by its writes)."""
        if not chunk_key.startswith(keys.commit_prefix(self.commit_id)):
            return False
        return not (self.commit_id == keys.FIRST_COMMIT_ID and chunk_key.startswith("versions/"))
