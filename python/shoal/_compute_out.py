"""What a ``shoal.compute`` function writes to, and what the next stage of a pipeline reads.

``samples_out`` (:class:`SamplesOut`) collects one input sample's outputs in memory, as
deeplake's transform dataset does: ``samples_out.x.append(v)``, ``samples_out["g/x"].extend
(vs)``, ``samples_out.g.x.append(v)``, ``samples_out.append({"x": v, "t": s})``. Nothing is
checked against the tensors' dtypes here: the values are written (and checked) together,
all or nothing, by ``_compute_write``. In a ``shoal.compose`` pipeline each row of a stage's
output (:class:`OutRow`) is the next stage's ``sample_in``: ``sample_in.x.numpy()`` is
``np.asarray`` of what the stage appended.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import SampleError, TensorNotFoundError
from .links import LinkedSample
from .tensor import Tensor

Columns = dict[str, list[Any]]  # tensor name (full path) -> the samples appended to it


def sample_bytes(value: Any) -> int:
    """A cheap estimate of a sample's size in memory (bounds the batches written at once)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, str | bytes):
        return len(value)
    buffer = getattr(value, "buffer", None)  # a file read with shoal.read
    if isinstance(buffer, bytes | bytearray | memoryview):
        return len(buffer)
    return 64


class OutTensor:
    """One tensor of ``samples_out``: ``append``/``extend`` keep the values in memory."""

    def __init__(self, columns: Columns, name: str, exists: bool) -> None:
        self._columns = columns
        self._name = name
        self._exists = exists

    def _items(self) -> list[Any]:
        if not self._exists:
            raise TensorNotFoundError(
                f"samples_out has no tensor {self._name!r}: the output dataset has no such "
                "tensor; create it in ds_out before running the transform"
            )
        return self._columns.setdefault(self._name, [])

    def append(self, item: Any) -> None:
        self._items().append(_plain(item))

    def extend(self, items: Any) -> None:
        target = self._items()
        if isinstance(items, str | bytes | dict):
            raise SampleError(
                f"samples_out.{self._name}.extend takes a sequence of samples, got a single "
                f"{type(items).__name__}; use append for one sample"
            )
        if isinstance(items, np.ndarray) and items.ndim == 0:
            raise SampleError(
                f"samples_out.{self._name}.extend takes a sequence of samples, got a scalar array"
            )
        target.extend(_plain(v) for v in items)

    def __len__(self) -> int:
        return len(self._columns.get(self._name, []))

    def numpy(self) -> list[Any]:
        """The values appended so far (each as ``np.asarray``)."""
        return [_as_array(v) for v in self._columns.get(self._name, [])]

    def __repr__(self) -> str:
        return f"OutTensor({self._name!r}, {len(self)} samples)"


