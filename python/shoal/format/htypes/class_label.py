"""``class_label``: integer labels (uint32); class-name strings are turned into their index in
``class_names``, which lives in the tensor info and grows as new names are appended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidHtypeError, SampleError
from .base import HType, SampleContext


class ClassLabel(HType):
    name = "class_label"
    default_dtype = "uint32"
    # deeplake keeps the real names only in tensor_info.json; the meta keeps []
    meta_defaults: ClassVar[Mapping[str, Any]] = {
        "class_names": [],
        "_disable_temp_transform": False,
    }
    info_keys = ("class_names",)

    def check_option(self, key: str, value: Any) -> Any:
        if key == "class_names":
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise InvalidHtypeError("class_names must be a list of strings")
            return list(value)
        return value

    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        names: list[str] = ctx.info.setdefault("class_names", [])
        i = ctx.index

        def one(label: Any) -> int:
            if isinstance(label, str):
                if label not in names:
                    names.append(label)
                    ctx.new_class_names.append(label)
                return names.index(label)
            if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and label >= 0:
                return int(label)
            raise SampleError(
                f"tensor {ctx.tensor!r} (class_label): sample {i} has label {label!r}; labels "
                "are class-name strings or non-negative ints"
            )

        if isinstance(sample, str):
            return np.array([one(sample)], dtype=np.uint32)
        if isinstance(sample, (list, tuple)) and any(isinstance(s, str) for s in sample):
            return np.array([one(s) for s in sample], dtype=np.uint32)
        if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool):
            return np.array([one(sample)], dtype=np.uint32)
        arr = np.asarray(sample)
        if arr.dtype.kind in "iu" and arr.size and arr.min() < 0:
            raise SampleError(
                f"tensor {ctx.tensor!r} (class_label): sample {i} has a negative label {arr.min()}"
            )
        return sample

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        if batch.dtype.kind == "i" and batch.size and batch.min() < 0:
            return None
        return sample_shape

    def data_form(self, value: Any, info: Mapping[str, Any], scalar: bool) -> dict[str, Any]:
        """Adds ``"text"``: each sample's labels as class names (the id, as a string, for an
        id past the end of ``class_names``)."""
        names = info.get("class_names") or []

        def label(ids: np.ndarray) -> list[str]:
            return [names[int(i)] if int(i) < len(names) else str(int(i)) for i in ids.ravel()]

        if scalar:
            return {"value": value, "text": label(value)}
        rows = value if isinstance(value, list) else list(value)
        return {"value": value, "text": [label(r) for r in rows]}


HTYPE = ClassLabel()
