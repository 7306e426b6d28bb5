"""``shoal.ingest_classification``: a local folder of images sorted into class folders, as a
new dataset (deeplake's ``ingest_classification``).

The layout is read as deeplake reads it. A file's class is the name of the folder holding it
and its *set* is the name of the folder above that; with one set (``data/cat/1.png``) the
dataset has an ``images`` and a ``labels`` tensor, with several (``data/train/cat/1.png``,
``data/test/...``) each set is a group (``train/images``, ``train/labels``, ...). Every label
tensor lists the class names of all sets, sorted. The images' sample compression is the most
common image extension among the files, unless ``image_params`` names one. The root is the
first folder (going down from ``src``) holding more than one sub-folder. Hidden files and
folders are ignored, as ``glob`` ignores them.

Samples are appended in the order ``glob`` lists the files, shuffled first (``shuffle=True``)
with the ``random`` module, as deeplake shuffles: the same ``random.seed`` gives the same
order. Images are stored as their files' bytes when their format is the tensor's (no
re-encoding); a file the tensor cannot take (not an image, a format shoal does not decode) is
stored as an empty sample, still labelled, and listed in the summary, as deeplake does.

Where shoal differs: ``image_params``/``label_params`` ``name`` names the tensors of every
split (deeplake uses it for the first split only), and the caller's dicts are left as they
were (deeplake pops ``name`` and adds ``sample_compression``); no ``__temp...`` groups are left behind; a ``.csv`` source (deeplake's dataframe
ingestion) and image formats other than PNG, JPEG, BMP, TIFF and WebP are not supported (such files are
skipped as unreadable ones are).
"""

from __future__ import annotations

import asyncio
import glob
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._read import read_async
from .errors import IngestSourceError, ShoalError

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset

IMAGES = "images"
LABELS = "labels"
BATCH = 64  # files read at once and appended in one extend

# The image file extensions deeplake counts when it picks the compression, matched as written
# (``.PNG`` is not counted, as in deeplake). The compression is the extension without its dot.
IMAGE_EXTENSIONS = (
    ".bmp",
    ".dib",
    ".eps",
    ".fli",
    ".gif",
    ".ico",
    ".im",
    ".jpg",
    ".jpeg",
    ".jfif",
    ".pjpeg",
    ".pjp",
    ".jp2",
    ".j2k",
    ".jpf",
    ".jpm",
    ".jpg2",
    ".j2c",
    ".jpc",
    ".jpx",
    ".mj2",
    ".msp",
    ".mpo",
    ".pcx",
    ".png",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pnm",
    ".sgi",
    ".tga",
    ".tiff",
    ".tif",
    ".webp",
    ".wmf",
    ".xbm",
)
SAMPLED_FILES = 100  # deeplake looks at 100 random files of a bigger folder

# deeplake.empty options that mean nothing to shoal (caching, telemetry, its other engine)
IGNORED_OPTIONS = frozenset(
    {
        "public",
        "memory_cache_size",
        "local_cache_size",
        "verbose",
        "lock_enabled",
        "lock_timeout",
        "indra",
        "runtime",
    }
)


@dataclass
class Layout:
    """What the scan of the source folder found."""

    root: str
    files: list[str]  # as glob lists them, under the root
    class_names: list[str]
    set_names: list[str]
    compression: str | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        return len(self.set_names) > 1

    def class_of(self, file: str) -> str:
        return Path(os.path.abspath(file)).parts[-2]

    def set_of(self, file: str) -> str:
        return Path(os.path.abspath(file)).parts[-3] if self.grouped else ""


def _local_folder(src: Any) -> str:
    if not isinstance(src, (str, os.PathLike)):
        raise IngestSourceError(
            f"ingest_classification takes the path of a local folder as src, got {src!r}"
        )
    path = os.fspath(src)
    if not isinstance(path, str):
        raise IngestSourceError(f"ingest_classification takes a text path as src, got {path!r}")
    if "://" in path:
        raise IngestSourceError(
            f"ingest_classification reads a local folder; {path!r} is not one. Download the "
            "images to a local folder first and pass its path"
        )
    if path.lower().endswith((".csv", ".txt")):
        raise IngestSourceError(
            f"ingest_classification of a table ({path!r}) is not supported by shoal; pass a "
            "folder of class folders of images"
        )
    if not os.path.isdir(path):
        what = "is a file" if os.path.exists(path) else "does not exist"
        raise IngestSourceError(
            f"ingest_classification needs a local folder of class folders of images; {path!r} "
            f"{what}. Check the path"
        )
    return path