class SamplesOut:
    """``samples_out``: the output tensors of one input sample (or a group of them)."""

    def __init__(self, tensors: list[str], prefix: str = "", columns: Columns | None = None):
        object.__setattr__(self, "_tensors", tensors)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_columns", {} if columns is None else columns)

    _tensors: list[str]
    _prefix: str
    _columns: Columns

    @property
    def columns(self) -> Columns:
        """What was appended: full tensor name -> values (tensors appended to only)."""
        return self._columns

    @property
    def tensors(self) -> list[str]:
        """The names (relative to this group) of the tensors one may append to."""
        p = self._prefix
        return [t[len(p) :] for t in self._tensors if t.startswith(p)]

    def _child(self, name: str) -> OutTensor | SamplesOut:
        full = self._prefix + name.strip("/")
        if full in self._tensors:
            return OutTensor(self._columns, full, exists=True)
        if any(t.startswith(full + "/") for t in self._tensors):
            return SamplesOut(self._tensors, full + "/", self._columns)
        return OutTensor(self._columns, full, exists=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            return self._child(item)
        if isinstance(item, int | np.integer):
            n = len(self)
            i = int(item) + n if item < 0 else int(item)
            if not 0 <= i < n:
                raise IndexError(f"row {item} of a transform output with {n} rows")
            return OutRow(self._columns, self._prefix, i)
        raise TypeError(f"samples_out[...] takes a tensor name or a row number, got {item!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name!r} on samples_out; append to its tensors")

    def __len__(self) -> int:
        p = self._prefix
        return max((len(v) for k, v in self._columns.items() if k.startswith(p)), default=0)

    def __iter__(self) -> Iterator[OutRow]:
        for i in range(len(self)):
            yield OutRow(self._columns, self._prefix, i)

    def _check_row(self, sample: Any, what: str) -> list[OutTensor]:
        if not isinstance(sample, dict):
            raise SampleError(
                f"samples_out.{what} takes a dict of {{tensor name: value}}, got "
                f"{type(sample).__name__}; to add to one tensor use samples_out.<tensor>.{what}"
            )
        targets = []
        for name in sample:
            child = self._child(name)
            if not isinstance(child, OutTensor) or not child._exists:
                raise TensorNotFoundError(
                    f"samples_out.{what} got a value for {name!r}, which is no tensor of the "
                    f"output dataset; its tensors: {self.tensors}"
                )
            targets.append(child)
        if len({len(t) for t in targets}) > 1:
            raise SampleError(
                f"samples_out.{what} needs the tensors it appends to to have equal lengths "
                "first; append to each tensor on its own instead"
            )
        return targets

    def append(self, sample: Any, skip_ok: bool = False, append_empty: bool = False) -> None:
        """Append one row ``{tensor name: value}``."""
        if skip_ok:
            raise SampleError(
                "skip_ok is not taken by samples_out.append; pass skip_ok=True to .eval instead"
            )
        targets = self._check_row(sample, "append")
        for t, value in zip(targets, sample.values(), strict=True):
            t.append(value)
        if append_empty:
            given = {t._name for t in targets}
            for name in self._tensors:
                if name.startswith(self._prefix) and name not in given:
                    OutTensor(self._columns, name, exists=True).append(None)

    def extend(self, samples: Any, skip_ok: bool = False, append_empty: bool = False) -> None:
        """Append rows ``{tensor name: values}``, every tensor the same number."""
        if skip_ok:
            raise SampleError(
                "skip_ok is not taken by samples_out.extend; pass skip_ok=True to .eval instead"
            )
        self._check_row(samples, "extend")
        lengths = {k: len(v) for k, v in samples.items()}
        if len(set(lengths.values())) > 1:
            raise SampleError(
                f"samples_out.extend got different numbers of samples per tensor {lengths}; "
                "give each tensor the same number"
            )
        for i in range(next(iter(lengths.values()), 0)):
            self.append({k: v[i] for k, v in samples.items()}, append_empty=append_empty)

    def update(self, sample: Any) -> None:
        raise SampleError("samples_out.update is not supported in transforms; append instead")

    def __repr__(self) -> str:
        return f"SamplesOut(tensors={self.tensors}, rows={len(self)})"


def _plain(item: Any) -> Any:
    """A sample read from a shoal tensor (``samples_out.x.append(sample_in.x)``, as deeplake
    code copies samples) as the value it holds, read here: in the worker's thread."""
    if not isinstance(item, Tensor):
        return item
    if item.htype == "text":
        return item.text()
    if item.htype == "json":
        return item.dict()
    return item.numpy()


def _as_array(value: Any) -> Any:
    if value is None or isinstance(value, LinkedSample):
        return value  # as deeplake gives them back
    return np.asarray(value)


class OutValue:
    """One value of a row of a stage's output: ``.numpy()`` is ``np.asarray`` of it."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def numpy(self, *_: Any, **__: Any) -> Any:
        return _as_array(self._value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._value, dtype=dtype)

    def __repr__(self) -> str:
        return f"OutValue({self._value!r})"


class OutRow:
    """A row of a stage's output: the next stage's ``sample_in`` in ``shoal.compose``."""

    def __init__(self, columns: Columns, prefix: str, index: int) -> None:
        self._columns = columns
        self._prefix = prefix
        self._index = index

    def _get(self, name: str) -> OutValue | OutRow:
        full = self._prefix + name.strip("/")
        values = self._columns.get(full)
        if values is not None:
            if self._index >= len(values):
                raise IndexError(
                    f"row {self._index} of the previous stage has no value for tensor {full!r}"
                )
            return OutValue(values[self._index])
        if any(k.startswith(full + "/") for k in self._columns):
            return OutRow(self._columns, full + "/", self._index)
        raise TensorNotFoundError(f"the previous stage wrote nothing to a tensor {full!r}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._get(name)

    def __getitem__(self, name: str) -> Any:
        return self._get(name)

    @property
    def tensors(self) -> list[str]:
        p = self._prefix
        return [k[len(p) :] for k in self._columns if k.startswith(p)]

    def __repr__(self) -> str:
        return f"OutRow({self._index}, tensors={self.tensors})"
