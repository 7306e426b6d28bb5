"""The one exception hierarchy of shoal.

Every error shoal raises on purpose is a :class:`ShoalError`. Where Python already has a
builtin for the situation, the shoal error also derives from it, so ``except
FileNotFoundError`` and ``except ValueError`` keep working::

    ShoalError
    ├── PathError (ValueError)                 a path shoal cannot route or parse
    ├── DatasetNotFoundError (FileNotFoundError)
    ├── DatasetExistsError (FileExistsError)
    ├── ReadOnlyError (PermissionError)        a write on a read-only dataset
    ├── TensorExistsError (ValueError)
    ├── TensorNotFoundError (KeyError)
    ├── InvalidHtypeError (ValueError)
    ├── InvalidCompressionError (ValueError)
    ├── SampleError (ValueError)               a sample the tensor cannot take (dtype, shape, type)
    ├── DynamicShapeError (ValueError)         samples of different shapes asked for as one array
    ├── CodecError (ValueError)                image / lz4 encode or decode failed
    ├── CorruptDataError (ValueError)          bytes read from storage do not parse
    │   └── TruncatedDataError                 ... because they end early (``needed`` says how many)
    ├── VersionError (ValueError)              unknown branch or commit
    └── StorageError (OSError)
        └── NotFoundError (FileNotFoundError)  a missing object

Messages say what was wrong, which value, and what to do. They never contain secrets.
The native extension raises ``CorruptDataError``, ``TruncatedDataError`` and ``CodecError``
from this module directly.
"""

from __future__ import annotations

__all__ = [
    "CodecError",
    "CorruptDataError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "DynamicShapeError",
    "InvalidCompressionError",
    "InvalidHtypeError",
    "NotFoundError",
    "PathError",
    "ReadOnlyError",
    "SampleError",
    "ShoalError",
    "StorageError",
    "TensorExistsError",
    "TensorNotFoundError",
    "TruncatedDataError",
    "VersionError",
]


class ShoalError(Exception):
    """Base class of every error shoal raises on purpose."""


class PathError(ShoalError, ValueError):
    """A dataset path has an unknown prefix or is malformed."""


class DatasetNotFoundError(ShoalError, FileNotFoundError):
    """No dataset exists at the path."""

    def __str__(self) -> str:
        # FileNotFoundError formats itself from errno/filename when those are set; we never set
        # them, but keep the plain message in any case.
        return str(self.args[0]) if self.args else ""


class DatasetExistsError(ShoalError, FileExistsError):
    """A dataset already exists where a new one was to be created."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(ShoalError, PermissionError):
    """A write was attempted on a dataset opened read-only."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TensorExistsError(ShoalError, ValueError):
    """A tensor with that name already exists."""


class TensorNotFoundError(ShoalError, KeyError):
    """The dataset has no tensor with that name."""

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; a message reads better plain.
        return str(self.args[0]) if self.args else ""


class InvalidHtypeError(ShoalError, ValueError):
    """An htype shoal does not know, or options that do not fit it."""


class InvalidCompressionError(ShoalError, ValueError):
    """A compression shoal does not know, or one that does not fit the tensor."""


class SampleError(ShoalError, ValueError):
    """A sample the tensor cannot take: wrong dtype, wrong number of dimensions, wrong type."""


class DynamicShapeError(ShoalError, ValueError):
    """Samples of different shapes cannot be returned as one array; use ``aslist=True``."""


class CodecError(ShoalError, ValueError):
    """Encoding or decoding a sample (png, jpeg, lz4) failed."""


class CorruptDataError(ShoalError, ValueError):
    """Bytes read from storage (a chunk, an encoder, a meta file) do not parse."""


class TruncatedDataError(CorruptDataError):
    """Bytes end before the structure they hold does.

    ``needed`` is the total number of bytes the structure needs, when known, so a reader that
    fetched only a prefix (a chunk header, say) can fetch exactly that many and try again.
    """

    def __init__(self, message: str, needed: int | None = None) -> None:
        super().__init__(message)
        self.needed = needed


class VersionError(ShoalError, ValueError):
    """An unknown branch or commit was asked for."""


class StorageError(ShoalError, OSError):
    """A storage operation failed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFoundError(StorageError, FileNotFoundError):
    """An object does not exist in storage."""
