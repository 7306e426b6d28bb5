"""shoal's benchmark harness.

    .venv/bin/python -m benches                          # the loader suite, quick (~256 MB)
    .venv/bin/python -m benches loader --size-mb 1200 --rounds 3 --plot docs/loader-bench.png
    .venv/bin/python -m benches micro [assemble lz4 ...] # benches/run.py (core micro benches)
    .venv/bin/python -m benches s3 [ranged open rw]      # any other benches/<name>.py by name
    .venv/bin/python -m benches list                     # what there is

The loader suite (benches/suite.py) starts SeaweedFS on loopback and measures shoal's loader
on four datasets against deeplake 3.9.52 (its venv: bash .ci/setup-deeplake-venv; Debian's
python3-torch for its pytorch()) and against raw aiobotocore GETs and PUTs of the same
chunk objects, then prints a table of ratios, writes a JSON file and can draw a plot
(matplotlib, an optional dependency: pip install 'shoal[bench]').
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

BENCHES = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHES))

# The harness's own modules; every other benches/<name>.py with a main is a sub-command.
_INTERNAL = {"__main__", "suite", "suite_data", "suite_deeplake", "suite_raw", "suite_report"}
_INTERNAL |= {"suite_shoal", "deeplake_side"}
_ALIASES = {"micro": "run"}


def _others() -> dict[str, Path]:
    found = {}
    for path in sorted(BENCHES.glob("*.py")):
        if path.stem in _INTERNAL or "__main__" not in path.read_text():
            continue
        found[path.stem.replace("_", "-")] = path
    for alias, stem in _ALIASES.items():
        if (BENCHES / f"{stem}.py").exists():
            found[alias] = BENCHES / f"{stem}.py"
    return found


def _loader_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benches loader", description=__doc__.split("\n\n")[2]
    )
    p.add_argument(
        "--size-mb", type=float, default=256, help="raw image bytes (1000-2000 for the full run)"
    )
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds per dataset")
    p.add_argument("--datasets", nargs="+", default=["raw", "jpeg", "embeddings", "texts"])
    p.add_argument("--prefetch-mb", type=float, default=256, help="the loader's prefetch_bytes")
    p.add_argument(
        "--dl-workers", type=int, nargs="+", default=[0, 2], help="pytorch() num_workers"
    )
    p.add_argument("--json", type=Path, default=None, help="results file (default: bench-data/)")
    p.add_argument("--plot", type=Path, default=None, help="draw the ratios into this PNG")
    p.add_argument("--profile", type=Path, default=None, help="py-spy flame graphs into this dir")
    args = p.parse_args(argv)
    import suite_data

    bad = sorted(set(args.datasets) - set(suite_data.KINDS))
    if bad:
        p.error(f"unknown dataset(s) {bad}; choose from {list(suite_data.KINDS)}")
    if args.rounds < 1 or args.size_mb <= 0 or args.prefetch_mb <= 0:
        p.error("--rounds, --size-mb and --prefetch-mb must be positive")
    return args


def loader(argv: list[str]) -> None:
    args = _loader_args(argv)
    import s3 as s3bench
    import suite
    import suite_report
    from shoal import _native

    if _native.build_profile != "release":
        print("warning: shoal._native is a debug build; numbers are meaningless", file=sys.stderr)
    if not os.access(s3bench.DL_PYTHON, os.X_OK):
        raise SystemExit(f"no deeplake python at {s3bench.DL_PYTHON}: run .ci/setup-deeplake-venv")
    suite.prepare_env()
    args.json = args.json or s3bench.DATA / "loader-suite.json"
    run = suite.Run(args)
    suite.log(
        f"loader suite: ~{args.size_mb:g} MB of raw images, {args.rounds} rounds, "
        f"prefetch_bytes {args.prefetch_mb:g} MiB, {os.cpu_count()} cores, SeaweedFS on loopback"
    )
    results = run.main()
    summary = suite_report.summarise(results)
    print()
    print(suite_report.table(summary))
    print()
    for line in suite_report.verdicts(summary):
        print(line)
    suite_report.write_json(results, summary, args.json)
    print(f"results: {args.json}")
    if args.plot is not None:
        title = (
            f"shoal loader vs deeplake 3.9.52 and raw S3 I/O (SeaweedFS, loopback, "
            f"{os.cpu_count()} cores, ~{args.size_mb:g} MB images)"
        )
        if suite_report.plot(summary, args.plot, title):
            print(f"plot: {args.plot}")
        else:
            print("no plot: matplotlib is not installed (pip install matplotlib)")


def main() -> None:
    argv = sys.argv[1:]
    others = _others()
    name = argv[0] if argv and not argv[0].startswith("-") else "loader"
    rest = argv[1:] if argv and not argv[0].startswith("-") else argv
    if name == "loader":
        loader(rest)
    elif name == "list":
        print("loader (default): the loader suite; --help for its options")
        for other, path in others.items():
            print(f"{other}: benches/{path.name}")
    elif name in others:
        sys.argv = [str(others[name]), *rest]
        runpy.run_path(str(others[name]), run_name="__main__")
    else:
        raise SystemExit(f"unknown benchmark {name!r}; choose from loader, {', '.join(others)}")


main()
