"""One round of the version-control bench (benches/versions.py), the same code for shoal and
for deeplake: the deeplake side runs this module's source in its own venv."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

CHECKOUTS = 5  # checkouts per round: one takes a millisecond or so


def pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)


def round_plan(n: int, updates: int, r: int) -> tuple[list[int], int]:
    """Round ``r``'s indices and the value written there."""
    idx = np.random.default_rng(1000 + r).choice(n, size=updates, replace=False)
    return [int(i) for i in idx], (37 * (r + 1)) % 251


def build(ds: Any, n: int, base: np.ndarray) -> str:
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        for s in range(0, n, 64):
            ds.images.extend(base[np.arange(s, min(n, s + 64)) % 16])
    return str(ds.commit("build"))


def one_round(
    ds: Any, first: str, n: int, updates: int, r: int, base: np.ndarray
) -> dict[str, float]:
    """Update, commit, check out the first commit (median of CHECKOUTS); then check both."""
    idx, value = round_plan(n, updates, r)
    new = np.full((224, 224, 3), value, np.uint8)
    t0 = time.perf_counter()
    with ds:
        for i in idx:
            ds.images[i] = new
    t1 = time.perf_counter()
    ds.commit(f"round {r}")
    t2 = time.perf_counter()
    times = []
    length = -1
    for _ in range(CHECKOUTS):
        ds.checkout("main")
        t3 = time.perf_counter()
        ds.checkout(first)
        length = len(ds.images)
        times.append(time.perf_counter() - t3)
    old = [int(ds.images[i].numpy()[0, 0, 0]) for i in idx[:3]]
    ds.checkout("main")
    now = [int(ds.images[i].numpy()[0, 0, 0]) for i in idx[:3]]
    assert length == n, length
    assert old == [int(base[i % 16, 0, 0, 0]) for i in idx[:3]], old
    assert now == [value] * 3, now
    return {"update": t1 - t0, "commit": t2 - t1, "checkout": statistics.median(times)}
