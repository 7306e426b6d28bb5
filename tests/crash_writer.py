"""The writer that tests/test_crash_safety.py kills: appends samples to a dataset and dies.

Run as ``python -m tests.crash_writer`` (from the repository root) with a JSON list of jobs on stdin; prints one JSON
result per job. Each job runs in a forked child (a fresh interpreter per kill point would
cost a third of a second of imports each), so this process only imports shoal and never starts
its I/O loop. A job::

    {"url": ..., "creds": {...} | null, "start": 100, "count": 50,
     "kill_at": 7 | null, "when": "before" | "after", "create": false, "branch": "dev" | null,
     "op": "append" | "commit" | "merge" | "branch" | "reset"}

opens ``url`` for writing (with ``create``: creates it and its tensors, locally), appends samples ``start .. start+count-1`` in one ``with ds:`` block
(``op``: or commits the head, merges branch ``dev`` into it, creates branch ``feature``, or resets the head)
(at ``branch``'s head, main's if not given) and, with ``kill_at``, calls ``os._exit(9)`` just before (or just after) the ``kill_at``-th
storage write (put or delete, counted from the open) — a kill at that point of the flush.
"before" lets writes run concurrently as they do (the writes started earlier may or may not be
done when it dies); "after" runs them one at a time, so exactly the first ``kill_at`` are.
The result is ``{"status": exit status, "writes": [key written or deleted, ...]}`` (writes
only when the child was not killed).

``python -m tests.crash_writer loop URL`` appends blocks of 50 forever (after printing
"ready" once the first block is stored): the target of a real ``kill -9``. ``SHOAL_CRASH_CREDS``
holds the credentials (JSON) of a remote ``URL``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from typing import Any

import numpy as np

import shoal
from shoal.storage import LocalStorage

BLOCK = 50


def image(i: int) -> np.ndarray:
    """Sample ``i`` of the ``images`` tensor: recognisable from any one of its pixels."""
    img = np.empty((64, 64, 3), dtype=np.uint8)
    img[...] = i % 251
    img[0, 0, 0] = i // 251
    return img


def images(start: int, stop: int) -> np.ndarray:
    return np.stack([image(i) for i in range(start, stop)])


def append(ds: Any, start: int, count: int) -> None:
    """One ``with ds:`` block: samples ``start .. start+count-1``, flushed when it ends."""
    with ds:
        ds.x.extend(np.arange(start, start + count, dtype=np.int64))
        ds.images.extend(images(start, start + count))


def _instrument(
    storage: Any, kill_at: int | None, when: str, counter: list[int], keys: list[str]
) -> None:
    """Count the writes of ``storage`` (a provider, or a provider class); die around the
    ``kill_at``-th."""

    one_at_a_time = asyncio.Lock()

    def wrap(real: Any) -> Any:
        async def write(*args: Any) -> Any:
            counter[0] += 1
            keys.append(next(a for a in args if isinstance(a, str)))
            hit = counter[0] == kill_at
            if when == "before":
                if hit:
                    os._exit(9)  # the writes started before this one may or may not be done
                return await real(*args)
            async with one_at_a_time:  # exactly the first kill_at writes are done
                result = await real(*args)
                if hit:
                    os._exit(9)
                return result

        return write

    # put_many and friends call self.put, so every write passes here.
    storage.put = wrap(storage.put)
    storage.delete = wrap(storage.delete)


def _job(job: dict[str, Any], out: int) -> None:
    counter = [0]
    keys: list[str] = []
    kill_at, when = job.get("kill_at"), job.get("when", "before")
    if job.get("create"):
        # A new dataset: its creation and each tensor's are flushes of their own.
        _instrument(LocalStorage, kill_at, when, counter, keys)
        ds = shoal.empty(job["url"])
        ds.create_tensor("x", dtype="int64")
        ds.create_tensor("images", dtype="uint8")
    else:
        ds = shoal.load(job["url"], creds=job.get("creds"))
        if job.get("branch"):
            ds.checkout(job["branch"])
        _instrument(ds._engine.storage, kill_at, when, counter, keys)
    op = job.get("op", "append")
    if op == "append":
        append(ds, job["start"], job["count"])
    elif op == "commit":
        ds.commit("crash commit")
    elif op == "merge":
        ds.merge("dev")
    elif op == "branch":
        ds.checkout("feature", create=True)
    elif op == "reset":
        ds.reset()
    else:
        raise ValueError(f"unknown op {op!r}")
    os.write(out, json.dumps(keys).encode())


def run_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(job["url"].startswith("s3://") for job in jobs):
        importlib.import_module("shoal.storage._s3")  # once here, not in every child
    results = []
    for job in jobs:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                _job(job, w)
            except BaseException as exc:
                print(f"crash_writer: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 1
            os._exit(code)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            written = f.read()
        _, status = os.waitpid(pid, 0)
        results.append(
            {
                "status": os.waitstatus_to_exitcode(status),
                "writes": json.loads(written) if written else None,
            }
        )
    return results


def loop(url: str) -> None:
    creds = os.environ.get("SHOAL_CRASH_CREDS")  # for s3://, as JSON
    ds = shoal.load(url, creds=json.loads(creds) if creds else None)
    start = len(ds.x)
    append(ds, start, BLOCK)
    print("ready", flush=True)
    while True:
        start += BLOCK
        append(ds, start, BLOCK)


if __name__ == "__main__":
    if sys.argv[1:2] == ["loop"]:
        loop(sys.argv[2])
    else:
        print(json.dumps(run_jobs(json.load(sys.stdin))))
