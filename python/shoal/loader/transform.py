"""A user's per-sample transform applied to a batch, and the results collated back.

The transform gets one sample as ``{tensor name: value}`` and returns anything. Results that
are dicts are collated key by key; arrays (and numbers) of one shape are stacked into one
array, anything else stays a list. An exception names the sample's index in the dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import TransformError

Transform = Callable[[dict[str, Any]], Any]


def apply(transform: Transform, batch: dict[str, Any], idx: np.ndarray) -> Any:
    out = []
    names = list(batch)
    for pos, index in enumerate(idx.tolist()):
        sample = {name: batch[name][pos] for name in names}
        try:
            out.append(transform(sample))
        except Exception as exc:
            raise TransformError(
                f"the loader's transform raised on sample {index}: {type(exc).__name__}: {exc}",
                index,
            ) from exc
    # a transform may bring its own collation (deeplake's pytorch(collate_fn=...))
    return getattr(transform, "collate", collate)(out)


def collate(items: list[Any]) -> Any:
    """Dicts key by key; arrays or numbers of one shape stacked; otherwise a list."""
    if items and all(isinstance(x, dict) for x in items):
        keys = list(items[0])
        if all(list(x) == keys for x in items):
            return {k: collate([x[k] for x in items]) for k in keys}
        return items
    if items and all(isinstance(x, (np.ndarray, np.generic, int, float)) for x in items):
        first = np.shape(items[0])
        if all(np.shape(x) == first for x in items) and not any(isinstance(x, bool) for x in items):
            return np.stack([np.asarray(x) for x in items])
    return items
