"""The four datasets of the benchmark harness, generated the same way on both sides.

Imported by shoal's side and by the deeplake side (which runs in deeplake's own venv): numpy
only at import time. Every sample is a pure function of its index, so both sides write the
same values whatever their batching, and the data is built once, outside any timing.

* ``raw``:        224x224x3 uint8 images stored raw, plus class labels
* ``jpeg``:       the same images, JPEG-compressed, plus class labels
* ``embeddings``: 768-d float32 vectors, plus class labels
* ``texts``:      short texts (one sentence, 20-120 characters), plus class labels
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SIZE = 224
DIM = 768
KINDS = ("raw", "jpeg", "embeddings", "texts")
_DISTINCT = 32  # distinct images, cycled (JPEG size depends on the content, not on the count)
_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


@dataclass(frozen=True)
class Spec:
    kind: str
    main: str  # the tensor the samples are about; "labels" is the other one
    count: int
    batch: int  # loader batch size (and ingest batch)
    stored_per_sample: int  # bytes on the store per sample, for MB/s (an estimate for jpeg)


def specs(size_mb: float) -> dict[str, Spec]:
    """Sample counts for a dataset of about ``size_mb`` MB of raw images (the others are
    sized to take comparable time, not bytes: small samples cost per sample)."""
    image = SIZE * SIZE * 3
    n_images = max(256, int(size_mb * 1e6 // image))
    n_small = max(4096, int(size_mb * 1e6 // 4 // (DIM * 4)))
    return {
        "raw": Spec("raw", "images", n_images, 64, image + 4),
        "jpeg": Spec("jpeg", "images", n_images, 64, 12_000),
        "embeddings": Spec("embeddings", "embeddings", n_small, 256, DIM * 4 + 4),
        "texts": Spec("texts", "texts", n_small, 256, 70),
    }


def _base_images() -> np.ndarray:
    # Smooth gradients with mild noise: photo-like enough that JPEG sizes are realistic.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    out = np.empty((_DISTINCT, SIZE, SIZE, 3), np.uint8)
    for i in range(_DISTINCT):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        planes = [np.sin(a * x * 6 + i), np.cos(b * y * 6 - i), np.sin(c * (x + y) * 4)]
        img = (np.stack(planes, axis=-1) + 1) * 110 + rng.normal(0, 6, (SIZE, SIZE, 3))
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


_IMAGES: list[np.ndarray] = []


def images(start: int, k: int) -> np.ndarray:
    if not _IMAGES:
        _IMAGES.append(_base_images())
    return _IMAGES[0][(start + np.arange(k)) % _DISTINCT]


def labels(start: int, k: int) -> np.ndarray:
    return ((start + np.arange(k)) % 10).astype(np.uint32)


def embeddings(start: int, k: int) -> np.ndarray:
    idx = start + np.arange(k, dtype=np.float32)
    basis = np.linspace(0.0, 1.0, DIM, dtype=np.float32)
    return np.sin(idx[:, None] * 0.37 + basis[None, :] * 11.0).astype(np.float32)


def texts(start: int, k: int) -> list[str]:
    out = []
    for i in range(start, start + k):
        words = [_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(2 + i % 16)]
        out.append(f"sample {i}: " + " ".join(words))
    return out


def values(kind: str, start: int, k: int) -> Any:
    if kind in ("raw", "jpeg"):
        return images(start, k)
    if kind == "embeddings":
        return embeddings(start, k)
    return texts(start, k)


def create_tensors(ds: Any, kind: str) -> None:
    """The same ``create_tensor`` calls for shoal and deeplake (the same API)."""
    if kind == "raw":
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
    elif kind == "jpeg":
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression="jpeg")
    elif kind == "embeddings":
        ds.create_tensor("embeddings", htype="generic", dtype="float32")
    else:
        ds.create_tensor("texts", htype="text")
    ds.create_tensor("labels", htype="class_label")


def ingest(ds: Any, spec: Spec) -> None:
    """Create and fill a dataset (shoal or deeplake) in batches of ``spec.batch``."""
    with ds:
        create_tensors(ds, spec.kind)
        main, lab = ds[spec.main], ds["labels"]
        for s in range(0, spec.count, spec.batch):
            k = min(spec.batch, spec.count - s)
            main.extend(values(spec.kind, s, k))
            lab.extend(labels(s, k))


def warm(kind: str) -> None:
    """Build what generating values needs before a timed ingest."""
    values(kind, 0, 1)
