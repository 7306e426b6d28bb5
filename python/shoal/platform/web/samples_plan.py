"""What the viewer's browser needs for one page of samples: for every visible tensor, how to
decode it, and for every sample either where its bytes are (a chunk URL and the sample's
index inside that chunk; the browser parses the chunk header itself) or a preview the server
made (chunk-compressed tensors, tiled samples, links and sequences).

Chunk URLs are presigned GETs on the bucket when the dataset is on S3 (the browser reads the
bucket directly, which is why the bucket must allow the page's origin in its CORS rules), or
the platform's own ``.../object?key=`` route for a local storage root, GCS and stores read
through the platform.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import numpy as np

from ... import _native
from ...engine.samples import encode
from ...engine.tensor import TensorEngine
from . import presign
from .reading import Opened, visible

PAGE = 48
#: How many values of a plain array a tile shows.
_PREVIEW_VALUES = 12


def _browser_decodes(t: TensorEngine) -> bool:
    """Whether the browser reads this tensor's chunks itself: plain or sample-compressed
    chunks (chunk-compressed ones need lz4 or a canvas split: the server previews those)."""
    m = t.meta
    if t.kind.is_object and t.htype not in ("text", "json", "list", "tag"):
        return False  # serialised binary samples (polygons): the server previews them
    if t.kind.is_object and m.get("sample_compression"):
        return False  # lz4-compressed JSON lists
    return not (m.get("chunk_compression") or m.get("is_link") or m.get("is_sequence"))


def _tensor_info(t: TensorEngine, browser: bool) -> dict[str, Any]:
    m = t.meta
    coords = t.info.get("coords") if isinstance(t.info.get("coords"), dict) else {}
    return {
        "name": t.name,
        "htype": t.htype,
        "dtype": m.get("dtype"),
        "compression": m.get("sample_compression"),
        "fixed_shape": list(m["min_shape"]) if t.fixed_shape else None,
        "text_like": t.kind.is_object,
        "class_names": [str(c) for c in t.info.get("class_names") or []],
        "coords": coords,
        "mode": "chunk" if browser else "server",
    }


def _image_like(arr: np.ndarray) -> bool:
    return (
        arr.dtype == np.uint8
        and arr.ndim in (2, 3)
        and (arr.ndim == 2 or arr.shape[2] in (1, 3, 4))
        and arr.size > 0
    )


def _array_preview(t: TensorEngine, arr: np.ndarray) -> dict[str, Any]:
    names = t.info.get("class_names") or []
    if t.htype == "class_label" and names:
        labels = [
            str(names[int(v)]) if 0 <= int(v) < len(names) else str(int(v)) for v in arr.ravel()
        ]
        return {"labels": labels}
    if t.htype in ("image", "segment_mask", "binary_mask") and _image_like(arr):
        png = encode(arr if arr.ndim == 2 or arr.shape[2] != 1 else arr[:, :, 0], "png")
        return {"image": "data:image/png;base64," + base64.b64encode(png).decode()}
    flat = arr.ravel()[:_PREVIEW_VALUES]
    return {
        "shape": list(arr.shape),
        "values": [v.item() for v in flat],
        "more": arr.size > flat.size,
    }


async def _server_previews(t: TensorEngine, idx: np.ndarray) -> list[dict[str, Any]]:
    if t.meta.get("is_link") or t.meta.get("is_sequence"):
        what = "link" if t.meta.get("is_link") else "sequence"
        return [{"note": f"{what} tensor: open it from Python"}] * idx.size
    if t.kind.is_object:
        blobs = await t.read_blobs(idx)
        if t.htype in ("text", "json"):
            return [{"text": bytes(b).decode("utf-8", "replace")} for b in blobs]
        values = [t.kind.decode(b, t.name) for b in blobs]  # lists, tags, polygons
        return [{"text": json.dumps(v, default=_plain)} for v in values]
    arrays = await t.read_arrays(idx)
    return [_array_preview(t, a) for a in arrays]


def _plain(value: Any) -> Any:
    """numpy values inside decoded samples (a polygon's point arrays) as JSON lists."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Urls:
    """Chunk URLs of one page, numbered in the order first needed."""

    def __init__(self, opened: Opened, org: str, ds: str) -> None:
        self.loc = opened.s3
        self.base = f"/o/{org}/d/{ds}/object?key="
        self.urls: list[str] = []
        self.index: dict[str, int] = {}

    def of(self, key: str) -> int:
        found = self.index.get(key)
        if found is None:
            if self.loc is not None:
                url = presign.presign(self.loc, key, seconds=600)
            else:
                url = self.base + quote(key, safe="")
            found = self.index[key] = len(self.urls)
            self.urls.append(url)
        return found


async def plan(opened: Opened, org: str, ds: str, start: int) -> dict[str, Any]:
    """The page of samples ``[start, start + PAGE)``."""
    tensors = visible(opened.engine)
    total = max((t.samples for t in tensors), default=0)
    start = max(0, min(start, max(total - 1, 0)))
    stop = min(start + PAGE, total)
    urls = _Urls(opened, org, ds)
    infos, cells = [], {}
    for t in tensors:
        await t.ensure_full()
        browser = _browser_decodes(t)
        infos.append(_tensor_info(t, browser))
        n = max(0, min(stop, t.samples) - start)
        column: list[Any] = [None] * (stop - start)
        if n:
            idx = np.arange(start, start + n, dtype=np.int64)
            tiled = [int(i) in t.tiles for i in idx]
            if browser:
                ids = t.chunk_ids
                rows, local = _native.locate_samples(np.ascontiguousarray(ids[:, 1]), idx)
                for j, (r, i) in enumerate(zip(rows.tolist(), local.tolist(), strict=True)):
                    if not tiled[j]:
                        column[j] = [urls.of(await t.fetch.key(int(ids[r, 0]))), int(i)]
            need = [j for j in range(n) if not browser or tiled[j]]
            if need:
                got = await _server_previews(t, idx[need])
                for j, preview in zip(need, got, strict=True):
                    column[j] = preview
        cells[t.name] = column
    return {
        "start": start,
        "stop": stop,
        "total": total,
        "tensors": infos,
        "chunks": urls.urls,
        "cells": cells,
        "direct": urls.loc is not None,
    }
