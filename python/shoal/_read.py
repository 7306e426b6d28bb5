"""``shoal.read(path)``: a file as a sample, as ``deeplake.read`` gives one.

The file is a local path or an ``s3://``, ``gcs://`` or ``http(s)://`` URL; its bytes are read
once. Its compression is recognised from the bytes (PNG, JPEG, BMP, TIFF, WebP), else from
the file name.
Appended to an image tensor of the same sample compression, the bytes are stored unchanged
(no decode, no re-encode); otherwise they are decoded (``.array``) and stored as the tensor
wants.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import numpy as np

from . import _loop
from .errors import CodecError, NotFoundError, SampleError, StorageError
from .format import image_codecs
from .routing import open_storage, parse

_EXTENSIONS = {**image_codecs.EXTENSIONS, ".lz4": "lz4"}
_CLOUD = ("s3://", "gcs://", "gs://", "gcp://")
HTTP_TIMEOUT = 60.0


class Sample:
    """A file read for appending: ``.buffer`` (its bytes), ``.compression``, ``.path``,
    ``.shape``, ``.dtype`` and ``.array`` (decoded on first use)."""

    def __init__(self, buffer: bytes, path: str, compression: str | None) -> None:
        self.buffer = buffer
        self.path = path
        self.compression = compression
        self._array: np.ndarray | None = None
        self._probe: tuple[str, tuple[int, ...], str] | None = None
        if compression in image_codecs.DECODERS:
            from . import _native

            try:
                self._probe = _native.probe_image(buffer)
            except CodecError:
                self._probe = None

    # Image tensors take these bytes as an encoded file (see format.htypes.image).
    @property
    def __shoal_encoded__(self) -> bytes:
        return self.buffer

    @property
    def shape(self) -> tuple[int, ...]:
        if self._probe is not None:
            shape = tuple(self._probe[1])
            return shape if len(shape) == 3 else (*shape, 1)
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        if self._probe is not None:
            return np.dtype(self._probe[2])
        return self.array.dtype

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            if self.compression not in image_codecs.DECODERS:
                raise SampleError(
                    f"{self.path}: shoal decodes PNG, JPEG, BMP, TIFF and WebP files; this one is "
                    f"{self.compression or 'of an unknown format'}"
                )
            from .engine.samples import decode

            arr = decode(self.buffer, self.compression)
            self._array = arr if arr.ndim == 3 else arr[:, :, None]
        return self._array

    @property
    def __shoal_info__(self) -> dict[str, Any]:
        """What the tensor's sample info records for this file, as deeplake records it."""
        from ._exif import file_info

        # the file's own shape: (h, w) for a grayscale image, as deeplake records it
        shape = tuple(self._probe[1]) if self._probe is not None else self.shape
        return file_info(self.buffer, self.compression, shape, self.path)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        return f"Sample(path={self.path!r}, compression={self.compression!r})"


def _compression(data: bytes, path: str, given: str | None = None) -> str | None:
    """The file's format: from its first bytes, else as the caller says (deeplake's
    ``compression=``, for a path without an extension), else from the extension."""
    sniffed = image_codecs.sniff(data)
    if sniffed is not None:
        return sniffed
    if given is not None:
        return given.lower()
    return _EXTENSIONS.get(os.path.splitext(path.split("?")[0])[1].lower())


async def _fetch(path: str, creds: Any, timeout_s: float | None = None) -> bytes:
    lower = path.lower()
    if lower.startswith(("http://", "https://")):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=timeout_s or HTTP_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(path) as resp,
            ):
                if resp.status == 404:
                    raise NotFoundError(f"{path} answered 404 Not Found")
                if resp.status >= 400:
                    raise StorageError(f"{path} answered HTTP {resp.status}")
                return await resp.read()
        except aiohttp.ClientError as exc:
            raise StorageError(
                f"{path} is unreachable ({type(exc).__name__}); check the URL and the server"
            ) from None
    if lower.startswith(_CLOUD):
        scheme, rest = path.split("://", 1)
        bucket, _, key = rest.partition("/")
        if not key:
            raise SampleError(f"{path} names a bucket, not a file")
        store = await open_storage(parse(f"{scheme}://{bucket}"), read_only=True, creds=creds)
        try:
            return bytes(await store.get_buffer(key))
        finally:
            await store.close()

    def local() -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFoundError(f"no file at {path}; check the path") from None
        except IsADirectoryError:
            raise SampleError(f"{path} is a directory; shoal.read takes a file") from None

    return await asyncio.to_thread(local)


async def read_async(
    path: str | os.PathLike[str],
    creds: Any = None,
    verify: bool = False,
    compression: str | None = None,
    storage: Any = None,
    timeout: float | None = None,
) -> Sample:
    """:func:`read` for async code."""
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise SampleError(f"shoal.read takes a path or URL, got {path!r}")
    if storage is not None:
        from .storage import Storage

        if not isinstance(storage, Storage):
            raise SampleError(
                f"shoal.read(storage=...) takes a shoal storage provider, got "
                f"{type(storage).__name__}; or pass the file's full path or URL instead"
            )
        data = bytes(await storage.get_buffer(path))
    else:
        data = await _fetch(path, creds, timeout)
    return Sample(data, path, _compression(data, path, compression))


def read(
    path: str | os.PathLike[str],
    creds: Any = None,
    verify: bool = False,
    compression: str | None = None,
    storage: Any = None,
    timeout: float | None = None,
) -> Sample:
    """A file as a sample: ``ds.images.append(shoal.read("cat.jpg"))``. ``path``: a local
    path, or an ``s3://``/``gcs://`` (with ``creds``, as for datasets) or ``http(s)://``
    URL (``timeout``: seconds for the whole request), or a key of ``storage`` (a shoal
    storage provider). ``compression``: the file's format when neither its first bytes nor
    its extension tell it. Stored without re-encoding when the tensor's sample compression is
    the file's. ``verify`` is accepted for deeplake compatibility (images are always
    checked)."""
    return _loop.run(read_async(path, creds, verify, compression, storage, timeout))