def _find_root(path: str) -> str:
    # deeplake's root: go down while the folder has exactly one sub-folder (files ignored)
    while True:
        subs = [p for p in glob.glob(os.path.join(glob.escape(path), "*")) if os.path.isdir(p)]
        if len(subs) != 1:
            return path
        path = subs[0]


def _files(folder: str) -> list[str]:
    found = glob.glob(os.path.join(glob.escape(folder), "**"), recursive=True)
    return [p for p in found if os.path.isfile(p)]


def _common_extension(src: str) -> str:
    found = glob.glob(os.path.join(glob.escape(src), "**"), recursive=True)
    images = [p for p in found if p.endswith(IMAGE_EXTENSIONS)]
    if not images:
        raise IngestSourceError(
            f"ingest_classification found no image files in {src!r} (an empty folder, or no "
            "file ending in .png, .jpg, .jpeg, ...). Put the images in one folder per class "
            "inside it"
        )
    if len(images) > SAMPLED_FILES:  # deeplake's sample, drawn the same way, for the same pick
        images = random.sample(images, SAMPLED_FILES)
    counts = Counter(os.path.splitext(p)[1] for p in images)
    return counts.most_common(1)[0][0][1:]


def scan(src: str, compression: str | None) -> Layout:
    """The files, classes, sets and image compression of the folder ``src`` (blocking I/O)."""
    if compression is None:
        compression = _common_extension(src)
    root = _find_root(src)
    files = _files(root)
    if not files:
        raise IngestSourceError(
            f"ingest_classification found no files in {root!r}. Put the images in one folder "
            "per class inside it"
        )
    layout = Layout(root, files, [], [], compression)
    layout.class_names = sorted({layout.class_of(f) for f in files})
    layout.set_names = sorted({Path(os.path.abspath(f)).parts[-3] for f in files})
    return layout


def _check_not_dest(src: str, dest: Any) -> None:
    dest_path = os.fspath(dest) if isinstance(dest, (str, os.PathLike)) else None
    if isinstance(dest_path, str) and os.path.isdir(dest_path) and os.path.samefile(src, dest_path):
        raise IngestSourceError(
            f"ingest_classification: source and destination are the same folder ({src!r}); "
            "write the dataset somewhere else"
        )


def _dataset_options(options: dict[str, Any]) -> tuple[bool, str | None]:
    unknown = set(options) - IGNORED_OPTIONS - {"overwrite", "org_id"}
    if unknown:
        raise TypeError(f"ingest_classification() got unexpected arguments {sorted(unknown)}")
    return bool(options.get("overwrite", False)), options.get("org_id")


async def _create_tensors(
    ds: AsyncDataset, layout: Layout, image_params: dict[str, Any], label_params: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    image_params, label_params = dict(image_params), dict(label_params)
    image_params.setdefault("sample_compression", layout.compression)
    image_name = image_params.pop("name", IMAGES)
    label_name = label_params.pop("name", LABELS)
    tensors: dict[str, tuple[Any, Any]] = {}
    for set_name in layout.set_names if layout.grouped else [""]:
        prefix = f"{set_name}/" if set_name else ""
        images = await ds.create_tensor_async(prefix + image_name, htype="image", **image_params)
        labels = await ds.create_tensor_async(
            prefix + label_name,
            htype="class_label",
            class_names=layout.class_names,
            **label_params,
        )
        tensors[set_name] = (images, labels)
    return tensors


async def _read(file: str) -> Any:
    try:
        return await read_async(file)
    except (ShoalError, OSError):
        return None  # unreadable: stored as an empty sample, as deeplake stores it


async def _append(images: Any, samples: list[Any], files: list[str], skipped: list[str]) -> None:
    if all(s is not None for s in samples):
        try:
            await images.extend_async(samples)  # all or nothing: nothing changed if it raised
            return
        except ShoalError:
            pass
    for sample, file in zip(samples, files, strict=True):
        if sample is not None:
            try:
                await images.extend_async([sample])
                continue
            except ShoalError:
                pass
        skipped.append(file)
        await images.extend_async([np.zeros((0, 0, 0), images.dtype or np.uint8)])


async def _ingest(
    ds: AsyncDataset,
    layout: Layout,
    tensors: dict[str, tuple[Any, Any]],
    progressbar: bool,
) -> None:
    bar = _progress_bar(len(layout.files), progressbar)
    try:
        async with ds:
            for start in range(0, len(layout.files), BATCH):
                batch = layout.files[start : start + BATCH]
                samples = await asyncio.gather(*(_read(f) for f in batch))
                for set_name, (images, labels) in tensors.items():
                    mine = [i for i, f in enumerate(batch) if layout.set_of(f) == set_name]
                    if not mine:
                        continue
                    files = [batch[i] for i in mine]
                    await _append(images, [samples[i] for i in mine], files, layout.skipped)
                    await labels.extend_async([layout.class_of(f) for f in files])
                if bar is not None:
                    bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled or not total:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, desc="Ingesting images")


