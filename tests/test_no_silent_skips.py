"""No test skips itself because a module is missing. CI installs every dependency and
tests/conftest.py fails the run up front without the native extension, so an
``importorskip`` could only turn a broken install into a green run with tests missing."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_test_skips_on_a_missing_module() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
            ):
                offenders.append(f"tests/{path.relative_to(TESTS)}:{node.lineno}")
    assert not offenders, (
        "these skip when a module is missing; let the import fail instead: " + ", ".join(offenders)
    )
