"""TIFF directories built byte by byte, embedded in JPEG and PNG files: inputs for the EXIF
reader's tests (random ones from a seeded generator, so deeplake's side can read the same)."""

from __future__ import annotations

import io
import random
import struct
from typing import Any

import numpy as np
from PIL import Image

from shoal._exif import TAG_NAMES

# TIFF type -> struct code of one value (of each half, for rationals)
_CODES = {1: "B", 3: "H", 4: "L", 5: "L", 6: "b", 8: "h", 9: "l", 10: "l", 11: "f", 12: "d"}
_RANGES = {
    "B": (0, 255),
    "H": (0, 65535),
    "L": (0, 2**32 - 1),
    "b": (-128, 127),
    "h": (-32768, 32767),
    "l": (-(2**31), 2**31 - 1),
}


def random_items(rng: random.Random) -> list[tuple[int, int, Any]]:
    """Directory entries: (tag, type, payload) with distinct tags, sorted as TIFF wants."""
    named = sorted(TAG_NAMES)
    tags = {rng.choice(named) if rng.random() < 0.7 else rng.randint(1, 65535) for _ in range(12)}
    out: list[tuple[int, int, Any]] = []
    for tag in sorted(tags)[: rng.randint(0, 12)]:
        kind = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        n = rng.randint(1, 5)
        payload: Any
        if kind == 2:
            text = "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 20)))
            payload = text.encode() + b"\x00"
        elif kind == 7:
            payload = rng.randbytes(rng.randint(1, 24))
        elif kind in (11, 12):
            payload = [struct.unpack("<f", struct.pack("<f", rng.uniform(-1e6, 1e6)))[0]] * n
        else:
            lo, hi = _RANGES[_CODES[kind]]
            payload = [rng.randint(lo, hi) for _ in range(2 * n if kind in (5, 10) else n)]
        out.append((tag, kind, payload))
    return out


def tiff(order: str, items: list[tuple[int, int, Any]]) -> bytes:
    """A TIFF block with one directory holding ``items``."""
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "L", 8)
    table = struct.pack(order + "H", len(items))
    data_at = 8 + 2 + 12 * len(items) + 4
    extra = b""
    for tag, kind, payload in items:
        if kind in (2, 7):
            raw, n = payload, len(payload)
        else:
            raw = struct.pack(f"{order}{len(payload)}{_CODES[kind]}", *payload)
            n = len(payload) // 2 if kind in (5, 10) else len(payload)
        if len(raw) <= 4:
            field = raw.ljust(4, b"\x00")
        else:
            field = struct.pack(order + "L", data_at + len(extra))
            extra += raw + b"\x00" * (len(raw) % 2)
        table += struct.pack(order + "HHL", tag, kind, n) + field
    return head + table + struct.pack(order + "L", 0) + extra


def jpeg_with(exif: bytes) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(out, "JPEG")
    plain = out.getvalue()
    app1 = b"Exif\x00\x00" + exif
    return plain[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + plain[2:]


def png_with(exif: bytes) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(out, "PNG", exif=exif)
    return out.getvalue()
