"""Appends to one tensor: ``t.extend(samples)`` and ``t.append(sample)``, all or nothing, or
with deeplake's ``ignore_errors=True`` the bad samples skipped. Mixed into the async tensor
and the sync façade (which stages samples on the caller's thread)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import _loop
from ._editing import each_skipping_bad, each_skipping_bad_async
from .engine.staging import ensure_samples
from .errors import ShoalError, is_bad_sample

if TYPE_CHECKING:
    from .tensor import AsyncTensor, Tensor


class AsyncTensorAppends:
    def _check_appendable(self: AsyncTensor) -> None:  # type: ignore[misc]
        if not self._index.is_full:
            raise ShoalError(
                f"append/extend works on the whole tensor, not a view; use ds.{self.name}.append"
            )
        self._ds._engine.check_writable()

    async def extend_async(  # type: ignore[misc]
        self: AsyncTensor,
        samples: Iterable[Any],
        progressbar: bool = False,
        ignore_errors: bool = False,
    ) -> None:
        """Append every sample of ``samples``. All or nothing: a bad sample changes nothing;
        with ``ignore_errors``, bad samples are skipped and the others appended, as deeplake
        does. ``progressbar`` is accepted for deeplake's signature (no bar is drawn)."""
        self._check_appendable()
        engine = self._ds._engine
        batch = ensure_samples(samples, self.name)
        try:
            await engine.extend(self._key, batch)
        except Exception as exc:
            if not (ignore_errors and is_bad_sample(exc)):
                raise
            await each_skipping_bad_async(batch, lambda one: engine.extend(self._key, one))
        await engine.writes.after_write()

    async def append_async(self: AsyncTensor, sample: Any) -> None:  # type: ignore[misc]
        """Append one sample: an array, a str (text, class_label), a dict (json), or bytes."""
        await self.extend_async([sample])


class TensorAppends:
    def extend(  # type: ignore[misc]
        self: Tensor, samples: Iterable[Any], progressbar: bool = False, ignore_errors: bool = False
    ) -> None:
        """Append every sample of ``samples``. All or nothing: a bad sample changes nothing;
        with ``ignore_errors``, bad samples are skipped and the others appended, as deeplake
        does. ``progressbar`` is accepted for deeplake's signature (no bar is drawn)."""
        a = self._a
        a._check_appendable()
        engine = a._ds._engine
        keys = engine.with_companions(a.key)
        if not engine.is_loaded(keys, full=True):
            _loop.run(engine.load(keys, full=True))
        batch = ensure_samples(samples, a.name)
        try:
            self._stage(batch)
        except Exception as exc:
            if not (ignore_errors and is_bad_sample(exc)):
                raise
            each_skipping_bad(batch, self._stage)
        engine.writes.after_write_sync()

    def _stage(self: Tensor, batch: Any) -> None:  # type: ignore[misc]
        a = self._a
        engine = a._ds._engine
        if a._engine.meta.get("is_link"):  # linked files are checked with async reads
            _loop.run(engine.extend(a.key, batch))
        else:
            # Samples are converted and staged on the caller's thread; writes run on the loop.
            engine.stage(a.key, batch)

    def append(self: Tensor, sample: Any) -> None:  # type: ignore[misc]
        """Append one sample: an array, a str (text, class_label), a dict (json), or image bytes."""
        self.extend([sample])
