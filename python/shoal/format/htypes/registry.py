"""The htypes shoal knows, by name.

Every module of this package that defines ``HTYPE`` (an :class:`HType` instance) is registered
when the package is imported, so adding an htype means adding one module. Tests and extensions
may also call :func:`register_htype` at runtime.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import InvalidHtypeError
from .base import HType

_REGISTRY: dict[str, HType] = {}


def register_htype(htype: HType, replace: bool = False) -> HType:
    """Make ``htype`` known by its name; returns it."""
    if not isinstance(htype, HType):
        raise TypeError(f"register_htype takes an HType instance, got {type(htype).__name__}")
    if not htype.name or not isinstance(htype.name, str):
        raise InvalidHtypeError(f"{type(htype).__name__} has no name; set its `name`")
    if htype.name in _REGISTRY and not replace and _REGISTRY[htype.name] is not htype:
        raise InvalidHtypeError(f"htype {htype.name!r} is already registered")
    _REGISTRY[htype.name] = htype
    return htype


def unregister_htype(name: str) -> None:
    """Forget an htype registered at runtime (built-in ones come back on the next import)."""
    _REGISTRY.pop(name, None)


def known_htypes(creatable_only: bool = False) -> list[str]:
    """Names of the registered htypes, sorted."""
    return sorted(n for n, h in _REGISTRY.items() if h.creatable or not creatable_only)


# deeplake htypes shoal does not create: their samples are files only a decoder shoal does not
# have could read (what they hold, for the message)
UNSUPPORTED: dict[str, str] = {
    "dicom": "DICOM files (.dcm)",
    "nifti": "NIfTI volumes (.nii, .nii.gz)",
    "mesh": "meshes (.ply, .stl)",
}


def get_htype(name: Any) -> HType:
    """The htype called ``name``; ``InvalidHtypeError`` naming the known ones if none is."""
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        if isinstance(name, str) and name in UNSUPPORTED:
            raise InvalidHtypeError(
                f"shoal does not support htype {name!r}: its samples are {UNSUPPORTED[name]}, "
                "which shoal cannot decode. Store the decoded arrays in a 'generic' tensor, or "
                "use deeplake for this tensor"
            )
        raise InvalidHtypeError(f"unknown htype {name!r}; shoal supports {known_htypes(True)}")
    return found


def htype_of(name: Any) -> HType:
    """The htype to read (and append to) a stored tensor with. An htype shoal does not know
    (deeplake wrote it: audio, video, ...) is handled as a plain numeric array, as deeplake's
    generic htype is; a missing one is generic."""
    if name is None:
        name = "generic"
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    return found if found is not None else _ForeignHType(str(name))


class _ForeignHType(HType):
    """An htype deeplake knows and shoal does not: arrays, checked as generic ones."""

    creatable = False
    batch_arrays = False  # every sample takes the checked per-sample path

    def __init__(self, name: str) -> None:
        self.name = name


class HtypeSet:
    """The registered htypes with a property, as a live set of names (``"image" in s``)."""

    def __init__(self, test: Callable[[HType], bool]) -> None:
        self._test = test

    def __contains__(self, name: object) -> bool:
        found = _REGISTRY.get(name) if isinstance(name, str) else None
        return found is not None and self._test(found)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(n for n, h in _REGISTRY.items() if self._test(h)))

    def __len__(self) -> int:
        return sum(1 for h in _REGISTRY.values() if self._test(h))

    def __repr__(self) -> str:
        return f"HtypeSet({list(self)})"


def register_package_modules(package: str, path: list[str]) -> None:
    """Import every module of ``package`` and register the ``HTYPE`` it defines."""
    for mod in pkgutil.iter_modules(path):
        module = importlib.import_module(f"{package}.{mod.name}")
        htype = getattr(module, "HTYPE", None)
        if isinstance(htype, HType):
            register_htype(htype, replace=True)
