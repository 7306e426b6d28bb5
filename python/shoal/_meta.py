"""``tensor.meta``: the tensor's meta as deeplake users read it.

deeplake code reads ``tensor.meta.sample_compression``, ``.htype``, ``.dtype``,
``.max_shape``...; shoal code has read it as a dict. This is both: a copy of the stored
``tensor_meta.json`` fields, by key or by attribute. Changing it changes nothing stored.
"""

from __future__ import annotations

from typing import Any


class TensorMeta(dict[str, Any]):
    """A copy of a tensor's (or dataset's) meta: ``meta.htype`` and ``meta["htype"]`` alike."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"meta has no field {name!r}; fields: {sorted(self)}") from None

    def __repr__(self) -> str:
        return f"TensorMeta({dict.__repr__(self)})"


DatasetMeta = TensorMeta  # ``ds.meta``: tensors, groups, tensor_names, hidden_tensors, ...
