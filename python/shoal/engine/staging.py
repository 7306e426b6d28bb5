"""Samples appended but not written yet: validated and converted on append, packed in memory.

Validation happens before anything changes (``prepare``), so a bad sample changes nothing;
``stage`` then installs the prepared samples and cannot fail.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SampleError
from .samples import Prepared, SampleConverter


class ByteBuffer:
    """A growable byte buffer over a numpy array.

    Staging copies every appended sample into one of these; chunks are written straight from
    slices of it. Its array can be handed back for reuse once a write is done: fresh memory
    costs a page fault per 4 KiB, which made staging run at under 1 GB/s.
    """

    __slots__ = ("arr", "n")

    def __init__(self, arr: np.ndarray | None = None) -> None:
        self.arr = arr if arr is not None else np.empty(0, dtype=np.uint8)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, blob: Any) -> None:
        m = len(blob)
        if not m:
            return
        end = self.n + m
        if end > self.arr.size:
            grown = np.empty(max(end, 2 * self.arr.size, 1 << 20), dtype=np.uint8)
            grown[: self.n] = self.arr[: self.n]
            self.arr = grown
        self.arr[self.n : end] = np.frombuffer(blob, dtype=np.uint8)
        self.n = end

    def view(self) -> memoryview:
        return self.arr[: self.n].data


@dataclass
class Staged:
    """Samples appended but not yet in a written chunk, their bytes packed in one buffer."""

    data: ByteBuffer = field(default_factory=ByteBuffer)
    sizes: list[int] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    tiled: dict[int, np.ndarray] = field(default_factory=dict)  # position -> array to tile
    # For png/jpeg chunk compression, whose chunk boundaries deeplake decides per append call
    # (``chunk_writer.ImageCuts``): where each call's samples start, how many leading samples
    # are already placed in the open chunk (a tail's), and that chunk's compression estimate.
    # None: not staged by append calls (samples cut again by an edit or a rechunk), each
    # sample then counts as a call of its own.
    calls: list[int] | None = None
    settled: int = 0
    ratio: float = 0.5

    def __len__(self) -> int:
        return len(self.shapes)

    def offsets(self) -> np.ndarray:
        """Start of each staged sample in ``data`` (one past the last at the end)."""
        out = np.zeros(len(self.sizes) + 1, dtype=np.int64)
        np.cumsum(self.sizes, out=out[1:])
        return out


def has_paths(samples: Any) -> bool:
    """Whether ``samples`` holds file paths (``pathlib.Path``) to read."""
    return isinstance(samples, list | tuple) and any(isinstance(s, os.PathLike) for s in samples)


async def read_files(samples: Any) -> Any:
    """``samples`` with each file path (``pathlib.Path``) replaced by the file's bytes, read
    on a thread: a file read on the caller's event loop blocks it, however fast the disk."""
    if not has_paths(samples):
        return samples

    def read_all() -> list[Any]:
        out = []
        for s in samples:
            if isinstance(s, os.PathLike):
                with open(s, "rb") as f:
                    s = f.read()
            out.append(s)
        return out

    return await asyncio.to_thread(read_all)


def prepare(
    name: str, meta: dict[str, Any], info: dict[str, Any], samples: Any
) -> tuple[Prepared, list[str]]:
    """Validate and convert samples; nothing is staged yet. Returns the new class names."""
    new_names: list[str] = []
    scratch = dict(info)
    if "class_names" in scratch:
        scratch["class_names"] = list(scratch["class_names"])
    prepared = SampleConverter(name, meta, scratch).prepare(samples, new_names)
    return prepared, new_names


def stage(
    staged: Staged,
    meta: dict[str, Any],
    info: dict[str, Any],
    prepared: Prepared,
    new_class_names: list[str],
) -> bool:
    """Install prepared samples (cannot fail); returns whether ``info`` changed. Copies their
    bytes: the caller may reuse its arrays afterwards."""
    base = len(staged)
    staged.calls = [*(staged.calls or []), base]
    if prepared.packed is not None:
        staged.data.append(prepared.packed)
    staged.sizes.extend(prepared.sizes)
    for blob in prepared.blobs:
        staged.data.append(blob)
        staged.sizes.append(len(blob))
    staged.shapes.extend(prepared.shapes)
    for i, arr in prepared.tiled.items():
        staged.tiled[base + i] = arr.copy()
    if prepared.dtype is not None and meta.get("dtype") is None:
        meta["dtype"] = prepared.dtype.name
        meta["typestr"] = prepared.dtype.str
    if new_class_names:
        info.setdefault("class_names", []).extend(new_class_names)
    update_shape_bounds(meta, prepared.bound_shapes)
    meta["length"] = int(meta.get("length", 0)) + len(prepared)
    return bool(new_class_names)


def update_shape_bounds(meta: dict[str, Any], shapes: list[tuple[int, ...]]) -> None:
    if not shapes:
        return
    low, high = meta.get("min_shape"), meta.get("max_shape")
    if len(shapes) == 1 and low and high and len(shapes[0]) == len(low) == len(high):
        # one sample (an update, an append): without numpy, which costs more on small lists
        shape = shapes[0]
        meta["min_shape"] = [min(int(a), int(b)) for a, b in zip(low, shape, strict=True)]
        meta["max_shape"] = [max(int(a), int(b)) for a, b in zip(high, shape, strict=True)]
        return
    arr = np.asarray(shapes, dtype=np.int64)
    mn, mx = arr.min(axis=0).tolist(), arr.max(axis=0).tolist()
    if meta.get("min_shape"):
        mn = np.minimum(mn, meta["min_shape"]).tolist()
        mx = np.maximum(mx, meta["max_shape"]).tolist()
    meta["min_shape"], meta["max_shape"] = mn, mx


def ensure_samples(samples: Any, name: str) -> list[Any]:
    """``extend`` input as a list of samples, or a batch array (one sample per row)."""
    if isinstance(samples, np.ndarray):
        if samples.ndim == 0:
            raise SampleError(f"extend({name!r}) takes a sequence of samples, got a scalar array")
        return samples  # type: ignore[return-value]
    if isinstance(samples, (str, bytes, dict)):
        raise SampleError(
            f"extend on tensor {name!r} takes a sequence of samples, got a single "
            f"{type(samples).__name__}; use append for one sample"
        )
    try:
        return list(samples)
    except TypeError:
        raise SampleError(
            f"extend on tensor {name!r} takes a sequence of samples, got {type(samples).__name__}"
        ) from None
