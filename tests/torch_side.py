"""Run ``ds.pytorch()`` under Debian's CPU build of torch (python3-torch, for /usr/bin/python3).

Debian's torch is built against Debian's numpy 1.x, while shoal's virtualenv holds numpy 2:
this script puts those two packages first on the path (through a directory of links made
by the caller), then shoal's source tree and the virtualenv's other packages, then the rest
of Debian's. It prints one JSON line of what it saw; the assertions live in
tests/test_loader_torch.py.

    python3 -S tests/torch_side.py <links dir> <shoal python dir> <venv site-packages> <args json>
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time

links, source, site_packages, raw = sys.argv[1:5]
del sys.path[0]  # this script's directory: tests/platform would shadow the stdlib's platform
sys.path[:0] = [links, source, site_packages]
sys.path.append("/usr/lib/python3/dist-packages")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import shoal  # noqa: E402


def ids_of(loader: DataLoader) -> list[list[int]]:  # type: ignore[type-arg]
    out = []
    for batch in loader:
        assert isinstance(batch["ids"], torch.Tensor), type(batch["ids"])
        ids = batch["ids"].numpy().ravel()
        images = batch["images"].numpy()
        assert (images == (ids % 251).astype(np.uint8)[:, None, None, None]).all()
        out.append(ids.tolist())
    return out


def main() -> None:
    args = json.loads(raw)
    ds = shoal.load(args["path"], read_only=True, creds=args.get("creds"))
    # The parent reads first: its background loop and connection pool exist before the fork.
    first = next(iter(ds.loader(batch_size=8)))
    assert first["ids"].size == 8
    dataset = ds.pytorch(batch_size=16, shuffle=True, seed=3)
    result: dict[str, object] = {"torch": torch.__version__, "numpy": np.__version__}
    for workers in (0, 2):
        kwargs = {"multiprocessing_context": "fork"} if workers else {}
        dataset.set_epoch(0)
        loader = DataLoader(dataset, batch_size=None, num_workers=workers, **kwargs)
        result[f"epoch0_w{workers}"] = ids_of(loader)
        dataset.set_epoch(1)
        result[f"epoch1_w{workers}"] = ids_of(loader)
    view = ds[100:300].pytorch(batch_size=32, tensors=["ids", "images"])
    result["view"] = ids_of(
        DataLoader(view, batch_size=None, num_workers=3, multiprocessing_context="fork")
    )
    result["transform_error"] = transform_error(ds)
    result["deeplake_style"] = deeplake_style(ds)
    print(json.dumps(result))


def deeplake_style(ds: shoal.Dataset) -> dict[str, object]:
    """deeplake's spelling, iterated directly as deeplake's pytorch() is: torch batches,
    each sample's "index", per-sample transforms, collate_fn, worker processes."""
    out: dict[str, object] = {}
    plain = ds[:40].pytorch(num_workers=0, batch_size=8, shuffle=False)
    batches = list(plain)
    out["plain_types"] = sorted({type(v).__name__ for b in batches for v in b.values()})
    out["plain_index"] = [b["index"].reshape(-1).tolist() for b in batches]
    out["index_shape"] = list(batches[0]["index"].shape)
    out["keys"] = sorted(batches[0])

    def double(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"ids": sample["ids"] * 2, "index": sample["index"]}

    workers = ds[:64].pytorch(
        double, num_workers=2, batch_size=16, tensors=["ids"], return_index=True
    )
    got = [(b["ids"].reshape(-1).tolist(), b["index"].reshape(-1).tolist()) for b in workers]
    out["workers_pairs_ok"] = all(
        i * 2 == v for ids, idx in got for v, i in zip(ids, idx, strict=True)
    )
    out["workers_all"] = sorted(i for _, idx in got for i in idx)
    per_tensor = ds[:8].pytorch(
        transform={"ids": lambda x: x + 1000, "images": None}, batch_size=4, return_index=False
    )
    batches = list(per_tensor)
    out["per_tensor_keys"] = sorted(batches[0])
    out["per_tensor_ids"] = [b["ids"].reshape(-1).tolist() for b in batches]

    def count(samples: list[dict[str, np.ndarray]]) -> int:
        return len(samples)

    out["collate"] = list(ds[:10].pytorch(batch_size=4, collate_fn=count))
    try:
        ds.pytorch(decode_method={"images": "pil"})
        out["pil"] = None
    except Exception as exc:
        out["pil"] = type(exc).__name__
    return out


def transform_error(ds: shoal.Dataset) -> dict[str, object]:
    """A transform raising in a forked worker: what the caller sees, and what is left."""

    def bad(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if int(sample["ids"][0]) == 137:
            raise ZeroDivisionError("bad sample")
        return sample

    faulty = ds.pytorch(batch_size=16, transform=bad)
    message = None
    try:
        for _ in DataLoader(faulty, batch_size=None, num_workers=2, multiprocessing_context="fork"):
            pass
    except Exception as exc:  # torch re-raises the worker's error in the parent
        message = f"{type(exc).__name__}: {exc}"
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"message": message, "workers_left": len(multiprocessing.active_children())}


main()
