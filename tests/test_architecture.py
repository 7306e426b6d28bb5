"""The import graph agrees with docs/architecture.md: no module imports upward, no cycles,
and no module grows past the size at which it stops having one job."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "python" / "shoal"

# Bottom to top, as docs/architecture.md draws them. A module may import its own layer and
# the layers below it, never one above.
LAYERS: list[set[str]] = [
    {
        "errors",
        "_env",
        "_retry",
        "_secrets",
        "_files",
        "_index",
        "info",
        "_native",
        "_pool",
        "_meta",
        "_exif",
        "_deeplake_options",
        "_subindex",
    },
    {"_loop"},
    {"format"},
    {"auth"},
    {"storage"},
    {"routing"},
    {"engine", "links"},
    {"loader"},
    {
        "tensor",
        "dataset",
        "_editing",
        "_groups",
        "_sample_info",
        "_sequence",
        "_shapes",
        "_dataset_admin",
        "_dataset_copy",
        "_deeplake_attrs",
        "_tensor_appends",
        "_filter_query",
        "_views",
        "_views_optimize",
        "version_control",
        "_compute",
        "_compute_out",
        "_compute_write",
    },
    {"api", "_read", "_copy", "_like", "_ingest"},
    {"", "platform"},  # "": the package's __init__ (the public surface)
    {"cli"},
]
MAX_LINES = 500


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported shoal module, at module level)`` for every import outside TYPE_CHECKING."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                elif (child.module or "").startswith("shoal"):
                    target = child.module.removeprefix("shoal").lstrip(".")  # type: ignore[union-attr]
                else:
                    continue
                if child.module is None:  # from . import a, b: each name is a module
                    found.extend((f"{target}.{a.name}".lstrip("."), top) for a in child.names)
                else:
                    found.append((target, top))
            elif isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.startswith("shoal"):
                        found.append((a.name.removeprefix("shoal").lstrip("."), top))
            inner = top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            visit(child, inner)

    visit(ast.parse(path.read_text()), True)
    return found


def _layer(module: str) -> int:
    head = module.split(".")[0]
    for i, layer in enumerate(LAYERS):
        if head in layer:
            return i
    raise AssertionError(f"module shoal.{module} is in no layer of docs/architecture.md")


def test_no_module_imports_upward() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        for target, _ in _imports(path):
            if _layer(target) > _layer(module):
                upward.append(f"shoal.{module} imports shoal.{target}")
    assert upward == []


def test_no_import_cycles_at_module_level() -> None:
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for target, top in _imports(path):
            # (a target that is no module is the native extension)
            if top and target != module and target in modules:
                graph[module].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for m in sorted(modules):
        if m not in state:
            walk(m, [])
    assert cycles == [], cycles


def test_modules_stay_small() -> None:
    big = {
        f"shoal.{_module(p)}": n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    # the tests and benchmarks are held to the same size: one theme per module
    repo = ROOT.parents[1]
    for tree in ("tests", "benches"):
        big |= {
            str(p.relative_to(repo)): n
            for p in (repo / tree).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES
        }
    assert big == {}
