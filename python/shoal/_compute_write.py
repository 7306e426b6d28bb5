"""Writing what ``shoal.compute`` functions produced: in input order, in bounded batches.

The outputs of consecutive input samples are gathered until they hold ``batch_bytes`` (or
``MAX_ROWS`` samples), then appended to the output dataset with one all-or-nothing column
append (``engine.editing.extend_columns``, the path of ``ds.extend``). The caller runs all of
it inside one ``with ds:`` batch: the dataset's flush policy writes full chunks early, so
memory stays bounded, and publishes nothing until the batch ends; a failure drops the batch
and the dataset stays as it was.

When a batch cannot be appended (a value of the wrong dtype or shape, say), its samples are
appended one at a time to find the one to blame, which is skipped with ``ignore_errors`` or
named in a :class:`~shoal.errors.TransformError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _loop
from ._compute_out import Columns, sample_bytes
from .engine import editing
from .errors import TransformError

if TYPE_CHECKING:
    from .dataset import Dataset

MAX_ROWS = 4096  # input samples per append at most (bounds the bookkeeping per sample too)


def describe(item: Any) -> str:
    """The input item as a TransformError names it: short values in full, others by type."""
    if isinstance(item, int | float | bool | str | bytes) or item is None:
        text = repr(item)
        return f" on the item: {text[:100]}{'...' if len(text) > 100 else ''}"
    path = getattr(item, "path", None)
    if isinstance(path, str) and not hasattr(item, "tensors"):
        return f" on the sample at path: {path!r}"
    return f" on an item of type {type(item).__name__}"


def transform_error(
    index: int, item: Any, suggest: bool = False, processed: int = 0
) -> TransformError:
    """deeplake's message: where it failed, on what, and what one can do."""
    msg = f"Transform failed at index {index} of the input data{describe(item)}."
    if processed:
        msg += (
            f" Last checkpoint: {processed} samples processed. You can slice the input to "
            "resume from this point."
        )
    else:
        msg += " The output dataset was left as it was."
    msg += " See the cause for what went wrong."
    if suggest:
        msg += " To skip the samples that cause errors, pass ignore_errors=True."
    return TransformError(msg, index, item)


class OutputWriter:
    """Appends the outputs of input samples, in the order given, to ``ds``."""

    def __init__(self, ds: Dataset, batch_bytes: int, ignore_errors: bool) -> None:
        self._ds = ds
        self._batch_bytes = max(1, batch_bytes)
        self._ignore_errors = ignore_errors
        self._pending: list[tuple[int, Any, Columns]] = []
        self._pending_bytes = 0
        self.written: dict[str, int] = {}  # tensor name -> samples appended
        self.skipped = 0  # input samples skipped because their outputs could not be written
        self.appends = 0  # column appends made (batches, and single samples after a failure)
        self.largest_batch_bytes = 0

    def add(self, index: int, item: Any, columns: Columns) -> None:
        """Queue one input sample's outputs; writes a batch when enough is queued."""
        if not any(columns.values()):
            return
        self._pending.append((index, item, columns))
        self._pending_bytes += sum(sample_bytes(v) for vs in columns.values() for v in vs)
        if self._pending_bytes >= self._batch_bytes or len(self._pending) >= MAX_ROWS:
            self.write()

    def write(self) -> None:
        """Append what is queued (raises TransformError naming the sample that failed)."""
        pending, self._pending = self._pending, []
        queued, self._pending_bytes = self._pending_bytes, 0
        if not pending:
            return
        self.largest_batch_bytes = max(self.largest_batch_bytes, queued)
        merged: Columns = {}
        for _, _, columns in pending:
            for name, values in columns.items():
                if values:
                    merged.setdefault(name, []).extend(values)
        try:
            self._append(merged)
        except Exception:
            self._append_one_by_one(pending)

    def _append_one_by_one(self, pending: list[tuple[int, Any, Columns]]) -> None:
        for index, item, columns in pending:
            try:
                self._append({k: v for k, v in columns.items() if v})
            except Exception as e:
                if self._ignore_errors:
                    self.skipped += 1
                    continue
                raise transform_error(index, item, suggest=True) from e

    def _append(self, columns: Columns) -> None:
        a = self._ds._a
        engine = a._engine
        keyed = {a._key(name): values for name, values in columns.items()}
        self.appends += 1
        _loop.run(editing.extend_columns(engine, keyed))
        _loop.run(engine.writes.after_write())  # inside the batch: full chunks written early
        for name, values in columns.items():
            self.written[name] = self.written.get(name, 0) + len(values)


def drop_old_rows(ds: Dataset, lengths_before: dict[str, int], names: list[str]) -> None:
    """In place: the tensors a transform wrote now hold their old samples, then the new ones;
    remove the old ones (deeplake replaces a tensor the transform wrote, keeps the others)."""
    a = ds._a
    by_length: dict[int, list[str]] = {}
    for name in names:
        if lengths_before[name]:
            by_length.setdefault(lengths_before[name], []).append(a._key(name))
    for n, keys in by_length.items():
        _loop.run(editing.pop(a._engine, keys, list(range(n - 1, -1, -1))))
