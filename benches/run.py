"""shoal benchmarks. Each one runs the competitor in the same run on the same data and prints
the ratio (shoal speed / competitor speed; > 1 means shoal is faster).

    .venv/bin/python benches/run.py                 # everything
    .venv/bin/python benches/run.py assemble lz4    # some of: assemble lz4 read ingest

The dataset benchmarks need the deeplake venv (bash .ci/setup-deeplake-venv) and ~4 GB of
disk under $SHOAL_BENCH_DIR (default: ./bench-data).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import shoal
from shoal import _native

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SHOAL_BENCH_DIR", ROOT / "bench-data"))
DL_PYTHON = os.environ.get("SHOAL_DEEPLAKE_PYTHON", str(ROOT / ".venvs/deeplake/bin/python"))
SIZE = 224
BATCH = 64


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(
    name: str, ours: float, theirs: float, unit: str, target: float, competitor: str
) -> None:
    ratio = ours / theirs
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(
        f"{name:<34} shoal {ours:>12,.1f} {unit:<10} {competitor} {theirs:>12,.1f} {unit:<10} "
        f"ratio {ratio:6.2f}x (target {target}x) {verdict}"
    )


def bench_assemble() -> None:
    """Gathering 256 samples of 150 KB from 8 MB chunks into one batch vs a numpy copy."""
    rng = np.random.default_rng(0)
    sample = SIZE * SIZE * 3
    per_chunk = 8_000_000 // sample
    chunks = [rng.integers(0, 256, per_chunk * sample, dtype=np.uint8).tobytes() for _ in range(8)]
    n = 256
    picks = [(i % 8, (i * 7) % per_chunk) for i in range(n)]
    plan = np.array(
        [[c, s * sample, (s + 1) * sample, i * sample, sample] for i, (c, s) in enumerate(picks)],
        dtype=np.int64,
    )
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    views = [np.frombuffer(c, np.uint8) for c in chunks]

    def ours() -> None:
        _native.assemble(out, chunks, plan, "none", 1)

    def numpy_copy() -> None:
        flat = out.reshape(n, sample)
        for i, (c, s) in enumerate(picks):
            flat[i] = views[c][s * sample : (s + 1) * sample]

    ours()
    numpy_copy()
    mb = n * sample / 1e6
    report(
        "assemble batch (uncompressed)",
        mb / best_of(ours, 20),
        mb / best_of(numpy_copy, 20),
        "MB/s",
        0.8,
        "numpy",
    )


def bench_lz4() -> None:
    """Decoding lz4 chunks (deeplake's layout) vs the lz4 package (the C library)."""
    import lz4.block

    rng = np.random.default_rng(1)
    # Semi-compressible float data, like real tensors: smooth values plus noise.
    base = np.cumsum(rng.normal(size=2_000_000)).astype(np.float32)
    raw = (np.round(base, 1)).tobytes()
    comp = lz4.block.compress(raw)
    assert _native.lz4_decompress(comp) == raw

    mb = len(raw) / 1e6
    report(
        "lz4 chunk decode (8 MB)",
        mb / best_of(lambda: _native.lz4_decompress(comp), 20),
        mb / best_of(lambda: lz4.block.decompress(comp), 20),
        "MB/s",
        0.8,
        "lz4 C",
    )
    report(
        "lz4 chunk encode (8 MB)",
        mb / best_of(lambda: _native.lz4_compress(raw), 10),
        mb / best_of(lambda: lz4.block.compress(raw), 10),
        "MB/s",
        0.0,
        "lz4 C",
    )


_DISTINCT: dict[int, np.ndarray] = {}


def images(start: int, k: int, size: int = SIZE) -> np.ndarray:
    """Images ``start .. start+k``: 16 distinct smooth-plus-noise pictures, repeating. Built
    once, so the timed loops measure the libraries, not the data generator (deeplake_side.py does
    the same with the same pixels)."""
    if size not in _DISTINCT:
        rng = np.random.default_rng(0)
        base = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
        grad = (np.arange(size, dtype=np.uint16)[None, :, None] * 255 // (size - 1)).astype(
            np.uint8
        )
        _DISTINCT[size] = base // 2 + grad // 2
    return _DISTINCT[size][np.arange(start, start + k) % 16]


def write_shoal(path: Path, n: int, compression: str | None) -> float:
    images(0, 1)
    t0 = time.perf_counter()
    ds = shoal.empty(str(path), overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=compression)
        ds.create_tensor("labels", htype="class_label")
        for s in range(0, n, BATCH):
            k = min(BATCH, n - s)
            ds.images.extend(images(s, k))
            ds.labels.extend((np.arange(s, s + k) % 10).astype(np.uint32))
    return time.perf_counter() - t0


def read_shoal(path: Path) -> tuple[int, float, float, int]:
    """Two epochs over one opened dataset, as training does: (n, epoch 1 s, epoch 2 s, sum)."""
    ds = shoal.load(str(path), read_only=True)
    n = len(ds)
    times = []
    for _epoch in range(2):
        t0 = time.perf_counter()
        checksum = 0
        for s in range(0, n, BATCH):
            arr = ds.images[s : s + BATCH].numpy()
            checksum += int(arr[:, 0, 0, 0].astype(np.int64).sum())
            checksum += int(ds.labels[s : s + BATCH].numpy().sum())
        times.append(time.perf_counter() - t0)
    return n, times[0], times[1], checksum


def run_dl(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [DL_PYTHON, str(Path(__file__).parent / "deeplake_side.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_read() -> None:
    """~1 GB of 224x224x3 images (raw) and a png copy, read in batches of 64 by both."""
    for compression, n, target in ((None, 6650, 10.0), ("png", 2000, 2.0)):
        path = DATA / f"read-{compression or 'raw'}"
        write_shoal(path, n, compression)
        read_shoal(path)  # warm the page cache for both
        n1, first, second, sum1 = read_shoal(path)
        dl = run_dl("read", str(path), "images", str(BATCH))
        assert dl["checksum"] == sum1, (dl["checksum"], sum1)
        label = f"read {n} {compression or 'raw'}"
        for epoch, ours, theirs in ((1, first, dl["seconds"][0]), (2, second, dl["seconds"][1])):
            report(
                f"{label}, epoch {epoch}",
                n1 / ours,
                dl["samples"] / theirs,
                "samples/s",
                target,
                "deeplake",
            )


def plain_write_seconds(src: Path, dest: Path) -> tuple[float, int]:
    """The time plain ``open``/``write`` takes to write every file under ``src`` (read into
    memory first) to ``dest``, directories included; and the bytes written."""
    files = [(p.relative_to(src), p.read_bytes()) for p in sorted(src.rglob("*")) if p.is_file()]
    shutil.rmtree(dest, ignore_errors=True)
    t0 = time.perf_counter()
    for rel, data in files:
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed, sum(len(d) for _, d in files)


def bench_ingest() -> None:
    """extend() 10,000 224x224x3 images (+ labels) into a new local dataset, against deeplake
    and against plain open/write of the same files' bytes."""
    n = 10_000
    path = DATA / "ingest-shoal"
    ours = write_shoal(path, n, None)
    dl = run_dl("ingest", str(DATA / "ingest-deeplake"), str(n), str(SIZE), str(BATCH))
    report(f"ingest {n} images (raw)", n / ours, n / dl["seconds"], "samples/s", 5.0, "deeplake")
    plain, nbytes = plain_write_seconds(path, DATA / "ingest-plain")
    mb = nbytes / 1e6
    report("ingest, same bytes", mb / ours, mb / plain, "MB/s", 0.8, "open/write")
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(DATA / "ingest-deeplake", ignore_errors=True)


BENCHES = {"assemble": bench_assemble, "lz4": bench_lz4, "read": bench_read, "ingest": bench_ingest}


def main() -> None:
    if _native.build_profile != "release":
        print("warning: shoal._native is a debug build; numbers are meaningless", file=sys.stderr)
    names = sys.argv[1:] or list(BENCHES)
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"shoal benchmarks ({os.cpu_count()} cores) — ratio = shoal / competitor")
    for name in names:
        BENCHES[name]()


if __name__ == "__main__":
    main()
