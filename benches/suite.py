"""The loader benchmark: shoal against deeplake 3.9.52 and the raw I/O ceilings, in one run.

Starts SeaweedFS on loopback, then for each dataset of :mod:`suite_data`:

* ingest: shoal writes it, deeplake writes its own copy (its venv, offline), and raw
  aiobotocore PUTs the same chunk bytes as shoal's dataset holds (the PUT ceiling);
* the GET ceiling: raw aiobotocore GETs of shoal's chunk objects, whole, at the best
  concurrency of a sweep;
* rounds, interleaved (the machine is shared, so the noise spreads over all sides): the GET
  ceiling, one epoch of shoal's ``ds.loader`` in a fresh process (first batch, per-batch
  waits, peak RSS, random single-sample reads), deeplake's ``ds.pytorch()`` (per worker
  count) and its plain iteration (batch slicing + ``.numpy()``), each on its own dataset.

Ratios are computed within each round; the summary gives their median and spread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import s3 as s3bench
import suite_data
import suite_raw
import suite_report
import suite_shoal

BENCHES = Path(__file__).resolve().parent
DEBIAN_TORCH = Path("/usr/lib/python3/dist-packages/torch")
_DL_PRELUDE = s3bench._DL_SCRIPT.split("cmd, path = sys.argv[1], sys.argv[2]")[0]
_DL_MAIN = _DL_PRELUDE + (
    f"sys.path.append({str(BENCHES)!r})\n"
    "import suite_deeplake\n"
    "suite_deeplake.main(deeplake, creds, sys.argv[1:])\n"
)


class Run:
    """One harness run: its server, its options, and the results gathered so far."""

    def __init__(self, args: Any) -> None:
        self.size_mb: float = args.size_mb
        self.rounds: int = args.rounds
        self.kinds: list[str] = args.datasets
        self.prefetch: int = int(args.prefetch_mb * 2**20)
        self.workers: list[int] = args.dl_workers
        self.profile_dir: Path | None = args.profile
        self.json_path: Path | None = args.json
        self.tag = uuid.uuid4().hex[:6]
        self.results: dict[str, Any] = {
            "meta": {
                "size_mb": self.size_mb,
                "rounds": self.rounds,
                "prefetch_bytes": self.prefetch,
                "deeplake_workers": self.workers,
                "cores": os.cpu_count(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            },
            "datasets": {},
        }

    # -- the sides -------------------------------------------------------------------------
    def deeplake(self, *args: str) -> dict[str, Any]:
        links = self.home / "torch-links"
        if DEBIAN_TORCH.is_dir() and not links.exists():
            links.mkdir()
            (links / "torch").symlink_to(DEBIAN_TORCH)
        extra = {"PYTHONPATH": str(links)}
        return s3bench.run_dl(self.env, self.home, *args, script=_DL_MAIN, extra_env=extra)

    def shoal(self, cmd: str, kind: str, path: str, **more: Any) -> dict[str, Any]:
        args = {
            "cmd": cmd,
            "kind": kind,
            "path": path,
            "size_mb": self.size_mb,
            "creds": self.env.creds,
            "prefetch_bytes": self.prefetch,
            **more,
        }
        return suite_shoal.run(args, more.get("profile"))

    # -- one dataset -------------------------------------------------------------------------
    def dataset(self, kind: str) -> dict[str, Any]:
        spec = suite_data.specs(self.size_mb)[kind]
        prefix = f"suite-{self.tag}-{kind}"
        ours = f"s3://{s3bench.BUCKET}/{prefix}"
        theirs = f"s3://{s3bench.BUCKET}/{prefix}-deeplake"
        size = str(self.size_mb)
        log(f"{kind}: {spec.count} samples, batches of {spec.batch}")
        ingest = {"shoal": self.shoal("ingest", kind, ours)["seconds"]}
        ingest["deeplake"] = self.deeplake("ingest", kind, theirs, size)["seconds"]
        keys = suite_raw.chunk_keys_sync(self.env, prefix)
        ingest["put"], ingest["put_concurrency"] = suite_raw.put_ceiling(
            self.env, keys, f"scratch-{self.tag}-{kind}"
        )
        conc, sweep = suite_raw.best_get_concurrency(self.env, keys)
        got: dict[str, Any] = {
            "count": spec.count,
            "batch": spec.batch,
            "chunks": len(keys),
            "ingest": ingest,
            "get_sweep": sweep,
            "get_concurrency": conc,
            "rounds": [],
        }
        log(
            f"  ingest: shoal {ingest['shoal']:.1f} s, deeplake {ingest['deeplake']:.1f} s, "
            f"raw PUT {ingest['put']:.1f} s; GET sweep "
            + ", ".join(f"{c}: {t:.2f} s" for c, t in sweep.items())
        )
        for r in range(self.rounds):
            one: dict[str, Any] = {}
            one["raw_get"], got["bytes"], one["raw_get_cpu"] = suite_raw.get_seconds(
                self.env, keys, conc
            )
            one["loader"] = self.shoal("loader", kind, ours)
            if kind == "raw":
                one["shuffled"] = self.shoal("loader", kind, ours, shuffle=True)
            if DEBIAN_TORCH.is_dir():
                for w in self.workers:
                    one[f"dl_pytorch{w}"] = self.deeplake("pytorch", kind, theirs, size, str(w))
            one["dl_iterate"] = self.deeplake("iterate", kind, theirs, size)
            got["rounds"].append(one)
            log(f"  round {r + 1}: " + _round_line(one))
        if self.profile_dir is not None:
            # An extra, untimed epoch under py-spy (sampling costs CPU the timed ones keep).
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            profile = str(self.profile_dir / f"loader-{kind}.txt")
            got["profiled"] = self.shoal("loader", kind, ours, profile=profile)
            log(f"  profiled epoch: {got['profiled']['seconds']:.2f} s -> {profile}")
        return got

    def main(self) -> dict[str, Any]:
        s3bench.DATA.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="suite-", dir=s3bench.DATA))
        self.env = s3bench.start_seaweedfs(workdir / "weed")
        try:
            self.home = workdir / "deeplake-home"
            self.home.mkdir()
            for kind in self.kinds:
                self.results["datasets"][kind] = self.dataset(kind)
                if self.json_path is not None:  # what is done so far survives an interruption
                    suite_report.write_json(self.results, {}, self.json_path)
        finally:
            self.env.weed.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        if not DEBIAN_TORCH.is_dir():
            self.results["meta"]["note"] = "no python3-torch: deeplake's pytorch() not measured"
        return self.results


def _round_line(one: dict[str, Any]) -> str:
    loader = one["loader"]["seconds"]
    parts = [f"loader {loader:.2f} s ({one['raw_get'] / loader:.2f}x ceiling)"]
    for k, v in one.items():
        if k.startswith("dl_"):
            parts.append(f"{k[3:]} {v['seconds']:.1f} s ({v['seconds'] / loader:.1f}x)")
    return ", ".join(parts)


def log(text: str) -> None:
    print(text, flush=True)


def prepare_env() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]  # no host credentials or endpoints in the way
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
