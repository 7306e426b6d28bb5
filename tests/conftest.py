"""Shared test configuration."""

from __future__ import annotations

import ast
import importlib
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=200)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

NOT_BUILT = "the native extension is not built: run bash scripts/setup.sh"


def _stub_names(stub: Path) -> set[str]:
    """The public functions, classes and constants the hand-written stub promises."""
    names: set[str] = set()
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") or n.startswith("__")}


def pytest_sessionstart(session: pytest.Session) -> None:
    """A missing, broken or stale native extension fails the whole run up front: otherwise it
    shows up as a scatter of import errors far from the cause, or as tests that never ran."""
    try:
        native = importlib.import_module("shoal._native")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a pyo3 panic during module init is not an Exception
        pytest.exit(f"{NOT_BUILT} (importing shoal._native failed: {e!r})", returncode=1)
    stub = Path(str(native.__file__)).with_name("_native.pyi")
    if stub.is_file():
        missing = sorted(n for n in _stub_names(stub) if not hasattr(native, n))
        if missing:
            pytest.exit(
                f"the native extension is out of date ({native.__file__} lacks "
                f"{', '.join(missing)}): run bash scripts/setup.sh",
                returncode=1,
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Two tests with one node id cannot both be selected or rerun by id, and pytest-xdist
    (scripts/test.sh), which schedules tests by node id, runs only one of them: fail the run instead."""
    counts = Counter(item.nodeid for item in items)
    twice = sorted(nodeid for nodeid, n in counts.items() if n > 1)
    if twice:
        raise pytest.UsageError(
            f"{len(twice)} test node ids are shared by several tests (give each its own "
            f"parameter id): {', '.join(twice[:5])}"
        )
