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
    ├── SampleIndexError (IndexError)          a sample index out of range (pop, update)
    ├── TensorInUseError                       a tensor deleted or renamed while a view holds it
    ├── TensorTooLargeError                    delete_tensor of a big tensor without large_ok
    ├── DynamicShapeError (ValueError)         samples of different shapes asked for as one array
    ├── CodecError (ValueError)                image / lz4 encode or decode failed
    ├── CorruptDataError (ValueError)          bytes read from storage do not parse
    │   └── TruncatedDataError                 ... because they end early (``needed`` says how many)
    ├── VersionError (ValueError)              unknown branch or commit
    │   ├── BranchExistsError                  a branch created under a name that is taken
    │   ├── EmptyCommitError                   a commit with nothing to commit
    │   └── MergeConflictError                 a merge that needs a conflict_resolution
    ├── DatasetLockedError (PermissionError)   another writer holds the dataset's write lock
    ├── DatasetChangedError                    another writer changed it since this handle read it
    ├── InvalidCredsError (ValueError)         a ``creds`` argument shoal cannot use (unknown key, ...)
    ├── SettingError (ValueError)              an environment variable shoal cannot use
    ├── LoaderError (ValueError)               a loader argument shoal cannot use
    ├── TransformError                         a transform raised (``index``: the sample)
    │   └── ComputeArgumentError (ValueError)  a shoal.compute argument shoal cannot use
    ├── AllSamplesSkippedError                 shoal.compute with ignore_errors skipped every sample
    ├── IngestSourceError (ValueError)         ingest_classification's src: missing, empty, remote
    ├── LinkError                              a linked sample could not be read (``index``, ``path``)
    ├── StorageError (OSError)
    │   ├── NotFoundError (FileNotFoundError)  a missing object
    │   ├── BucketNotFoundError                the bucket (or container) itself does not exist
    │   ├── CredentialsError (PermissionError) credentials missing, rejected, expired or not allowed
    │   └── StorageConnectionError (ConnectionError)  the store cannot be reached (after retries)
    └── PlatformError                          the hub:// platform refused or failed a request
        ├── AuthenticationError (PermissionError)  no valid token, wrong password, unknown user
        │   ├── TokenExpiredError              ... because the token expired (``expired_at``)
        │   └── TokenRevokedError              ... because the token was revoked
        ├── PermissionDeniedError (PermissionError)  signed in, but not allowed (role, other org)
        ├── PlatformNotFoundError (FileNotFoundError)  unknown org, user or token name
        ├── PlatformConflictError (FileExistsError)  a name that is taken (user, org, token)
        ├── InvalidRequestError (ValueError)   a malformed name or value the platform rejects
        ├── RateLimitedError                   too many failed logins; ``retry_after`` seconds
        ├── PlatformConfigError (ValueError)   a server or client setting shoal cannot use
        │   └── InsecureConnectionError        plain http:// to a host that is not loopback
        ├── UntrustedGrantError                the platform vended storage shoal will not use
        └── PlatformConnectionError (ConnectionError)  the platform cannot be reached

