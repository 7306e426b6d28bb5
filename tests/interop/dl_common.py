"""Bits every dl_side.py command shares: failing with a message, the synthetic pictures both
sides generate, and opening a dataset with deeplake's integrity check on.
"""

from __future__ import annotations

import sys

from dl_offline import deeplake, np

# --------------------------------------------------------------------------------------------
# helpers

ARRAY_HTYPES_TEXT = {"text"}
ARRAY_HTYPES_JSON = {"json"}


def die(msg: str, code: int = 1) -> None:
    print(f"dl_side: {msg}", file=sys.stderr)
    sys.exit(code)


def image(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    """A smooth-ish uint8 image (gradient + noise): compresses like a picture, not like noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    chans = []
    for k in range(c):
        base = (xx * (3 + k) + yy * (5 - k) + 40 * k) % 256
        chans.append(base)
    arr = np.stack(chans, axis=-1).astype(np.int32)
    arr += rng.integers(-12, 13, size=arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def open_ds(path: str, read_only: bool):
    return deeplake.load(path, read_only=read_only, verbose=False, check_integrity=True)
