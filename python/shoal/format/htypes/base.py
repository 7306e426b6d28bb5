"""What an htype is: the base class every htype module instantiates once.

An htype says what its tensors store and how: the dtype and compressions a new tensor may take,
the extra keys of its meta (and which of them live in ``tensor_info.json``), the hidden
companion tensors it gets, what users may append, and the form samples come back in. Generic
machinery (chunking, tiling, compression codecs, casting) stays in the engine; an htype only
says what differs from a plain numeric array.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from ...errors import CorruptDataError, InvalidCompressionError, InvalidHtypeError

# image sample/chunk compressions shoal encodes and decodes (see format.image_codecs)
IMAGE_COMPRESSIONS = frozenset({"png", "jpeg", "bmp", "tiff", "webp"})
BYTE_COMPRESSIONS = frozenset({"lz4"})
# Meta dtypes that name no numpy dtype: the samples are serialised objects.
OBJECT_DTYPES = frozenset({"str", "Any", "List"})
COMPANION_KINDS = ("info", "shape", "id")  # the order deeplake creates them in


@dataclass(frozen=True)
class Blob:
    """A sample serialised to bytes by its htype (text, json): stored as is, no dtype."""

    data: bytes
    shape: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Encoded:
    """An encoded file (image bytes or a path to one): the engine probes and stores it."""

    data: bytes | bytearray | memoryview | os.PathLike[str]


@dataclass
class SampleContext:
    """What an htype may look at (and change) while converting one tensor's samples."""

    tensor: str
    info: dict[str, Any]  # the tensor's info, a copy the caller installs if all samples pass
    new_class_names: list[str] = field(default_factory=list)  # names this batch adds
    index: int = 0  # the sample's position in the batch, for messages
    ndim: int | None = None  # sample dimensions the tensor (or this batch so far) fixed


