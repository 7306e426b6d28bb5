"""``ds.filter("labels == 'dog'")``: deeplake 3.9.52's string filters. deeplake evaluates the
string as Python, once per sample, with every tensor bound by name to that sample's value (a
group's tensors as attributes: ``train.labels``), with its own meaning for the operators
(``==`` against an array asks whether it holds the value; a class label compares with its
class names). shoal keeps that meaning but parses the string first and runs only what such a
query needs: tensor and group names, constants, comparisons, ``and``/``or``/``not``,
arithmetic, indexing, and the value's ``min``/``max``/``mean``/``shape``/``size`` and
``contains(...)``; no other calls, no builtins, no attributes starting with ``_``."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ShoalError

if TYPE_CHECKING:
    from .dataset import AsyncDataset

_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.Name, ast.Load, ast.Attribute, ast.Constant, ast.Subscript, ast.Slice, ast.Tuple,
    ast.List, ast.Call,
)  # fmt: skip
_VALUE_ATTRS = frozenset({"min", "max", "mean", "shape", "size", "contains"})


class QueryError(ShoalError, ValueError):
    """A filter string shoal cannot run: the message says what in it and why."""


def _checked(query: str) -> ast.Expression:
    try:
        tree = ast.parse(query.strip(), mode="eval")
    except SyntaxError as exc:
        raise QueryError(f"filter query {query!r} is not an expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise QueryError(
                f"filter query {query!r}: {type(node).__name__} is not allowed in a query; use "
                "tensor names, comparisons, and/or/not, arithmetic and indexing"
            )
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise QueryError(f"filter query {query!r}: no attribute {node.attr!r}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Attribute) and node.func.attr == "contains"
        ):
            raise QueryError(
                f"filter query {query!r}: the only call a query makes is x.contains(value)"
            )
    return tree


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


class Value:
    """One sample's value of a tensor, with the operators deeplake's query gives it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    @staticmethod
    def _raw(o: Any) -> Any:
        return o.value if isinstance(o, Value) else o

    def contains(self, v: Any) -> bool:
        return bool(self._raw(v) in self.value)

    @property
    def min(self) -> Any:
        return np.amin(self.value)

    @property
    def max(self) -> Any:
        return np.amax(self.value)

    @property
    def mean(self) -> Any:
        return np.mean(self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    def __getitem__(self, item: Any) -> Value:
        return Value(self.value[item])

    def __eq__(self, o: object) -> Any:
        o = self._raw(o)
        val = self.value
        if isinstance(val, (list, np.ndarray)):
            if isinstance(o, (list, tuple)):
                return set(o) == set(np.asarray(val).ravel().tolist())
            return o in val
        return val == o

    def __ne__(self, o: object) -> Any:
        return not self.__eq__(o)

    def __contains__(self, o: object) -> bool:
        return self.contains(o)

    def __lt__(self, o: Any) -> Any:
        return self.value < self._raw(o)

    def __le__(self, o: Any) -> Any:
        return self.value <= self._raw(o)

    def __gt__(self, o: Any) -> Any:
        return self.value > self._raw(o)

    def __ge__(self, o: Any) -> Any:
        return self.value >= self._raw(o)

    def __add__(self, o: Any) -> Any:
        return self.value + self._raw(o)

    def __sub__(self, o: Any) -> Any:
        return self.value - self._raw(o)

    def __mul__(self, o: Any) -> Any:
        return self.value * self._raw(o)

    def __truediv__(self, o: Any) -> Any:
        return self.value / self._raw(o)

    def __floordiv__(self, o: Any) -> Any:
        return self.value // self._raw(o)

    def __mod__(self, o: Any) -> Any:
        return self.value % self._raw(o)

    def __pow__(self, o: Any) -> Any:
        return self.value ** self._raw(o)

    # a numpy scalar on the left (``x.min + y``) defers to these instead of making an array
    __array_ufunc__ = None

    def __radd__(self, o: Any) -> Any:
        return self._raw(o) + self.value

    def __rsub__(self, o: Any) -> Any:
        return self._raw(o) - self.value

    def __rmul__(self, o: Any) -> Any:
        return self._raw(o) * self.value

    def __rtruediv__(self, o: Any) -> Any:
        return self._raw(o) / self.value

    __hash__ = None  # type: ignore[assignment]


class ClassLabels(Value):
    """A class label sample: compared with class names as with their indices."""

    def __init__(self, value: Any, classes: dict[str, int]) -> None:
        super().__init__(value)
        self.classes = classes

    def _label(self, o: Any) -> Any:
        o = self._raw(o)
        if isinstance(o, str):
            return self.classes[o]
        if isinstance(o, (list, tuple)):
            return type(o)(self._label(x) for x in o)
        return o

    def __eq__(self, o: object) -> Any:
        try:
            return super().__eq__(self._label(o))
        except KeyError:
            return False

    def contains(self, v: Any) -> bool:
        try:
            return super().contains(self._label(v))
        except KeyError:
            return False

    def _ordered(self, o: Any) -> Any:
        if isinstance(self._raw(o), str):
            raise QueryError("class labels are not ordered; compare them with == or contains")
        return o

    def __lt__(self, o: Any) -> Any:
        return super().__lt__(self._ordered(o))

    def __le__(self, o: Any) -> Any:
        return super().__le__(self._ordered(o))

    def __gt__(self, o: Any) -> Any:
        return super().__gt__(self._ordered(o))

    def __ge__(self, o: Any) -> Any:
        return super().__ge__(self._ordered(o))


class Group:
    """A group's tensors (and subgroups) as attributes."""

    def __init__(self, members: dict[str, Any]) -> None:
        self._members = members

    def __getattr__(self, name: str) -> Any:
        try:
            return self._members[name]
        except KeyError:
            raise QueryError(f"no tensor or group {name!r} in this group") from None


async def matching(view: AsyncDataset, query: str) -> list[int]:
    """Positions (in ``view``) of the samples for which ``query`` is true."""
    tree = _checked(query)
    names = view._tensor_names()
    chains = {d for node in ast.walk(tree) if (d := _dotted(node)) is not None}
    used = [
        n
        for n in names
        if any(c == n.replace("/", ".") or c.startswith(n.replace("/", ".") + ".") for c in chains)
    ]
    tops = {c.split(".")[0] for c in chains}
    unknown = sorted(t for t in tops if t not in {n.split("/")[0] for n in names})
    if unknown:
        raise QueryError(
            f"filter query {query!r}: no tensor or group {unknown[0]!r}; tensors: {sorted(names)}"
        )
    columns = {n: await view[n].numpy_async(aslist=True) for n in used}
    classes = {
        n: {c: i for i, c in enumerate(view[n].info.get("class_names") or [])}
        for n in used
        if view[n].htype == "class_label"
    }
    code = compile(tree, "<filter query>", "eval")
    keep = []
    for i in range(len(view)):
        env: dict[str, Any] = {}
        for n in used:
            v = columns[n][i]
            wrapped = ClassLabels(v, classes[n]) if n in classes else Value(v)
            _bind(env, n.split("/"), wrapped)
        try:
            hit = eval(code, {"__builtins__": {}}, _groups(env))  # checked above: no calls out
            keep_it = bool(hit)
        except QueryError:
            raise
        except ValueError as exc:
            raise QueryError(
                f"filter query {query!r} gives an array for sample {i} ({exc}); reduce it "
                "with .min, .max, .mean or contains(...)"
            ) from None
        except (TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError) as exc:
            raise QueryError(
                f"filter query {query!r} fails on sample {i}: {type(exc).__name__}: {exc}"
            ) from None
        if keep_it:
            keep.append(i)
    return keep


def _bind(env: dict[str, Any], path: list[str], value: Value) -> None:
    for part in path[:-1]:
        env = env.setdefault(part, {})
    env[path[-1]] = value


def _groups(env: dict[str, Any]) -> dict[str, Any]:
    return {k: Group(_groups(v)) if isinstance(v, dict) else v for k, v in env.items()}
