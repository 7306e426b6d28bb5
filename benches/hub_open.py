"""``shoal.load("hub://org/name")`` against opening the same dataset by its storage path.

The hub path costs one platform round trip (``GET .../creds``) when its credentials are not
cached ("cold"), and none while they are ("warm"); the target is at most 1.5x the direct open.
The platform (local storage root) runs as a `shoal serve` process on a free loopback port,
or with --in-process on a thread of this process. With --s3 the storage root is on SeaweedFS
(on loopback, with STS): the hub path gets AssumeRole credentials scoped to the dataset and
the direct path opens ``s3://`` with the admin's keys, as the comparison is meant to be.

    .venv/bin/python benches/hub_open.py [--repeat 50] [--tensors 4] [--samples 2000] [--s3]
                                         [--connected [--static]] [--in-process]

With --connected --static the org's key opts in to handing out its own keys (unscoped), so
the hub:// path and the direct path load with the very same keys and the ratio is what the
platform adds; without --static the hub:// path gets scoped STS session credentials, which
SeaweedFS checks more slowly than static keys (the "s3:// load, vended keys" line shows that
part, and the ratios against it).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

import shoal
from s3 import cpu_seconds  # benches/s3.py: this file runs from benches/
from shoal.auth import hub_grants
from shoal.auth.platform_api import PlatformClient, run
from shoal.platform.config import ServerConfig
from shoal.platform.server import BackgroundServer

TARGET = 1.5
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    """The platform: ``shoal serve`` in its own process (as deployed), or, with
    ``--in-process``, on a thread of this one (sharing its GIL: a pessimistic setup)."""

    def __init__(self, data_dir: str, in_process: bool, **settings: Any) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.thread: BackgroundServer | None = None
        if in_process or settings:
            config = ServerConfig.load(
                None, env={}, data_dir=data_dir, port=0, log_level="warning", **settings
            )
            self.thread = BackgroundServer(config).start()
            self.url, self.where = self.thread.url, "in this process"
            return
        env = dict(
            os.environ, PYTHONPATH=os.path.join(REPO, "python"), SHOAL_SERVE_LOG_LEVEL="warning"
        )
        cmd = [sys.executable, "-m", "shoal.cli", "serve", "--port", "0", "--data-dir", data_dir]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if "listening on " not in first:
            self.stop()
            raise RuntimeError(f"shoal serve did not start: {first!r}")
        self.url, self.where = first.split("listening on ")[1].split()[0], "`shoal serve` process"

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def start_s3_root(
    stack: ExitStack, workdir: Path
) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    """SeaweedFS with STS on loopback (the test servers' setup, with hour-long tokens):
    returns the platform settings for an s3:// root, the admin's creds for direct opens and
    the SeaweedFS process id."""
    sys.path.insert(0, REPO)
    from tests.servers.aws_meta import FakeAwsMeta
    from tests.servers.s3_fixtures import (
        ADMIN,
        BUCKET,
        READER,
        ROLE_RW,
        WRITER,
        S3Server,
        _iam_config,
    )
    from tests.servers.seaweedfs import SeaweedFS, wait_writable

    meta = stack.enter_context(FakeAwsMeta())
    iam = _iam_config(meta.url, meta.audience)
    iam["sts"]["tokenDuration"] = "1h"
    workdir.mkdir(parents=True, exist_ok=True)
    weed = SeaweedFS(workdir, identities=[ADMIN, READER, WRITER], iam=iam, autocreate_buckets=False)
    weed.start()
    stack.callback(weed.stop)
    s3 = S3Server(weed, weed.endpoint)
    wait_writable(s3.client(), BUCKET)
    settings = {
        "storage_root": f"s3://{BUCKET}/bench",
        "storage_creds": s3.creds(),
        "sts_role_arn": ROLE_RW,
    }
    return settings, {**s3.creds(), "bucket": BUCKET}, weed.pid


def connect_org(
    url: str, token: str, src: str, secret: dict[str, Any], allow_static: bool = False
) -> str:
    """An org whose creds key ``k`` holds ``secret`` (keys plus a role to assume, so vends are
    scoped; or, with ``allow_static``, the keys themselves, handed out as they are), and
    ``src`` connected to it; the ``hub://`` path."""
    client = PlatformClient(url, token)
    run(client.request("POST", "/api/organizations", body={"name": "benchorg"}))
    body = {"name": "k", "kind": "aws-keys", "secret": secret, "allow_static": allow_static}
    run(client.request("POST", "/api/org/benchorg/creds", body=body))
    return str(shoal.connect(src, "k", org_id="benchorg", token=token).path)


def timings(
    fn: Callable[[], object], repeat: int, before: Callable[[], None] | None = None
) -> list[float]:
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def line(name: str, ours: list[float], base: list[float]) -> None:
    med, bmed = statistics.median(ours), statistics.median(base)
    ratio = med / bmed
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(
        f"{name:<30} median {med * 1e3:7.2f} ms (min {min(ours) * 1e3:6.2f})  "
        f"direct {bmed * 1e3:7.2f} ms  ratio {ratio:5.2f}x (target <= {TARGET}x) {verdict}"
    )


def cpu_per_open(
    weed_pid: int | None,
    platform_pid: int | None,
    direct: Callable[[], None],
    via_hub: Callable[[], None],
    repeat: int,
) -> None:
    """CPU per open of this process (the platform too, with --in-process), the `shoal serve`
    process (without it) and SeaweedFS: steadier than wall times on a busy machine."""
    cases = (("direct s3://", direct, None), ("hub://, creds cached", via_hub, None))
    for name, fn, before in (*cases, ("hub://, 1 round trip", via_hub, hub_grants.clear_cache)):
        c0, w0, p0 = time.process_time(), cpu_seconds(weed_pid), cpu_seconds(platform_pid)
        for _ in range(repeat):
            if before is not None:
                before()
            fn()
        ours = (time.process_time() - c0) / repeat
        store = (cpu_seconds(weed_pid) - w0) / repeat
        platform = (
            f", platform {(cpu_seconds(platform_pid) - p0) / repeat * 1e3:5.2f} ms"
            if platform_pid is not None
            else ""
        )
        print(
            f"{'CPU, ' + name:<30} this process {ours * 1e3:5.2f} ms, SeaweedFS "
            f"{store * 1e3:5.2f} ms{platform}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--tensors", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--in-process", action="store_true", help="run the platform on a thread")
    parser.add_argument("--s3", action="store_true", help="storage root on SeaweedFS (in-process)")
    parser.add_argument(
        "--connected",
        action="store_true",
        help="a dataset connected from s3:// on SeaweedFS (an org's creds key, STS-scoped) vs "
        "loading that s3:// path with the same keys",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="with --connected: the org's key opts in to handing out its own (unscoped) keys, "
        "so both paths load with the very same keys",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="shoal-bench-platform-") as tmp, ExitStack() as stack:
        os.environ["SHOAL_CONFIG_DIR"] = os.path.join(tmp, "client")
        settings: dict[str, Any] = {}
        direct_creds: dict[str, Any] | None = None
        role_arn = bucket = ""
        weed_pid: int | None = None
        if args.s3 or args.connected:
            settings, direct_creds, weed_pid = start_s3_root(stack, Path(tmp) / "weed")
            bucket = direct_creds.pop("bucket")
        if args.connected:
            role_arn, settings = settings["sts_role_arn"], {}
        server = Server(os.path.join(tmp, "data"), args.in_process, **settings)
        try:
            url = server.url
            os.environ["SHOAL_PLATFORM_URL"] = url
            client = PlatformClient(url)
            run(client.register("bench", "bench@example.com", "bench-password"))
            token = run(client.login("bench", "bench-password"))["token"]
            path = "hub://bench/ds"
            if args.connected:
                assert direct_creds is not None
                direct_path = f"s3://{bucket}/connected/ds"
                ds = shoal.empty(direct_path, creds=direct_creds)
                secret = (
                    dict(direct_creds) if args.static else {**direct_creds, "role_arn": role_arn}
                )
                path = connect_org(url, token, direct_path, secret, allow_static=args.static)
            else:
                ds = shoal.empty(path, token=token)
            with ds:
                for t in range(args.tensors):
                    ds.create_tensor(f"t{t}", htype="generic", dtype="float32")
                    ds[f"t{t}"].extend(np.ones((args.samples, 16), dtype=np.float32))
            if not args.connected:
                direct_path = run(PlatformClient(url, token).dataset_info("bench", "ds"))["path"]

            def direct() -> None:
                shoal.load(direct_path, read_only=True, creds=direct_creds)

            def via_hub() -> None:
                shoal.load(path, read_only=True, token=token)

            creds_call = PlatformClient(url, token)
            org, name = path.removeprefix("hub://").split("/")
            vended = run(creds_call.dataset_creds(org, name, "r"))["creds"]
            session_keys = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

            def direct_vended() -> None:
                """The s3:// load with the vended (STS session) credentials: what the store
                itself adds for them, apart from anything the hub:// path does."""
                own = {k: vended[k] for k in session_keys if k in vended}
                shoal.load(direct_path, read_only=True, creds={**(direct_creds or {}), **own})

            for fn in (direct, via_hub):  # warm up imports, page cache, the loop
                for _ in range(5):
                    fn()
            # Interleaved, so drift (other work on the machine) hits all of them alike.
            base: list[float] = []
            warm: list[float] = []
            cold: list[float] = []
            sts: list[float] = []
            for _ in range(args.repeat):
                base += timings(direct, 1)
                warm += timings(via_hub, 1)
                cold += timings(via_hub, 1, before=hub_grants.clear_cache)
                if args.connected:
                    sts += timings(direct_vended, 1)
            print(
                f"platform load: {args.tensors} tensors x {args.samples} samples, {args.repeat} runs each, "
                f"platform at {url} ({server.where}); load average {os.getloadavg()[0]:.2f}"
            )
            line("hub:// load, creds cached", warm, base)
            line("hub:// load, 1 round trip", cold, base)
            trip = timings(lambda: run(creds_call.dataset_creds(org, name, "r")), args.repeat)
            print(f"{'the round trip alone':<30} median {statistics.median(trip) * 1e3:7.2f} ms")
            if args.connected:
                # The org's keys are static; the hub:// path reads with STS session
                # credentials the platform vends from them, which the store checks on every
                # GET. These lines set the hub:// loads against s3:// with those same
                # credentials (information, not the target).
                med = statistics.median
                print(
                    f"{'s3:// load, vended keys':<30} median {med(sts) * 1e3:7.2f} ms "
                    f"({med(sts) / med(base):.2f}x the org's keys); hub:// against it: "
                    f"creds cached {med(warm) / med(sts):.2f}x, 1 round trip "
                    f"{med(cold) / med(sts):.2f}x"
                )
                platform_pid = server.proc.pid if server.proc is not None else None
                cpu_per_open(weed_pid, platform_pid, direct, via_hub, args.repeat)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
