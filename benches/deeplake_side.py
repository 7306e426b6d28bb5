"""The deeplake 3.9.52 half of the benchmarks. Runs ONLY under the deeplake venv's python.

python deeplake_side.py read PATH TENSOR BATCH      -> JSON {"samples", "seconds": [epoch 1, epoch 2], "checksum"}
python deeplake_side.py ingest PATH N SIZE BATCH    -> prints JSON {"samples", "seconds"}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# The interop harness's side module keeps deeplake offline when imported: a private HOME
# (no version check against pypi.org, no telemetry) and a socket guard allowing loopback only.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))
from dl_offline import deeplake, np  # the guard is in place before deeplake is imported

_DISTINCT: dict = {}


def images(start: int, k: int, size: int) -> np.ndarray:
    # Must match benches/run.py: the same pixels on both sides, built once, outside the timing.
    if size not in _DISTINCT:
        rng = np.random.default_rng(0)
        base = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
        grad = (np.arange(size, dtype=np.uint16)[None, :, None] * 255 // (size - 1)).astype(
            np.uint8
        )
        _DISTINCT[size] = base // 2 + grad // 2
    return _DISTINCT[size][np.arange(start, start + k) % 16]


def read(path: str, tensor: str, batch: int) -> None:
    ds = deeplake.load(path, read_only=True, verbose=False)
    t = ds[tensor]
    n = len(t)
    times = []
    for _epoch in range(2):  # as benches/run.py: two epochs over one opened dataset
        t0 = time.perf_counter()
        checksum = 0
        for s in range(0, n, batch):
            arr = t[s : s + batch].numpy()
            checksum += int(arr[:, 0, 0, 0].astype(np.int64).sum())
            checksum += int(ds.labels[s : s + batch].numpy().sum())
        times.append(time.perf_counter() - t0)
    print(json.dumps({"samples": n, "seconds": times, "checksum": checksum}))


def ingest(path: str, n: int, size: int, batch: int) -> None:
    images(0, 1, size)
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    t0 = time.perf_counter()
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        ds.create_tensor("labels", htype="class_label")
        for s in range(0, n, batch):
            k = min(batch, n - s)
            ds.images.extend(images(s, k, size))
            ds.labels.extend((np.arange(s, s + k) % 10).astype(np.uint32))
    dt = time.perf_counter() - t0
    print(json.dumps({"samples": n, "seconds": dt}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "read":
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "ingest":
        ingest(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(f"unknown command {cmd}")
