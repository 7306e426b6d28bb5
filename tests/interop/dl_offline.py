"""Makes the deeplake venv's python offline, then imports deeplake 3.9.52 and numpy for the
interop scripts (dl_side.py and its command modules, benches/deeplake_side.py, dl_hub.py).

Before deeplake is imported: HOME points at a private directory (default <venv>/home) whose
~/.activeloop holds a fresh pypi_version.json (so deeplake's import-time version check never
asks pypi.org) and a reporting_config.json with consent false; BUGGER_OFF=yes too; and every
socket connection or name lookup that is not loopback raises. Runs ONLY under the deeplake venv.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

# --------------------------------------------------------------------------------------------
# Offline guard: must run before `import deeplake`.

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    return host in _LOOPBACK_NAMES or host.startswith("127.")


BLOCKED: list = []  # every refused attempt; main() fails the command if any happened


def _refuse(what: str) -> None:
    BLOCKED.append(what)
    print(f"dl_side: blocked network access to {what}", file=sys.stderr)
    raise OSError(f"dl_side: network access to {what} blocked (interop tests are offline)")


def _install_network_guard() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            _refuse(repr(host))
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                _refuse(repr(address))

    def connect(self, address):
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def _prepare_home() -> None:
    home = os.environ.get("SHOAL_DEEPLAKE_HOME") or os.path.join(sys.prefix, "home")
    os.environ["HOME"] = home
    os.environ["BUGGER_OFF"] = "yes"
    # never authenticate against anything
    for var in ("ACTIVELOOP_TOKEN", "ACTIVELOOP_AUTH_PROVIDER"):
        os.environ.pop(var, None)
    cfg = os.path.join(home, ".activeloop")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "pypi_version.json"), "w") as f:
        json.dump(["3.9.52", time.time()], f)  # "checked a moment ago": no request to pypi.org
    with open(os.path.join(cfg, "reporting_config.json"), "w") as f:
        json.dump({"consent": False, "client_id": "shoal-interop"}, f)


_prepare_home()
_install_network_guard()

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import deeplake  # noqa: E402
import numpy as np  # noqa: E402

assert deeplake.__version__ == "3.9.52", deeplake.__version__

# what the command modules import from here (numpy only after the guard, like deeplake)
__all__ = ["BLOCKED", "deeplake", "np"]
