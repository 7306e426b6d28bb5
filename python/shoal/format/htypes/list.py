"""``list``: a JSON list per sample, as deeplake writes it (``text_to_bytes``); its shape is the
list's length. shoal reads and appends to list tensors deeplake made but does not create them.

deeplake links a list tensor's shape companion through ``extend_len`` (the lengths), not
``extend_shape``; that only matters once shoal creates list tensors.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...errors import CorruptDataError, SampleError
from .base import Blob, HType, SampleContext
from .json import JsonEncoder


class ListHType(HType):
    name = "list"
    object_dtype = "List"
    sample_compressions = frozenset()
    chunk_compressions = frozenset()
    creatable = False

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        if isinstance(sample, np.ndarray):
            sample = list(sample) if sample.dtype == object else sample.tolist()
        if not isinstance(sample, (list, tuple)):
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}) takes lists; sample {ctx.index} is "
                f"{type(sample).__name__}"
            )
        try:
            text = json.dumps(list(sample), cls=JsonEncoder)
        except (TypeError, ValueError) as exc:
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}) could not serialise sample "
                f"{ctx.index}: {exc}"
            ) from None
        return Blob(text.encode("utf-8"), (len(sample),))

    def decode(self, data: bytes, tensor: str) -> Any:
        if not data:
            return []
        try:
            value = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            value = None
        if not isinstance(value, list):
            raise CorruptDataError(
                f"tensor {tensor!r}: a stored {self.name} sample is not a JSON list; the chunk "
                "is damaged"
            )
        return value

    def numpy_form(self, values: list[Any], scalar: bool, aslist: bool) -> Any:
        """Each sample as a 1-D object array, as deeplake returns it; several samples as a
        list of them (their lengths differ)."""
        arrays = []
        for v in values:
            arr = np.empty(len(v), dtype=object)
            arr[:] = v
            arrays.append(arr)
        return arrays[0] if scalar else arrays


HTYPE = ListHType()
