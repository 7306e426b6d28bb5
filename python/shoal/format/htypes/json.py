"""``json``: one JSON value per sample (dicts, lists, str, numbers, bools, None), stored as its
UTF-8 text; numpy scalars and arrays are written as plain numbers and lists."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...errors import CorruptDataError, SampleError
from .base import BYTE_COMPRESSIONS, Blob, HType, SampleContext


class Json(HType):
    name = "json"
    object_dtype = "Any"
    # lz4, as deeplake's VectorStore creates them
    sample_compressions = BYTE_COMPRESSIONS
    chunk_compressions = BYTE_COMPRESSIONS
    companions = ("id",)
    read_methods = frozenset({"dict"})

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        try:
            text = json.dumps(sample, cls=JsonEncoder)
        except (TypeError, ValueError) as exc:
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype 'json') could not serialise sample {ctx.index}: "
                f"{exc}. Use dicts, lists, str, numbers, bools and None"
            ) from None
        return Blob(text.encode("utf-8"))

    def decode(self, data: bytes, tensor: str) -> Any:
        if not data:
            return {}  # deeplake's empty json sample
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CorruptDataError(
                f"tensor {tensor!r}: a stored json sample does not parse; the chunk is damaged"
            ) from None


class JsonEncoder(json.JSONEncoder):
    """numpy scalars and arrays become plain JSON numbers and lists."""

    def default(self, o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return super().default(o)


HTYPE = Json()
