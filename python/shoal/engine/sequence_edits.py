"""Updates and pops of sequence tensors, as deeplake 3.9.52 makes them.

A sequence tensor's chunks hold its items, so an edit of samples is an edit of their items
(``editing`` stages it like a plain tensor's) plus what deeplake records per sample:

* An update replaces a sample's items one for one: deeplake refuses a new value with another
  number of items (``Index length (n) and length of samples (m) must be equal``), and shoal
  says so before anything changes. The sequence index is untouched; the items' companions
  (``_shape``, ``_info``: ``flatten_sequence``) are updated per item, and the commit diff
  records the samples (not the items) as updated.
* ``t[i][j] = item`` / ``t[i, a:b] = items`` replace some items of one sample. deeplake
  cannot do this for a link sequence (it fails on the linked sample), and ``t[i][j][k] = x``
  replaces the whole item j with ``x`` there (its part index is dropped): both are refused.
* A pop removes each sample's items and rewrites the sequence index as deeplake's encoder
  pops a row: the row's last index and every later row's drop by one, later rows start that
  many items earlier, and a row left empty is deleted (neighbours of equal counts are not
  joined). The commit diff pops samples, with their ids; per-item companions pop items.
  deeplake leaves a tensor alone when every sample popped from it is empty (its pop walks
  the items' chunks and finds none); shoal pops them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from .._index import Index
from ..errors import SampleError, SampleIndexError, ShoalError
from . import sequences
from .rewrite import _segments

if TYPE_CHECKING:
    from .samples import Prepared
    from .tensor import TensorEngine


def _seq(t: TensorEngine) -> sequences.SequenceIndex:
    assert t.seq is not None, "a sequence tensor's index loads with its meta"
    return t.seq


def check_samples(t: TensorEngine, idx: np.ndarray) -> None:
    n = _seq(t).samples
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx[(idx < 0) | (idx >= n)][0])
        raise SampleIndexError(
            f"index {bad} is out of range for sequence tensor {t.name!r} of {n} samples"
        )


def flat_update(t: TensorEngine, idx: np.ndarray, samples: Any) -> tuple[np.ndarray, list[Any]]:
    """New whole sequences for samples ``idx`` as (their items' flat indices, the new items),
    refused (naming the sample) when a new value has another number of items."""
    seq = _seq(t)
    items, lengths = sequences.flatten(t.name, samples)
    old = seq.lengths(idx).tolist()
    for i, n, m in zip(idx.tolist(), old, lengths, strict=True):
        if n != m:
            raise SampleError(
                f"sample {i} of sequence tensor {t.name!r} has {n} items and the new value "
                f"has {m}: an update replaces the items one for one (deeplake 3.9.52 refuses "
                f"another count); give {n} items, or pop the sample and append the new sequence"
            )
    return seq.flat(idx), items


def item_edit(
    t: TensorEngine, sample: int, sub: tuple[Any, ...], value: Any
) -> tuple[np.ndarray, list[Any]]:
    """``t[sample][sub] = value``: (the flat indices of the items replaced, their new values)."""
    if t.meta.get("is_link"):
        raise ShoalError(
            f"tensor {t.name!r} is a link sequence: deeplake 3.9.52 cannot replace some of a "
            f"sample's links, and nothing was changed; replace the whole sample: "
            f"t[{sample}] = [shoal.link(...), ...]"
        )
    if len(sub) > 1:
        raise ShoalError(
            f"sequence tensor {t.name!r}: t[{sample}][j][...] = x would change part of an item, "
            "which deeplake 3.9.52 does not do (it replaces the whole item with x); nothing was "
            f"changed. Replace the item: t[{sample}][j] = new_item"
        )
    seq = _seq(t)
    n = int(seq.lengths(np.asarray([sample]))[0])
    try:
        picked = Index().compose(sub[0], n)
        positions = picked.resolve(n)
    except IndexError as exc:
        raise SampleIndexError(
            f"sequence tensor {t.name!r}: sample {sample} has {n} items ({exc})"
        ) from None
    many = isinstance(value, list | tuple) or (isinstance(value, np.ndarray) and value.ndim > 0)
    if picked.is_scalar:
        values: list[Any] = [value]
    elif many and len(value) == positions.size:
        values = list(value)
    else:
        raise SampleError(
            f"{positions.size} items of sample {sample} of sequence tensor {t.name!r} are "
            f"selected; give a list of {positions.size} items"
        )
    if len(set(positions.tolist())) != positions.size:
        raise SampleIndexError(
            f"the same item of sample {sample} of tensor {t.name!r} is selected twice"
        )
    return int(seq.starts[sample]) + positions, values


def pop_items(t: TensorEngine, samples: list[int]) -> list[int]:
    """The flat indices of the items of ``samples``, descending."""
    seq = _seq(t)
    flat = seq.flat(np.asarray(sorted(samples), dtype=np.int64))
    return sorted(flat.tolist(), reverse=True)


def diff_shift(t: TensorEngine, samples: list[int]) -> int:
    """Items deeplake has already removed when a pop creates the tensor's commit diff.

    deeplake makes a commit's diff on first use, starting at the tensor's item count then.
    Its pop walks the items' chunks from the last and pops a sample (first touching the diff)
    in the chunk holding the sample's first item, after removing the popped items of every
    later chunk. Only the highest sample popped matters: it is popped first; if it is empty
    it is popped in the first chunk walked, before any item is removed."""
    seq = _seq(t)
    top = max(samples)
    first, end = int(seq.starts[top]), int(seq.starts[top + 1])
    if first == end or not len(t.chunk_ids):
        return 0
    segments = _segments(t.chunk_ids, t.tiles)
    lasts = np.asarray([s[3] for s in segments], dtype=np.int64)
    flat = seq.flat(np.asarray(samples, dtype=np.int64))
    segment_of = np.searchsorted(lasts, flat, side="left")
    trigger = int(np.searchsorted(lasts, first, side="left"))
    return int((segment_of > trigger).sum())


def pop_rows(rows: np.ndarray, samples: list[int]) -> np.ndarray:
    """The stored sequence-index rows after popping ``samples`` (deeplake's encoder pop)."""
    out = rows.astype(np.int64)
    for i in sorted(samples, reverse=True):
        r = int(np.searchsorted(out[:, 2], i, side="left"))
        before = int(out[r - 1, 2]) if r else -1
        alone = int(out[r, 2]) - before == 1
        out[r:, 2] -= 1
        out[r + 1 :, 1] -= out[r, 0]
        if alone:
            out = np.delete(out, r, axis=0)
    return out.astype(np.uint32).reshape(-1, 3)


_FLAT_SAMPLE = re.compile(r"\bsample (\d+)\b")


def prepare(t: TensorEngine, flat: np.ndarray, items: list[Any]) -> tuple[Prepared, list[str]]:
    """Validate and convert new items (at flat indices ``flat``); an error names the sample
    and its item, not the position in the update."""
    try:
        return t.prepare(items)
    except SampleError as exc:
        starts = _seq(t).starts

        def where(m: re.Match[str]) -> str:
            f = int(flat[int(m.group(1))])
            i = int(np.searchsorted(starts, f, side="right")) - 1
            return f"sample {i} (its item {f - int(starts[i])})"

        raise SampleError(_FLAT_SAMPLE.sub(where, str(exc), count=1)) from None
