"""The link methods of tensors: ``t[i].path()`` (the URL stored) and ``t[i].creds_key()``
(the key it is read with), and their ``_async`` twins. Mixed into
:class:`~shoal.tensor.AsyncTensor` and :class:`~shoal.tensor.Tensor`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _loop
from ..errors import ShoalError
from . import engine as link_engine

if TYPE_CHECKING:
    import numpy as np

    from .._index import Index
    from ..engine.tensor import TensorEngine


def _link_engine(e: TensorEngine, method: str) -> TensorEngine:
    if not e.meta.get("is_link"):
        raise ShoalError(f"{method}() is for link tensors; tensor {e.name!r} is {e.htype!r}")
    return e


class AsyncLinkMethods:
    """``path_async`` / ``creds_key_async`` of an async tensor (or view)."""

    if TYPE_CHECKING:

        @property
        def _engine(self) -> TensorEngine: ...

        _index: Index

        def _indices(self) -> np.ndarray: ...

    async def path_async(self) -> Any:
        """The URL of a linked sample (a list of them for several samples)."""
        e = _link_engine(self._engine, "path")
        await e.ensure_full()
        paths = await link_engine.read_paths(e, self._indices())
        return paths[0] if self._index.is_scalar else paths

    async def creds_key_async(self) -> Any:
        """The creds key a linked sample is read with, or None (a list for several)."""
        e = _link_engine(self._engine, "creds_key")
        await e.ensure_full()
        await link_engine.load_index(e)
        assert e.creds_index is not None
        idx = self._indices()
        link_creds = link_engine.resolver(e).creds
        names = [
            link_creds.key_of(int(e.creds_index.codes[i]), e.name, int(i)) for i in idx.tolist()
        ]
        return names[0] if self._index.is_scalar else names


class SyncLinkMethods:
    """``path`` / ``creds_key`` of a tensor (or view)."""

    @property
    def _a(self) -> Any:
        raise NotImplementedError  # the tensor class defines it

    def path(self, aslist: bool = True, fetch_chunks: bool = False) -> Any:
        """The URL of a linked sample (a list of them for several samples). deeplake's
        ``aslist`` and ``fetch_chunks`` are accepted; the URLs are str either way."""
        return _loop.run(self._a.path_async())

    def creds_key(self) -> Any:
        """The creds key a linked sample is read with, or None (a list for several)."""
        return _loop.run(self._a.creds_key_async())
