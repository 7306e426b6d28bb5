"""``text``: one str per sample, stored as UTF-8 bytes (no compression, no shape companion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import CorruptDataError, SampleError
from .base import BYTE_COMPRESSIONS, Blob, HType, SampleContext


class Text(HType):
    name = "text"
    object_dtype = "str"
    meta_defaults: ClassVar[Mapping[str, Any]] = {"vdb_indexes": []}
    # lz4, as deeplake's VectorStore creates them
    sample_compressions = BYTE_COMPRESSIONS
    chunk_compressions = BYTE_COMPRESSIONS
    companions = ("id",)
    read_methods = frozenset({"text"})

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        if isinstance(sample, np.ndarray) and sample.dtype.kind == "U" and sample.size == 1:
            sample = str(sample.reshape(()))
        if not isinstance(sample, str):
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype 'text') takes str samples; sample {ctx.index} is "
                f"{type(sample).__name__}"
            )
        return Blob(sample.encode("utf-8"))

    def decode(self, data: bytes, tensor: str) -> Any:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptDataError(
                f"tensor {tensor!r}: a stored text sample is not UTF-8; the chunk is damaged"
            ) from None

    def numpy_form(self, values: list[Any], scalar: bool, aslist: bool) -> Any:
        if scalar:
            return np.array(values[:1], dtype=str)
        arr = np.empty((len(values), 1), dtype=object)
        for i, v in enumerate(values):
            arr[i, 0] = v
        arr = arr.astype(str)
        return list(arr) if aslist else arr

    def public_dtype(self, stored: np.dtype | None) -> np.dtype | None:
        return np.dtype(str)


HTYPE = Text()
