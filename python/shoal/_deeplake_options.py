"""deeplake's options of ``load``, ``empty``, ``dataset``, ``delete`` and ``exists``, so that
code written for deeplake runs after changing the import.

Options that change nothing shoal does are accepted: ``verbose`` (shoal prints nothing on
open), the cache sizes (shoal's reads are ranged and concurrent, not cached per dataset),
``check_integrity`` (every open checks what it reads), ``reset`` (an open completes or drops
a flush a killed writer left, so there is never a corrupt head to reset). Options whose effect
shoal does not have are refused by name, with what to do instead, rather than ignored."""

from __future__ import annotations

from typing import Any

from .errors import UnsupportedOptionError


def check(
    fn: str,
    access_method: str = "stream",
    runtime: dict[str, Any] | None = None,
    indra: bool = False,
    index_params: dict[str, Any] | None = None,
    unlink: bool = False,
) -> None:
    """Refuse what ``fn`` (the caller's name, for the message) cannot do."""
    if access_method != "stream":
        raise UnsupportedOptionError(
            f"{fn}(access_method={access_method!r}): shoal streams datasets from where they are "
            "stored (access_method='stream'); for a local copy, "
            "shoal.deepcopy(path, local_path) and load that"
        )
    if unlink:
        raise UnsupportedOptionError(
            f"{fn}(unlink=True) goes with access_method='download', which shoal does not do; "
            "for a dataset without links, shoal.copy it and create_tensor_like(..., "
            "unlink=True)"
        )
    if runtime and runtime.get("tensor_db"):
        raise UnsupportedOptionError(
            f"{fn}(runtime={runtime!r}): the managed tensor database is not part of shoal; "
            "drop runtime= to store the dataset at its path"
        )
    if indra:
        raise UnsupportedOptionError(f"{fn}(indra=True): shoal reads datasets itself; drop indra=")
    if index_params:
        raise UnsupportedOptionError(
            f"{fn}(index_params=...): vector indexes are not part of shoal; drop index_params="
        )
