"""``shoal serve`` as a separate process on a free loopback port (settings through
``SHOAL_SERVE_*``), its log in a file: for tests and benches that need several replicas, or a
process to ``kill -9``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

__all__ = ["ServeProcess", "http"]


def http(
    url: str, method: str = "GET", body: Any = None, token: str | None = None, timeout: float = 30
) -> tuple[int, Any]:
    """``(status, parsed JSON)`` of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, method=method, data=data)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class ServeProcess:
    """One ``shoal serve`` process; :meth:`start` again after :meth:`kill` or :meth:`stop`
    restarts it on the same settings (a new port)."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.settings = {"data_dir": str(data_dir), "log_level": "info", **settings}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SHOAL_SERVE_", "SHOAL_TOKEN", "AWS_", "GOOGLE_"))
        }
        for name, value in self.settings.items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            env["SHOAL_SERVE_" + name.upper()] = text
        env["PYTHONPATH"] = str(REPO / "python")
        return env

    def start(self, timeout: float = 60) -> ServeProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shoal.cli", "serve", "--port", "0", "--host", "127.0.0.1"],
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.kill()
            tail = self.log_path.read_text()[-3000:]
            raise RuntimeError(f"shoal serve did not start: {line!r}; its log ends:\n{tail}")
        self.url = line.split("listening on ")[1].split()[0]
        while time.monotonic() < deadline:
            try:
                if http(self.url + "/api/health", timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"shoal serve at {self.url} is not healthy; see {self.log_path}")

    def kill(self) -> None:
        """``kill -9``: no shutdown of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