Messages say what was wrong, which value, and what to do. They never contain secrets.
The native extension raises ``CorruptDataError``, ``TruncatedDataError`` and ``CodecError``
from this module directly.
"""

from __future__ import annotations

__all__ = [
    "AllSamplesSkippedError",
    "AuthenticationError",
    "BlockingCallWarning",
    "BranchExistsError",
    "BucketNotFoundError",
    "CodecError",
    "ComputeArgumentError",
    "CorruptDataError",
    "CredentialsError",
    "DatabaseUnavailableError",
    "DatasetChangedError",
    "DatasetExistsError",
    "DatasetLockedError",
    "DatasetNotFoundError",
    "DynamicShapeError",
    "EmptyCommitError",
    "IngestSourceError",
    "InsecureConnectionError",
    "InvalidCompressionError",
    "InvalidCredsError",
    "InvalidHtypeError",
    "InvalidRequestError",
    "LinkError",
    "LoaderError",
    "MergeConflictError",
    "NotFoundError",
    "PathError",
    "PermissionDeniedError",
    "PlatformConfigError",
    "PlatformConflictError",
    "PlatformConnectionError",
    "PlatformError",
    "PlatformNotFoundError",
    "RateLimitedError",
    "ReadOnlyError",
    "SampleError",
    "SampleIndexError",
    "SettingError",
    "ShoalError",
    "StorageConnectionError",
    "StorageError",
    "TensorExistsError",
    "TensorInUseError",
    "TensorNotFoundError",
    "TensorTooLargeError",
    "TokenExpiredError",
    "TokenRevokedError",
    "TransformError",
    "TruncatedDataError",
    "UnsupportedOptionError",
    "UntrustedGrantError",
    "VersionError",
]


class ShoalError(Exception):
    """Base class of every error shoal raises on purpose."""


def is_bad_sample(exc: BaseException) -> bool:
    """Whether ``exc`` says a sample given to a write was bad (what ``ignore_errors=True``
    skips), as opposed to a failing store, a lock or a read-only dataset."""
    if isinstance(exc, StorageError | ReadOnlyError | DatasetLockedError | VersionError):
        return False
    return isinstance(exc, ShoalError | ValueError | TypeError)


class BlockingCallWarning(ShoalError, RuntimeWarning):
    """A synchronous shoal call that does I/O was made while an event loop runs in the same
    thread, blocking that loop; the message names the awaitable twin to use instead."""


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


class SampleIndexError(ShoalError, IndexError):
    """A sample index out of range, negative where it may not be, or repeated (pop, update)."""


class TensorInUseError(ShoalError):
    """A tensor deleted or renamed while a view of it is still open."""


class TensorTooLargeError(ShoalError):
    """``delete_tensor`` of a tensor deeplake deems large, without ``large_ok=True``."""


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
    """An unknown branch or commit was asked for, or a version-control operation that the
    history does not allow (deleting the current branch, say)."""


class BranchExistsError(VersionError):
    """``checkout(name, create=True)`` with a name that is already a branch or commit."""


class EmptyCommitError(VersionError):
    """``commit()`` with no change since the last commit (pass ``allow_empty=True``)."""


class MergeConflictError(VersionError):
    """A merge changed the same samples on both sides and no ``conflict_resolution`` was
    given. ``conflicts``: ``{tensor name: [sample indices]}`` (an empty list: the tensor
    itself conflicts)."""

    def __init__(self, message: str, conflicts: dict[str, list[int]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class DatasetChangedError(ShoalError):
    """Another writer changed the branch head after this handle read it (seen when the
    handle takes the write lock): writing would undo their work. Open the dataset again."""


class DatasetLockedError(ShoalError, PermissionError):
    """Another process holds the write lock (``dataset_lock.lock``) of this branch head.
    ``holder`` (node id and process id), ``age`` (seconds since it was last written) and
    ``expires_in`` (seconds) say whose and for how long."""

    def __init__(self, message: str, holder: str, age: float, expires_in: float) -> None:
        super().__init__(message)
        self.holder, self.age, self.expires_in = holder, age, expires_in


class StorageError(ShoalError, OSError):
    """A storage operation failed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFoundError(StorageError, FileNotFoundError):
    """An object does not exist in storage."""


class InvalidCredsError(ShoalError, ValueError):
    """A ``creds`` argument shoal cannot use: wrong type, an unknown or misspelled key, half a
    key pair. The message names the key and the accepted ones, never a secret value."""


