"""The deeplake 3.9.52 side of the harness. Runs ONLY in deeplake's venv, after the offline
prelude of ``benches/s3.py`` (private HOME, loopback-only socket guard) has imported deeplake.

    ingest KIND PATH SIZE_MB         -> {"seconds"}
    pytorch KIND PATH SIZE_MB WORKERS -> {"seconds", "first", "samples"}
    iterate KIND PATH SIZE_MB        -> {"seconds", "first", "samples"} (batch slicing, .numpy())
"""

from __future__ import annotations

import json
import time
from typing import Any

import suite_data


def _ingest(deeplake: Any, creds: dict[str, str], spec: suite_data.Spec, path: str) -> Any:
    suite_data.warm(spec.kind)
    t0 = time.perf_counter()
    ds = deeplake.empty(path, creds=creds, overwrite=True, verbose=False)
    suite_data.ingest(ds, spec)
    return {"seconds": time.perf_counter() - t0}


def _pytorch(ds: Any, spec: suite_data.Spec, workers: int) -> Any:
    t0 = time.perf_counter()
    first = None
    count = 0
    loader = ds.pytorch(
        batch_size=spec.batch,
        num_workers=workers,
        tensors=[spec.main, "labels"],
    )
    for batch in loader:
        count += len(batch["labels"])
        if first is None:
            first = time.perf_counter() - t0
    return {"seconds": time.perf_counter() - t0, "first": first, "samples": count}


def _iterate(ds: Any, spec: suite_data.Spec) -> Any:
    main, lab = ds[spec.main], ds["labels"]
    n = len(ds)
    t0 = time.perf_counter()
    first = None
    count = 0
    for s in range(0, n, spec.batch):
        values = main[s : s + spec.batch].numpy(aslist=spec.kind == "texts")
        count += len(lab[s : s + spec.batch].numpy())
        assert len(values) == min(spec.batch, n - s)
        if first is None:
            first = time.perf_counter() - t0
    return {"seconds": time.perf_counter() - t0, "first": first, "samples": count}


def main(deeplake: Any, creds: dict[str, str], argv: list[str]) -> None:
    cmd, kind, path, size_mb = argv[0], argv[1], argv[2], float(argv[3])
    spec = suite_data.specs(size_mb)[kind]
    if cmd == "ingest":
        out = _ingest(deeplake, creds, spec, path)
    else:
        ds = deeplake.load(path, creds=creds, read_only=True, verbose=False)
        out = _pytorch(ds, spec, int(argv[4])) if cmd == "pytorch" else _iterate(ds, spec)
        if out["samples"] != spec.count:
            raise SystemExit(f"deeplake {cmd} read {out['samples']} of {spec.count} samples")
    print(json.dumps(out))
