"""The ``shoal`` command line."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

from . import api
from .errors import ShoalError


def _demo(args: argparse.Namespace) -> int:
    path = args.path or os.path.join(tempfile.gettempdir(), "shoal-demo")
    n, batch = args.samples, args.batch_size
    rng = np.random.default_rng(0)
    h = w = args.size
    # Smooth random images compress like photos do, unlike white noise.
    base = rng.integers(0, 256, size=(16, h, w, 3), dtype=np.uint8)
    grad = (np.arange(w, dtype=np.uint16)[None, :, None] * 255 // max(w - 1, 1)).astype(np.uint8)
    print(f"shoal demo: {n} images of {h}x{w}x3 (+ labels) at {path}")
    print(f"  image compression: {args.compression or 'none'}")

    t0 = time.perf_counter()
    ds = api.empty(path, overwrite=True)
    with ds:
        ds.create_tensor(
            "images", htype="image", dtype="uint8", sample_compression=args.compression
        )
        ds.create_tensor("labels", htype="class_label", class_names=["even", "odd"])
        for start in range(0, n, batch):
            k = min(batch, n - start)
            imgs = base[(np.arange(start, start + k) % 16)] // 2 + grad // 2
            ds.images.extend(imgs)
            ds.labels.extend((np.arange(start, start + k) % 2).astype(np.uint32))
    write_s = time.perf_counter() - t0
    raw_mb = n * h * w * 3 / 1e6
    print(
        f"  wrote   {n} samples in {write_s:.2f} s: {n / write_s:,.0f} samples/s, "
        f"{raw_mb / write_s:,.1f} MB/s (decoded)"
    )

    t0 = time.perf_counter()
    ds = api.load(path, read_only=True)
    total = 0
    checksum = 0
    for start in range(0, len(ds), batch):
        imgs = ds.images[start : start + batch].numpy()
        labels = ds.labels[start : start + batch].numpy()
        total += imgs.shape[0]
        checksum += int(labels.sum())
    read_s = time.perf_counter() - t0
    print(
        f"  read    {total} samples in {read_s:.2f} s: {total / read_s:,.0f} samples/s, "
        f"{raw_mb / read_s:,.1f} MB/s (decoded)"
    )
    expected = int((np.arange(n) % 2).sum())
    ok = total == n and checksum == expected
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    print(f"  on disk {size / 1e6:,.1f} MB; labels check {'ok' if ok else 'FAILED'}")
    ds.summary()
    if not args.keep:
        shutil.rmtree(path, ignore_errors=True)
    return 0 if ok else 1


def _add_platform_commands(sub: Any) -> None:
    """serve, register, login, logout, whoami, token: they live with the platform code."""
    try:
        from .platform.cli import add_commands  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("shoal.platform"):
            return
        raise
    add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shoal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write and read back a sample image dataset, timed")
    demo.add_argument("--path", help="where to write it (default: a temp directory)")
    demo.add_argument("--samples", type=int, default=5000)
    demo.add_argument("--size", type=int, default=224, help="image height and width")
    demo.add_argument("--batch-size", type=int, default=256)
    demo.add_argument("--compression", choices=["png", "jpeg"], default=None)
    demo.add_argument("--keep", action="store_true", help="keep the dataset afterwards")
    demo.set_defaults(func=_demo)
    _add_platform_commands(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ShoalError as exc:
        print(f"shoal: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
