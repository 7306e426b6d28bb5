"""``ds.info`` and ``tensor.info``: a dict whose changes are written with the next flush."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class Info:
    """Dict-like user metadata. Keys are also attributes (``tensor.info.class_names``)."""

    __slots__ = ("_data", "_on_change")

    def __init__(self, data: dict[str, Any], on_change: Callable[[], None]) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_on_change", on_change)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"info has no key {key!r}; keys: {sorted(self._data)}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._on_change()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Info):
            return bool(self._data == other._data)
        return bool(self._data == other)

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def values(self) -> Any:
        return self._data.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        import json

        new = dict(*args, **kwargs)
        try:
            json.dumps(new)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"info values must be JSON-serialisable: {exc}") from None
        self._data.update(new)
        self._on_change()

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return repr(self._data)
