"""Async storage providers. One interface (:class:`Storage`), one provider per location kind."""

from ._base import Storage, bounded_gather
from ._local import LocalStorage
from ._memory import MemoryStorage

__all__ = ["LocalStorage", "MemoryStorage", "Storage", "bounded_gather"]