def _print_summary(layout: Layout) -> None:
    if not layout.skipped:
        print("\n\nIngestion Complete. No files were skipped.\n")
        return
    print(f"\n\nIngestion Complete. {len(layout.skipped)} file(s) were skipped:")
    for file in layout.skipped:
        print(f"  [Skipped]  {os.path.relpath(file, layout.root)}")
    print()


async def ingest_classification_async(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    image_params: dict[str, Any] | None = None,
    label_params: dict[str, Any] | None = None,
    dest_creds: Any = None,
    progressbar: bool = True,
    summary: bool = True,
    num_workers: int = 0,
    shuffle: bool = True,
    token: str | None = None,
    connect_kwargs: dict[str, Any] | None = None,
    **dataset_kwargs: Any,
) -> AsyncDataset:
    """:func:`ingest_classification` for async code: the folder is read off the event loop."""
    from .api import empty_async

    del num_workers  # deeplake's worker count: shoal reads files concurrently by itself
    folder = _local_folder(src)
    _check_not_dest(folder, dest)
    overwrite, org_id = _dataset_options(dataset_kwargs)
    image_params = dict(image_params or {})
    layout = await asyncio.to_thread(scan, folder, image_params.get("sample_compression"))
    ds = await empty_async(dest, overwrite=overwrite, creds=dest_creds, token=token, org_id=org_id)
    if connect_kwargs is not None:
        options = dict(connect_kwargs)
        options["token"] = token or options.get("token")
        await ds.connect_async(**options)
    tensors = await _create_tensors(ds, layout, image_params, dict(label_params or {}))
    if shuffle:
        random.shuffle(layout.files)
    await _ingest(ds, layout, tensors, progressbar)
    if summary:
        _print_summary(layout)
    return ds


def ingest_classification(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    image_params: dict[str, Any] | None = None,
    label_params: dict[str, Any] | None = None,
    dest_creds: Any = None,
    progressbar: bool = True,
    summary: bool = True,
    num_workers: int = 0,
    shuffle: bool = True,
    token: str | None = None,
    connect_kwargs: dict[str, Any] | None = None,
    **dataset_kwargs: Any,
) -> Dataset:
    """A new dataset at ``dest`` (any shoal path) from the local folder ``src`` of images in
    one sub-folder per class (``src/cat/1.jpg``), or per split and class
    (``src/train/cat/1.jpg``: groups ``train``, ``test``, ...), as deeplake's
    ``ingest_classification`` makes it: tensors ``images`` (htype image, the files stored
    as they are) and ``labels`` (class_label, class names sorted). ``image_params`` /
    ``label_params``: more ``create_tensor`` options (``name``, ``sample_compression``, ...).
    ``shuffle``: the files in random order (``random.seed`` makes it repeatable).
    ``overwrite=True`` replaces a dataset at ``dest``. Raises ``IngestSourceError`` for a
    missing, empty or remote ``src``."""
    from . import _loop
    from .dataset import Dataset

    inner = _loop.run(
        ingest_classification_async(
            src,
            dest,
            image_params,
            label_params,
            dest_creds,
            progressbar,
            summary,
            num_workers,
            shuffle,
            token,
            connect_kwargs,
            **dataset_kwargs,
        )
    )
    return Dataset(inner)


__all__ = ["ingest_classification", "ingest_classification_async"]