class LinkError(ShoalError):
    """A linked sample (``shoal.link(url)``) could not be read or appended: the object is
    missing, unreachable, refused its credentials, or is not the htype's kind of file.
    ``index`` is the sample's index in the tensor (None when appending), ``path`` its URL and
    ``creds_key`` the key it reads with; the cause is chained. Never holds a secret."""

    def __init__(
        self,
        message: str,
        index: int | None = None,
        path: str | None = None,
        creds_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.path = path
        self.creds_key = creds_key


class UnsupportedOptionError(ShoalError, ValueError):
    """A deeplake option whose effect shoal does not have (``access_method="download"``,
    ``indra=True``, ...): the message names it and what to do instead."""


class SettingError(ShoalError, ValueError):
    """An environment variable (``SHOAL_S3_MAX_ATTEMPTS=lots``, ...) shoal cannot use; the
    message names the variable, its value and what it must be."""


class LoaderError(ShoalError, ValueError):
    """A loader argument shoal cannot use (batch size, rank, tensor names, ...)."""


class TransformError(ShoalError):
    """A transform raised on a sample: a loader's ``transform`` or a :func:`shoal.compute`
    function (or writing what it gave). ``index`` is that sample's index in the input (None
    when no one sample is to blame), ``sample`` the input item (for ``shoal.compute``), and
    the exception that stopped it is the ``__cause__``."""

    def __init__(self, message: str, index: int | None, sample: object = None) -> None:
        super().__init__(message)
        self.index = index
        self.sample = sample


class ComputeArgumentError(TransformError, ValueError):
    """An argument of ``shoal.compute``/``shoal.compose``/``.eval`` shoal cannot use: an
    input without ``len``, an unknown scheduler, an output dataset that is read-only or whose
    tensors have different lengths, an empty ``compose``. Raised before anything runs."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None)


class AllSamplesSkippedError(ShoalError):
    """``shoal.compute`` with ``ignore_errors=True`` skipped every input sample: the
    transform itself is probably wrong. Nothing was written."""


class IngestSourceError(ShoalError, ValueError):
    """``ingest_classification`` cannot use its source: a folder that does not exist, holds no
    image files, is not local (``s3://...``), or is the destination itself."""


class BucketNotFoundError(StorageError):
    """The bucket (or container) a path names does not exist.

    Deliberately not a ``FileNotFoundError``: a missing bucket is a configuration problem, not
    a missing object, and must not read as "no dataset here".
    """


class CredentialsError(StorageError, PermissionError):
    """Credentials are missing, rejected by the store, expired, or do not allow the operation.

    The message names the path, the credential source that was tried (never a secret) and what
    to do.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StorageConnectionError(StorageError, ConnectionError):
    """The store could not be reached (connection refused, name lookup failed, timed out),
    after retries."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# -- the hub:// platform ----------------------------------------------------------------------


class PlatformError(ShoalError):
    """The platform (``shoal serve``, behind ``hub://`` paths) refused or failed a request.

    ``status`` is the HTTP status when there was a response.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AuthenticationError(PlatformError, PermissionError):
    """No valid token: none given, malformed, tampered with, or a wrong password/unknown user."""


class TokenExpiredError(AuthenticationError):
    """The token expired. ``expired_at`` is when (an aware ``datetime``), when known."""

    def __init__(
        self, message: str, *, status: int | None = None, expired_at: object = None
    ) -> None:
        super().__init__(message, status=status)
        self.expired_at = expired_at


class TokenRevokedError(AuthenticationError):
    """The token was revoked (``shoal token revoke`` or ``shoal logout``)."""


class PermissionDeniedError(PlatformError, PermissionError):
    """Signed in, but not allowed: a role too low, or an org the user is not a member of."""


class PlatformNotFoundError(PlatformError, FileNotFoundError):
    """The platform has no org, user or token by that name."""


class PlatformConflictError(PlatformError, FileExistsError):
    """A name that is already taken: a username, an org, a token name, a dataset."""


class InvalidRequestError(PlatformError, ValueError):
    """The platform rejected a value: an invalid name, a bad duration, a malformed body."""


class RateLimitedError(PlatformError):
    """Too many failed attempts; ``retry_after`` says how many seconds to wait."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float = 0.0
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class DatabaseUnavailableError(PlatformError):
    """The platform's database could not complete a change. ``saved`` says what is known:
    ``False`` (it was not made: retrying is safe) or ``None`` (the connection was lost while
    committing and the outcome could not be checked)."""

    def __init__(self, message: str, *, status: int | None = None, saved: bool | None = None):
        super().__init__(message, status=status)
        self.saved = saved


class PlatformConfigError(PlatformError, ValueError):
    """A platform setting (config file, ``SHOAL_SERVE_*`` variable, stored login) shoal cannot
    use. The message names the setting and where it came from."""


class InsecureConnectionError(PlatformConfigError):
    """Plain ``http://`` to a host that is not loopback: tokens and vended credentials would
    cross the network readable by anyone on the path. Use ``https://``, or opt in with
    ``SHOAL_ALLOW_INSECURE_HTTP=1``."""


class UntrustedGrantError(PlatformError):
    """The platform's answer for a dataset names storage or credentials a platform never
    vends (a local path from a remote platform, a store without vended credentials, a
    credential method that would use the user's own cloud login)."""


class PlatformConnectionError(PlatformError, ConnectionError):
    """The platform cannot be reached at its URL."""
