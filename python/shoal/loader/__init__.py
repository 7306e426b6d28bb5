"""Iterating a dataset for training: batches planned ahead, fetched concurrently within a
memory bound, assembled off the GIL (``ds.loader(...)``, ``ds.pytorch(...)``)."""

from __future__ import annotations

from .api import AsyncLoader, Loader
from .plan import DEFAULT_PREFETCH_BYTES

__all__ = ["DEFAULT_PREFETCH_BYTES", "AsyncLoader", "Loader"]
