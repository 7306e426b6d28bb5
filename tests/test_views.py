"""Saved views (``save_view`` / ``load_view`` / ``get_views`` / ``delete_view``): what only
shoal can be asked; tests/interop/test_views_interop.py crosses them with deeplake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import shoal
from shoal.errors import ShoalError


def test_views_async_elsewhere_and_refusals(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(list(range(6)))
    ds.commit("c")
    elsewhere = ds[[4, 0]].save_view(path=str(tmp_path / "apart"), id="apart")
    assert elsewhere == str(tmp_path / "apart")
    apart = shoal.load(elsewhere)
    assert apart.VDS_INDEX.numpy().ravel().tolist() == [4, 0]
    assert apart.info["source-dataset-version"] == ds.commit_id
    assert ds.get_views() == []  # saved elsewhere: not listed in the dataset
    ro = shoal.load(path, read_only=True)
    with pytest.raises(ShoalError, match="read_only=False"):
        ro[0:2].save_view(id="ro")

    async def main() -> list[int]:
        a = await shoal.load_async(path)
        await a[1:3].save_view_async(id="async")
        view = await a.load_view_async("async")
        return (await view.x.numpy_async()).ravel().tolist()

    assert asyncio.run(main()) == [1, 2]
    assert [v.id for v in shoal.load(path).get_views(commit_id=ds.commit_id)] == ["async"]
    assert shoal.load(path).get_views(commit_id="nope") == []