class HType:
    """One htype. Subclasses set the class attributes and override what differs."""

    name: str = ""
    # dtype a new tensor gets when the user gives none (None: the first sample's dtype)
    default_dtype: ClassVar[str | None] = None
    # set for htypes whose samples are serialised objects: the meta dtype they always store
    object_dtype: ClassVar[str | None] = None
    # extra meta keys and their defaults, as deeplake 3.9.52's HTYPE_CONFIGURATIONS has them
    # (without "dtype" and "_info"); keys starting with "_" are not user options
    meta_defaults: ClassVar[Mapping[str, Any]] = {}
    # meta_defaults keys whose user value is kept in tensor_info.json; the meta keeps the default
    info_keys: ClassVar[tuple[str, ...]] = ()
    sample_compressions: ClassVar[frozenset[str]] = BYTE_COMPRESSIONS
    chunk_compressions: ClassVar[frozenset[str]] = BYTE_COMPRESSIONS
    # hidden tensors created with a visible tensor of this htype, from COMPANION_KINDS
    companions: ClassVar[tuple[str, ...]] = ("shape", "id")
    creatable: ClassVar[bool] = True  # False: shoal reads and appends, but does not create
    # a whole numeric batch array may be staged in one step (see batch_shape)
    batch_arrays: ClassVar[bool] = True
    # tiles of uncompressed samples keep the last axis whole (channels, box coordinates)
    tile_keeps_last_axis: ClassVar[bool] = True
    # Tensor methods that read this htype's own form, e.g. "text" or "dict"
    read_methods: ClassVar[frozenset[str]] = frozenset()
    # samples may be paths of files (os.PathLike), read by the engine before ``convert``
    reads_files: ClassVar[bool] = False
    # companion kind -> the name its link functions take instead of the kind (``extend_len``)
    companion_links: ClassVar[Mapping[str, str]] = {}

    def bind(self, meta: Mapping[str, Any]) -> HType:
        """This htype for one tensor: htypes whose stored bytes depend on the tensor's dtype or
        compression (polygons, images) return a copy that knows them (:meth:`_bound`)."""
        return self

    def _bound(self, **flags: Any) -> Self:
        """This htype with per-tensor ``flags`` set: itself if they hold already, else a copy."""
        if all(getattr(self, k) == v for k, v in flags.items()):
            return self
        bound = copy.copy(self)
        for k, v in flags.items():
            setattr(bound, k, v)
        return bound

    # -- creating a tensor -------------------------------------------------------------------
    @property
    def is_object(self) -> bool:
        """Samples are serialised objects (text, json): stored as bytes, never tiled, no
        fixed shape, no numpy dtype."""
        return self.object_dtype is not None

    @property
    def has_info(self) -> bool:
        return "info" in self.companions

    @property
    def has_shape(self) -> bool:
        return "shape" in self.companions

    def options(self) -> list[str]:
        """The keyword arguments ``create_tensor`` accepts for this htype."""
        return sorted(k for k in self.meta_defaults if not k.startswith("_"))

    def check_option(self, key: str, value: Any) -> Any:
        """Validate one htype keyword argument; returns the value to store."""
        return value

    def split_options(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(meta extras, info)`` for a new tensor given the user's htype keyword arguments."""
        meta = copy.deepcopy(dict(self.meta_defaults))
        if self.info_keys:
            meta["_info"] = list(self.info_keys)
        info: dict[str, Any] = {}
        accepted = self.options()
        for key, value in kwargs.items():
            if key not in accepted:
                raise InvalidHtypeError(
                    f"unknown argument {key}={value!r} for htype {self.name!r}; "
                    f"accepted: {accepted or 'none'}"
                )
            value = self.check_option(key, value)
            if key in self.info_keys:
                info[key] = value
            else:
                meta[key] = value
        for key in self.info_keys:
            info.setdefault(key, copy.deepcopy(self.meta_defaults[key]))
        return meta, info

    def check_dtype(self, dtype: Any) -> str | None:
        """The dtype name to store for a new tensor (None: inferred from the first sample)."""
        if self.object_dtype is not None:
            if dtype is not None and str(dtype) not in (self.object_dtype, "str", "Any", "object"):
                raise InvalidHtypeError(
                    f"htype {self.name!r} stores {self.object_dtype}; do not pass dtype={dtype!r}"
                )
            return self.object_dtype
        if dtype is None:
            return self.default_dtype
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise InvalidHtypeError(
                f"dtype {dtype!r} is not a numpy dtype; use e.g. 'uint8', 'float32', 'bool'"
            ) from None
        if dt.kind not in "biuf":
            raise InvalidHtypeError(
                f"dtype {dt.name!r} cannot be stored; use a numeric or bool dtype "
                "(or htype='text' / 'json' for strings and objects)"
            )
        return str(dt.name)

    def check_compression(self, kind: str, value: str) -> None:
        """Refuse a (known, normalised) compression this htype cannot store."""
        allowed = (
            self.chunk_compressions if kind == "chunk_compression" else self.sample_compressions
        )
        if value in allowed:
            return
        if not self.sample_compressions and not self.chunk_compressions:
            raise InvalidCompressionError(
                f"{self.name!r} tensors cannot be compressed ({kind}={value!r}); drop the "
                "compression"
            )
        if value in IMAGE_COMPRESSIONS:
            raise InvalidCompressionError(
                f"{kind}={value!r} is an image compression; it fits htype 'image', not "
                f"{self.name!r}"
            )
        raise InvalidCompressionError(
            f"htype {self.name!r} does not take {kind}={value!r}; it takes {sorted(allowed)} "
            "(or None for no compression)"
        )

    # -- appending ---------------------------------------------------------------------------
    def convert(self, sample: Any, ctx: SampleContext) -> Any:
        """Turn what a user appends into a :class:`Blob`, an :class:`Encoded` file, or an
        array-like the engine checks and casts to the tensor's dtype."""
        return sample

    def check_array(self, arr: np.ndarray, ctx: SampleContext) -> np.ndarray:
        """Check (and reshape) one sample as an array of the tensor's dtype."""
        return arr

    def batch_shape(
        self, batch: np.ndarray, sample_shape: tuple[int, ...], ndim: int | None
    ) -> tuple[int, ...] | None:
        """Each sample's shape when a whole numeric batch array is staged at once; None: take
        the per-sample path, which raises the precise error or converts."""
        return sample_shape if self.batch_arrays else None

    # -- reading -----------------------------------------------------------------------------
    def decode(self, data: bytes, tensor: str) -> Any:
        """One stored sample of an object htype as its Python object."""
        raise CorruptDataError(f"tensor {tensor!r}: htype {self.name!r} stores arrays, not bytes")

    def numpy_form(self, values: list[Any], scalar: bool, aslist: bool) -> Any:
        """Decoded samples of an object htype as ``numpy()`` returns them."""
        if scalar:
            return np.array(values[:1], dtype=object)
        arr = np.empty((len(values), 1), dtype=object)
        for i, v in enumerate(values):
            arr[i, 0] = v
        return list(arr) if aslist else arr

    def value_shape(self, value: Any) -> tuple[int, ...]:
        """The shape of one decoded sample of an object htype, as ``t[i].shape`` gives it."""
        return (1,)

    def data_form(self, value: Any, info: Mapping[str, Any], scalar: bool) -> dict[str, Any]:
        """What ``data()`` returns, given the samples as ``numpy()`` (arrays) or ``decode``
        (object htypes) gave them: ``value`` for one sample, a list or array for several."""
        return {"value": value}

    def public_dtype(self, stored: np.dtype | None) -> np.dtype | None:
        """``Tensor.dtype``: the stored dtype, or what object samples read as."""
        return np.dtype(object) if self.is_object else stored

    def summary_dtype(self, stored: np.dtype | None) -> str:
        """The dtype column of ``Dataset.summary()``."""
        if self.object_dtype is not None:
            return self.object_dtype
        return stored.name if stored is not None else "None"

    def __repr__(self) -> str:
        return f"<htype {self.name!r}>"


def array_dtype(meta_dtype: Any) -> np.dtype | None:
    """The numpy dtype of a tensor's samples, from its meta's ``dtype`` (None: not fixed yet,
    or serialised objects)."""
    if meta_dtype is None or meta_dtype in OBJECT_DTYPES:
        return None
    return np.dtype(str(meta_dtype))
