"""The public surface is exactly what ``__all__`` says, sorted, and nothing leaks."""

from __future__ import annotations

import shoal


def test_all_is_sorted_and_complete() -> None:
    assert shoal.__all__ == sorted(shoal.__all__)
    public = {n for n in dir(shoal) if not n.startswith("_")}
    # Submodules are importable but not part of the API unless listed.
    modules = {
        "api",
        "auth",
        "cli",
        "dataset",
        "engine",
        "format",
        "info",
        "links",
        "loader",
        "platform",
        "routing",
        "storage",
        "tensor",
        "version_control",
    }
    assert set(shoal.__all__) <= public
    assert public - set(shoal.__all__) <= modules


def test_every_error_is_a_shoal_error() -> None:
    for name in shoal.errors.__all__:
        cls = getattr(shoal.errors, name)
        assert issubclass(cls, shoal.errors.ShoalError)
