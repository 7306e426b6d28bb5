"""The deeplake side of the interop tests.

Runs ONLY under the python of the deeplake 3.9.52 venv (made by .ci/setup-deeplake-venv); shoal's
tests never import it, they run it as a subprocess (see conftest.py). It must stay importable
without shoal and must not use anything newer than deeplake's numpy<2.

    python dl_side.py selftest
    python dl_side.py write-all DIR
    python dl_side.py write-versioned DIR           # prints {"commits": {...}} as JSON on stdout
    python dl_side.py dump PATH OUT [--branch B]    # B: a branch name or a commit id
    python dl_side.py append PATH SPEC_JSON [--branch B]  # SPEC_JSON: inline JSON or @file
    python dl_side.py check PATH
    python dl_side.py create-empty PATH SPEC_JSON   # SPEC_JSON: {"tensor": {create_tensor kwargs}}
    python dl_side.py lengths OUT PATH...           # per path: loads? tensor lengths, x, images
    python dl_side.py copy-delete SRC DST           # deeplake.copy SRC to DST, load it, delete SRC
    python dl_side.py exec SNIPPET [ARGS...]        # run a snippet (deeplake, np, argv given)
    python dl_side.py vc-run PATH STEPS NAMES       # a vc_ops script; prints the commit names
    python dl_side.py vc-dump PATH OUT              # vc_ops.dump of every version, as JSON
    python dl_side.py hold PATH                     # open for writing until stdin closes
    python dl_side.py try-append PATH               # append if not locked out; prints JSON
    python dl_side.py vc-summary OUT PATH...        # per path: loads? main's commits, x

The commands live in dl_write.py, dl_read.py and dl_check.py next to this script (shared bits in
dl_common.py); the offline guard is dl_offline.py, which every one of them imports first.

Offline by construction, before deeplake is imported:
* HOME points at a private directory (default <venv>/home) whose ~/.activeloop holds a fresh
  pypi_version.json (so deeplake's import-time version check never asks pypi.org) and a
  reporting_config.json with consent false; BUGGER_OFF=yes too (humbug crash/usage reports to
  spire.bugout.dev);
* every socket connection or name lookup that is not loopback raises, so a code path we missed
  fails loudly instead of phoning home.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback

import vc_ops
from dl_check import CheckFailed, check
from dl_common import die
from dl_lock import hold, try_append, vc_summary
from dl_offline import BLOCKED, deeplake, np
from dl_read import copy_delete, dump, lengths
from dl_write import append, create_empty, write_all, write_versioned

# --------------------------------------------------------------------------------------------


def selftest() -> None:
    import lz4.block  # noqa: F401
    import PIL

    print(
        json.dumps(
            {
                "deeplake": deeplake.__version__,
                "numpy": np.__version__,
                "pillow": PIL.__version__,
                "python": sys.version.split()[0],
            }
        )
    )


def main(argv: list) -> None:
    if not argv:
        die(__doc__ or "usage", 2)
    cmd, args = argv[0], argv[1:]
    branch = None
    if "--branch" in args:
        k = args.index("--branch")
        branch = args[k + 1]
        args = args[:k] + args[k + 2 :]
    try:
        if cmd == "selftest":
            selftest()
        elif cmd == "write-all" and len(args) == 1:
            write_all(args[0])
        elif cmd == "write-versioned" and len(args) == 1:
            print(json.dumps({"commits": write_versioned(args[0])}))
        elif cmd == "dump" and len(args) == 2:
            dump(args[0], args[1], branch)
        elif cmd == "append" and len(args) == 2:
            append(args[0], args[1], branch)
        elif cmd == "check" and len(args) == 1:
            check(args[0])
        elif cmd == "create-empty" and len(args) == 2:
            create_empty(args[0], args[1])
        elif cmd == "lengths" and len(args) >= 1:
            lengths(args[0], args[1:])
        elif cmd == "exec" and len(args) >= 1:
            globs = {"deeplake": deeplake, "np": np, "argv": args[1:]}
            runpy.run_path(args[0], init_globals=globs, run_name="__main__")
        elif cmd == "copy-delete" and len(args) == 2:
            copy_delete(args[0], args[1])
        elif cmd == "vc-run" and len(args) == 3:
            names = vc_ops.run(deeplake, args[0], json.loads(args[1]), json.loads(args[2]))
            print(json.dumps(names))
        elif cmd == "hold" and len(args) == 1:
            hold(args[0])
        elif cmd == "vc-summary" and len(args) >= 1:
            vc_summary(args[0], args[1:])
        elif cmd == "try-append" and len(args) == 1:
            try_append(args[0])
        elif cmd == "vc-dump" and len(args) == 2:
            with open(args[1], "w") as f:
                json.dump(vc_ops.dump(deeplake, args[0]), f)
        else:
            die(f"bad command line: {argv!r}\n{__doc__}", 2)
        if BLOCKED:
            die(f"deeplake tried to reach the network: {BLOCKED}")
    except CheckFailed as e:
        die(f"check failed:\n{e}")
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        die(f"{cmd} failed")


if __name__ == "__main__":
    main(sys.argv[1:])
