"""Numbers from environment variables: the one parser for every ``SHOAL_*`` tuning knob.

``env_int("SHOAL_S3_MAX_ATTEMPTS", 6, min=1)`` returns the default when the variable is unset
or empty, the parsed value otherwise, and raises :class:`~shoal.errors.SettingError` naming
the variable, the value and what it must be when the value is not a number or out of range.
Values are read at call time, so tests and long-running processes see changes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from .errors import SettingError

__all__ = ["env_float", "env_int", "env_number"]

N = TypeVar("N", int, float)


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"at least {minimum:g}"
    return f"at most {maximum:g}"


def env_number(
    name: str,
    default: N,
    *,
    parse: Callable[[str], N],
    kind: str,
    min: float | None = None,
    max: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> N:
    """``parse(os.environ[name])`` within ``[min, max]``, or ``default`` when unset or empty."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not {kind}; unset it or give {kind}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(f"{name}={raw!r} is not a finite number; unset it or give {kind}")
    if (min is not None and value < min) or (max is not None and value > max):
        raise SettingError(f"{name}={raw!r} is out of range: it must be {_bounds(min, max)}")
    return value


def env_int(
    name: str,
    default: int,
    *,
    min: int | None = None,
    max: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """An integer setting (``"64"``; ``"1_000"`` works too)."""
    return env_number(
        name, default, parse=int, kind="a whole number", min=min, max=max, environ=environ
    )


def env_float(
    name: str,
    default: float,
    *,
    min: float | None = None,
    max: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    """A real-valued setting (seconds, bytes per second, ...)."""
    return env_number(
        name, default, parse=float, kind="a number", min=min, max=max, environ=environ
    )
