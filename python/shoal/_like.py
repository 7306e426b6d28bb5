"""``shoal.like``: a new, empty dataset with another's tensors (metas and infos, companions
included) and dataset info, as ``deeplake.like`` makes it; no samples are copied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _loop
from .api import empty_async, load_async
from .dataset import AsyncDataset, Dataset
from .errors import TensorNotFoundError

PathLike = str | Path


async def like_async(
    dest: PathLike,
    src: PathLike | Dataset | AsyncDataset,
    runtime: dict[str, Any] | None = None,
    tensors: list[str] | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    public: bool = False,
    verbose: bool = True,
) -> AsyncDataset:
    """See :func:`like`."""
    if isinstance(src, Dataset):
        source = src._a.no_view_dataset
    elif isinstance(src, AsyncDataset):
        source = src.no_view_dataset
    else:  # a path: read-only, with the token only (``creds`` are the destination's)
        source = await load_async(src, read_only=True, token=token)
    names = source._tensor_names()
    if tensors is not None:
        missing = [t for t in tensors if t not in names]
        if missing:
            raise TensorNotFoundError(
                f"like: no tensor {missing[0]!r} in {source.path}; its tensors: {sorted(names)}"
            )
        names = [n for n in names if n in tensors]
    engine = source._engine
    await engine.load([source._key(n) for n in names], info=True)  # lazily opened sources
    out = await empty_async(dest, overwrite=overwrite, creds=creds, token=token, org_id=org_id)
    async with out:
        for name in names:
            await out.create_tensor_like_async(name, source[name])
        if engine.info:
            out.info.update(engine.info)
    return out


def like(
    dest: PathLike,
    src: PathLike | Dataset | AsyncDataset,
    runtime: dict[str, Any] | None = None,
    tensors: list[str] | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    public: bool = False,
    verbose: bool = True,
) -> Dataset:
    """A new dataset at ``dest`` with the tensors of ``src`` (a path or a dataset; all of
    them, or those named in ``tensors``), their metas, infos and hidden companions, and the
    dataset info; no samples. ``creds``/``org_id`` are the destination's; ``overwrite``
    replaces a dataset at ``dest``. ``runtime``, ``public`` and ``verbose`` are accepted for
    deeplake's signature."""
    made = _loop.run(
        like_async(
            dest,
            src,
            tensors=tensors,
            overwrite=overwrite,
            creds=creds,
            token=token,
            org_id=org_id,
        )
    )
    return Dataset(made)
