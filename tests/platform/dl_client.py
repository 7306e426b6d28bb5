"""Running a script under the real deeplake 3.9.52 client, against a platform on loopback.

The client-interop tests (hub datasets, connected datasets, managed-key links) all start the
deeplake venv's python the same way: a private HOME, deeplake's telemetry opt-outs, no proxy,
and none of the caller's Python or Activeloop settings. The script prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
DL_PYTHON = Path(
    os.environ.get("SHOAL_DEEPLAKE_PYTHON", REPO / ".venvs" / "deeplake" / "bin" / "python")
)


def run_deeplake_client(
    script: Path, args: list[str], home: Path, *, isolate_aws: bool = True
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run ``script args`` under deeplake; its last JSON line and the finished process.

    ``isolate_aws`` drops the caller's ``AWS_*`` settings and the instance-metadata lookup, so
    the client can reach a bucket only with what the platform vends.
    """
    dropped: tuple[str, ...] = ("PYTHON", "ACTIVELOOP", "VIRTUAL_ENV")
    if isolate_aws:
        dropped += ("AWS_",)
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        {
            "HOME": str(home),
            "SHOAL_DEEPLAKE_HOME": str(home),
            "BUGGER_OFF": "yes",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_PROXY": "*",
        }
    )
    if isolate_aws:
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    proc = subprocess.run(
        [str(DL_PYTHON), str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "blocked" not in out, out["blocked"]
    return out, proc
