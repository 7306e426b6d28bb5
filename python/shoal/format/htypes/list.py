"""``list``: a JSON list per sample, as deeplake writes it (``text_to_bytes``); its shape is the
list's length, which the shape companion records through ``extend_len`` (not
``extend_shape``). ``sample_compression="lz4"`` compresses each sample's JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import CorruptDataError, InvalidHtypeError, SampleError
from .base import BYTE_COMPRESSIONS, Blob, HType, SampleContext
from .json import JsonEncoder


class ListHType(HType):
    name = "list"
    object_dtype = "List"
    sample_compressions = BYTE_COMPRESSIONS
    chunk_compressions = BYTE_COMPRESSIONS
    companion_links: ClassVar[Mapping[str, str]] = {"shape": "len"}
    read_methods = frozenset({"list"})

    def check_dtype(self, dtype: Any) -> str | None:
        # deeplake keeps a json-schema dtype as given ("str" for tags of strings)
        if dtype is None or str(dtype) in ("List", "object"):
            return self.object_dtype
        if str(dtype) in ("str", "Any"):
            return str(dtype)
        raise InvalidHtypeError(
            f"htype {self.name!r} stores JSON lists; pass no dtype (or 'List', 'str', 'Any'), "
            f"not dtype={dtype!r}"
        )

    def listed(self, sample: Any, ctx: SampleContext) -> list[Any]:
        """The sample as the list to store (``tag`` also takes a single value)."""
        if isinstance(sample, np.ndarray):
            sample = list(sample) if sample.dtype == object else sample.tolist()
        if not isinstance(sample, (list, tuple)):
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}) takes lists; sample {ctx.index} is "
                f"{type(sample).__name__}"
            )
        return list(sample)

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        items = self.listed(sample, ctx)
        try:
            text = json.dumps(items, cls=JsonEncoder)
        except (TypeError, ValueError) as exc:
            raise SampleError(
                f"tensor {ctx.tensor!r} (htype {self.name!r}) could not serialise sample "
                f"{ctx.index}: {exc}"
            ) from None
        data = text.encode("utf-8")
        # with sample_compression="lz4", the engine compresses it (as every object sample)
        return Blob(data, (len(items),))

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

    def value_shape(self, value: Any) -> tuple[int, ...]:
        return (len(value),)

    def public_dtype(self, stored: np.dtype | None) -> np.dtype | None:
        return np.dtype(str)  # what deeplake's ``Tensor.dtype`` gives for lists and tags

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
