"""shoal.compute / shoal.compose: what the functions see and write, and the errors they get
(the side-by-side runs against deeplake are in tests/interop/idioms_compute.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import errors


def _out(tmp_path: Path, *extra: str) -> shoal.Dataset:
    ds = shoal.empty(str(tmp_path / uuid.uuid4().hex[:8]))
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    for name in extra:
        ds.create_tensor(name, dtype="int64")
    return ds


@shoal.compute
def fill(sample_in: Any, samples_out: Any, mul: int = 1) -> None:
    samples_out.x.append(np.full((2,), int(sample_in) * mul, np.int64))
    samples_out.t.append(str(sample_in))


@shoal.compute
def picky(sample_in: Any, samples_out: Any, bad: object) -> None:
    if sample_in == bad:
        raise ValueError(f"cannot take {sample_in}")
    samples_out.x.append(sample_in)
    samples_out.t.append(str(sample_in))


def test_the_ingestion_idiom_appends_in_order(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    fill(mul=3).eval([1, 2, 3], ds, num_workers=0, progressbar=False)
    fill(2).eval(np.array([4, 5]), ds, num_workers=2, progressbar=False)
    assert ds.x.numpy().tolist() == [[3, 3], [6, 6], [9, 9], [8, 8], [10, 10]]
    assert ds.t.text() == ["1", "2", "3", "4", "5"]
    again = shoal.load(ds.path)
    assert len(again) == 5


def test_positional_and_keyword_arguments_are_bound(tmp_path: Path) -> None:
    @shoal.compute
    def affine(sample_in: int, samples_out: Any, a: int, b: int = 1, *, c: int = 0) -> None:
        samples_out.append({"x": sample_in * a + b + c, "t": "p"})

    ds = _out(tmp_path)
    affine(2, 3, c=100).eval([1, 2], ds, progressbar=False)
    assert ds.x.numpy().ravel().tolist() == [105, 107]
    assert isinstance(affine(1), shoal.ComputeFunction)


def test_a_dataset_input_gives_rows_and_in_place_replaces_the_written_tensors(
    tmp_path: Path,
) -> None:
    src = _out(tmp_path, "kept")
    src.extend({"x": [1, 2, 3, 4], "t": ["a", "b", "c", "d"], "kept": [7, 7, 7, 7]})
    seen: list[Any] = []

    @shoal.compute
    def odd_times_ten(sample_in: Any, samples_out: Any) -> None:
        seen.append(type(sample_in).__name__)
        v = int(sample_in.x.numpy()[0])
        if v % 2:
            samples_out.x.append(v * 10)
            samples_out.t.append(sample_in["t"].text())

    odd_times_ten().eval(src, None, progressbar=False, skip_ok=True)
    assert set(seen) == {"Dataset"}
    again = shoal.load(src.path)
    assert again.x.numpy().ravel().tolist() == [10, 30]
    assert again.t.text() == ["a", "c"]
    assert again.kept.numpy().ravel().tolist() == [7, 7, 7, 7]


def test_read_only_ok_in_place_runs_the_functions_and_writes_nothing(tmp_path: Path) -> None:
    src = _out(tmp_path)
    src.extend({"x": [1, 2], "t": ["a", "b"]})
    ro = shoal.load(src.path, read_only=True)
    seen: list[int] = []

    @shoal.compute
    def look(sample_in: Any, samples_out: Any) -> None:
        seen.append(int(sample_in.x.numpy()[0]))
        samples_out.x.append(0)

    with pytest.raises(errors.ComputeArgumentError, match="read-only"):
        look().eval(ro, progressbar=False)
    look().eval(ro, progressbar=False, read_only_ok=True)
    assert seen == [1, 2]
    assert shoal.load(src.path).x.numpy().ravel().tolist() == [1, 2]


def test_pad_data_in_reads_up_to_the_longest_tensor(tmp_path: Path) -> None:
    src = _out(tmp_path)
    src.x.extend([1, 2, 3])
    src.t.extend(["a"])
    got: list[tuple[int, int]] = []

    @shoal.compute
    def pad(sample_in: Any, samples_out: Any) -> None:
        got.append((len(sample_in.x.numpy()), len(sample_in.t.numpy())))
        samples_out.x.append(sample_in.x.numpy())
        samples_out.t.append("k")

    out = _out(tmp_path)
    pad().eval(src, out, progressbar=False)
    assert len(out) == 1
    pad().eval(src, out, progressbar=False, pad_data_in=True)
    assert out.x.numpy().ravel().tolist() == [1, 1, 2, 3]
    assert got[1:] == [(1, 1), (1, 0), (1, 0)]


def test_compose_feeds_each_row_of_a_stage_to_the_next(tmp_path: Path) -> None:
    @shoal.compute
    def split(sample_in: int, samples_out: Any) -> None:
        samples_out["x"].extend([sample_in, sample_in + 1])
        samples_out.t.extend(["a", "b"])

    @shoal.compute
    def tag(sample_in: Any, samples_out: Any, suffix: str) -> None:
        assert sorted(sample_in.tensors) == ["t", "x"]
        samples_out.append({"x": sample_in.x.numpy() * 2, "t": str(sample_in.t.numpy()) + suffix})

    ds = _out(tmp_path)
    shoal.compose([split(), tag("!")]).eval([1, 10], ds, num_workers=2, progressbar=False)
    assert ds.x.numpy().ravel().tolist() == [2, 4, 20, 22]
    assert ds.t.text() == ["a!", "b!", "a!", "b!"]


def test_groups_are_reached_by_path_and_by_attribute(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "g"))
    ds.create_tensor("g/a", dtype="int64")
    ds.create_tensor("g/h/b", dtype="int64")

    @shoal.compute
    def grouped(sample_in: int, samples_out: Any) -> None:
        samples_out["g/a"].append(sample_in)
        samples_out.g.h.b.append(-sample_in)

    grouped().eval([1, 2], ds, progressbar=False)
    assert ds["g/a"].numpy().ravel().tolist() == [1, 2]
    assert ds["g/h/b"].numpy().ravel().tolist() == [-1, -2]


# -- errors ----------------------------------------------------------------------------------
def test_a_failing_function_names_the_index_and_item(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    with pytest.raises(errors.TransformError, match="index 2 .* item: 'bad'") as caught:
        picky("bad").eval(["1", "2", "bad", "4"], ds, progressbar=False)
    assert caught.value.index == 2
    assert caught.value.sample == "bad"
    assert isinstance(caught.value.__cause__, ValueError)
    assert len(ds.x) == 0 and len(shoal.load(ds.path).x) == 0


def test_ignore_errors_skips_the_failing_items_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = _out(tmp_path)
    picky(3).eval([1, 2, 3, 4], ds, progressbar=False, ignore_errors=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2, 4]
    out = capsys.readouterr().out
    assert "No. of samples successfully processed: 3 (75.0%)" in out
    assert "No. of samples skipped: 1 (25.0%)" in out
    with pytest.raises(errors.AllSamplesSkippedError):
        picky(5).eval([5, 5], ds, progressbar=False, ignore_errors=True)
    assert len(ds.x) == 3


def test_values_a_tensor_cannot_take_are_blamed_on_their_item(tmp_path: Path) -> None:
    ds = _out(tmp_path)

    @shoal.compute
    def typed(sample_in: Any, samples_out: Any) -> None:
        samples_out.x.append(sample_in)
        samples_out.t.append("a")

    with pytest.raises(errors.TransformError, match="index 1 .*ignore_errors=True") as caught:
        typed().eval([1, "two", 3], ds, progressbar=False)
    assert isinstance(caught.value.__cause__, errors.SampleError)
    assert len(ds.x) == 0
    typed().eval([1, "two", 3], ds, progressbar=False, ignore_errors=True)
    assert ds.x.numpy().ravel().tolist() == [1, 3]


def test_tensors_missing_unknown_or_uneven(tmp_path: Path) -> None:
    ds = _out(tmp_path)

    @shoal.compute
    def only_x(sample_in: Any, samples_out: Any) -> None:
        samples_out.x.append(sample_in)

    @shoal.compute
    def unknown(sample_in: Any, samples_out: Any) -> None:
        samples_out.nope.append(sample_in)

    @shoal.compute
    def uneven(sample_in: Any, samples_out: Any) -> None:
        samples_out.x.extend([1, 2])
        samples_out.t.append("a")

    with pytest.raises(errors.TransformError, match="index 0") as caught:
        only_x().eval([1], ds, progressbar=False)
    assert "skip_ok=True" in str(caught.value.__cause__)
    with pytest.raises(errors.TransformError) as caught:
        unknown().eval([1], ds, progressbar=False)
    assert isinstance(caught.value.__cause__, errors.TensorNotFoundError)
    with pytest.raises(errors.TransformError) as caught:
        uneven().eval([1], ds, progressbar=False)
    assert "same number" in str(caught.value.__cause__)
    only_x().eval([1, 2], ds, progressbar=False, skip_ok=True)
    assert (len(ds.x), len(ds.t)) == (2, 0)
    with pytest.raises(errors.ComputeArgumentError, match="check_lengths=False"):
        fill().eval([3], ds, progressbar=False)
    fill().eval([3], ds, progressbar=False, check_lengths=False)
    assert (len(ds.x), len(ds.t)) == (3, 1)


@pytest.mark.parametrize(
    ("data_in", "options", "match"),
    [
        (iter([1]), {}, "generators"),
        ([1], {"num_workers": 2, "scheduler": "ray"}, "no scheduler 'ray'"),
        ([1, 2, 3, 4], {"checkpoint_interval": 3, "num_workers": 2}, "multiple of num_workers"),
        ([1], {"checkpoint_interval": 2}, "larger than the input"),
    ],
)
def test_arguments_it_cannot_use(
    tmp_path: Path, data_in: Any, options: dict[str, Any], match: str
) -> None:
    ds = _out(tmp_path)
    with pytest.raises(errors.ComputeArgumentError, match=match):
        fill().eval(data_in, ds, progressbar=False, **options)
    assert len(ds.x) == 0


def test_compose_and_ds_out_arguments() -> None:
    with pytest.raises(errors.ComputeArgumentError, match="empty"):
        shoal.compose([])
    with pytest.raises(errors.ComputeArgumentError, match="index 1 .* my_fn\\(\\)"):
        shoal.compose([fill(), fill])  # type: ignore[list-item]
    with pytest.raises(errors.ComputeArgumentError, match="not a shoal dataset"):
        fill().eval([1], progressbar=False)
    with pytest.raises(errors.ComputeArgumentError, match="not a shoal dataset"):
        fill().eval([1], [], progressbar=False)  # type: ignore[arg-type]


async def test_an_async_dataset_is_refused_with_what_to_do(tmp_path: Path) -> None:
    ds = await shoal.empty_async(str(tmp_path / "a"))
    with pytest.raises(errors.ComputeArgumentError, match="sync API"):
        fill().eval([1], ds, progressbar=False)  # type: ignore[arg-type]
