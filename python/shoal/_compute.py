"""``shoal.compute`` and ``shoal.compose``: deeplake's transforms, for ingesting data::

    @shoal.compute
    def fill(sample_in, samples_out, mul):
        samples_out.x.append(np.full((2,), sample_in * mul))

    fill(mul=3).eval([1, 2, 3], ds, num_workers=2)

The function runs once per input item (``data_in[i]``; a row ``ds[i]`` when ``data_in`` is a
dataset), in the caller's thread (``num_workers=0``) or on a pool of ``num_workers`` threads
(the ``"threaded"`` scheduler). ``"processed"`` runs on threads too, for now: reads, decoding
and writes release the GIL, but a function that spends its time in pure Python gets no
parallelism from threads (processes would need it and its outputs pickled). Its outputs are
appended to ``ds_out``
in input order, in bounded batches, inside one ``with ds_out:`` batch (``_compute_write``):
unlike deeplake, which keeps the samples written before a failure, a failing transform
leaves ``ds_out`` as it was (with ``checkpoint_interval``: as the last checkpoint left it).
With ``ignore_errors=True`` the failing input samples are skipped, as deeplake does.
"""

from __future__ import annotations

import concurrent.futures
import math
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._compute_out import Columns, SamplesOut
from ._compute_write import OutputWriter, drop_old_rows, transform_error
from .dataset import AsyncDataset, Dataset
from .errors import AllSamplesSkippedError, ComputeArgumentError, SampleError, ShoalError
from .tensor import Tensor

SCHEDULERS = ("serial", "threaded", "processed")
DEFAULT_CACHE_SIZE = 16  # MB of outputs gathered before an append (deeplake's default)
RUN_ITEMS = 16  # consecutive input items one thread transforms per task, at most


class ComputeFunction:
    """A ``@shoal.compute`` function with its extra arguments bound: ``fn(a, b=2)``."""

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.name = getattr(func, "__name__", "transform") if name is None else name

    def eval(
        self,
        data_in: Any,
        ds_out: Dataset | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        skip_ok: bool = False,
        check_lengths: bool = True,
        pad_data_in: bool = False,
        read_only_ok: bool = False,
        cache_size: int = DEFAULT_CACHE_SIZE,
        checkpoint_interval: int = 0,
        ignore_errors: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> None:
        """Run the function on every item of ``data_in`` and append what it gives to
        ``ds_out`` (see :meth:`Pipeline.eval`)."""
        Pipeline([self]).eval(
            data_in,
            ds_out,
            num_workers,
            scheduler,
            progressbar,
            skip_ok,
            check_lengths,
            pad_data_in,
            read_only_ok,
            cache_size,
            checkpoint_interval,
            ignore_errors,
            verbose,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"ComputeFunction({self.name})"


class Pipeline:
    """Compute functions run one after the other on each input item (``shoal.compose``):
    every row a stage appends is one ``sample_in`` of the next stage."""

    def __init__(self, functions: list[ComputeFunction]) -> None:
        self.functions = functions

    def __len__(self) -> int:
        return len(self.functions)

    def eval(
        self,
        data_in: Any,
        ds_out: Dataset | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        skip_ok: bool = False,
        check_lengths: bool = True,
        pad_data_in: bool = False,
        read_only_ok: bool = False,
        cache_size: int = DEFAULT_CACHE_SIZE,
        checkpoint_interval: int = 0,
        ignore_errors: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> None:
        """Run the pipeline on every item of ``data_in`` (anything with ``len`` and ``[i]``:
        a list, an array, a shoal dataset or tensor) and append the outputs to ``ds_out``.

        ``ds_out=None``: in place on the dataset ``data_in``; each tensor the pipeline writes
        to is replaced by what it wrote, the others are kept (the new samples are written,
        then the old ones popped: two flushes, the second once the transform succeeded). ``num_workers``: threads running
        the functions (0: the caller's thread). ``skip_ok``: the functions may leave tensors
        of ``ds_out`` out. ``check_lengths``: ``ds_out``'s tensors must have equal lengths
        first. ``pad_data_in``: a dataset input is read up to its longest tensor, the shorter
        ones giving empty samples. ``read_only_ok``: in place, only run the functions (for
        their side effects) and write nothing. ``cache_size``: MB of outputs gathered before
        they are appended. ``checkpoint_interval``: commit ``ds_out`` after every that many
        input items. ``ignore_errors``: skip input items whose functions or outputs fail.
        deeplake's other options (``verbose``, ...) are accepted and have no effect.

        Raises ``TransformError`` (``index``, ``sample``: the input item that failed; the
        cause: what went wrong), ``ComputeArgumentError`` for arguments it cannot use,
        ``AllSamplesSkippedError`` when ``ignore_errors`` skipped every item."""
        del verbose, kwargs  # deeplake's messages and internal options
        workers, scheduler = _workers(num_workers, scheduler)
        count, item_at = _input(data_in, pad_data_in)
        in_place = ds_out is None
        target = _target(data_in, ds_out, read_only_ok and in_place, check_lengths)
        names = list(target.tensors)
        if not check_lengths or read_only_ok:
            skip_ok = True
        discard = read_only_ok and in_place  # deeplake writes nothing then
        spans = _spans(count, checkpoint_interval, workers, in_place)
        before = {name: len(target[name]) for name in names} if in_place else {}
        runner = _Runner(self.functions, names, skip_ok, workers, item_at)
        bar = _progress_bar(count, progressbar, self.functions)
        written: dict[str, int] = {}
        skipped = 0
        processed = 0
        try:
            for k, (start, stop) in enumerate(spans):
                if k:
                    target.commit(
                        f"Auto-commit during compute of {self.functions[0].name} after "
                        f"{round(start / count * 100, 2)}% progress"
                    )
                    processed = start
                writer = OutputWriter(target, int(cache_size * 2**20), ignore_errors)
                if discard:
                    skipped += runner.run(start, stop, None, ignore_errors, processed, bar)
                    continue
                with target:
                    skipped += runner.run(start, stop, writer, ignore_errors, processed, bar)
                    writer.write()
                    skipped += writer.skipped
                    if ignore_errors and count and skipped == count:
                        raise AllSamplesSkippedError(
                            "every input sample failed and was skipped, so nothing was "
                            "written; check the transform before passing ignore_errors=True"
                        )
                    if in_place:
                        _check_in_place(target, list(writer.written))
                for name, n in writer.written.items():
                    written[name] = written.get(name, 0) + n
        finally:
            if bar is not None:
                bar.close()
        if in_place and not discard:
            drop_old_rows(target, before, [n for n in names if written.get(n)])
        if not skip_ok and len({n for n in written.values() if n}) > 1:
            warnings.warn(
                "the transform wrote different numbers of samples to the tensors: "
                f"{written}; this may lead to unexpected behaviour",
                stacklevel=2,
            )
        if ignore_errors:
            _summary(count, skipped)


def compose(functions: list[ComputeFunction]) -> Pipeline:
    """A pipeline of ``@shoal.compute`` functions: ``shoal.compose([f(), g(k=2)]).eval(...)``."""
    if not functions:
        raise ComputeArgumentError("shoal.compose got an empty list; give it compute functions")
    for index, fn in enumerate(functions):
        if not isinstance(fn, ComputeFunction):
            raise ComputeArgumentError(
                f"the element at index {index} of the list given to shoal.compose is no "
                "compute function: decorate functions with @shoal.compute and pass my_fn() "
                "or my_fn(arg=5), not my_fn"
            )
    return Pipeline(functions)


def compute(fn: Callable[..., Any], name: str | None = None) -> Callable[..., ComputeFunction]:
    """Decorator: ``fn(sample_in, samples_out, *args, **kwargs)`` becomes a function of the
    extra arguments that returns a :class:`ComputeFunction` (``fn(3).eval(data, ds)``).
    What ``fn`` returns is ignored; it appends its outputs to ``samples_out``."""

    def bind(*args: Any, **kwargs: Any) -> ComputeFunction:
        return ComputeFunction(fn, args, kwargs, name)

    bind.__name__ = getattr(fn, "__name__", "compute")
    bind.__doc__ = getattr(fn, "__doc__", None)
    return bind


# -- checking the arguments ------------------------------------------------------------------
def _workers(num_workers: int, scheduler: str) -> tuple[int, str]:
    if num_workers <= 0:
        return 1, "serial"
    if scheduler not in SCHEDULERS:
        raise ComputeArgumentError(
            f"shoal.compute has no scheduler {scheduler!r}; use one of {list(SCHEDULERS)}"
        )
    return num_workers, scheduler


def _input(data_in: Any, pad: bool) -> tuple[int, Callable[[int], Any]]:
    """How many items ``data_in`` has, and how to get the i-th."""
    if isinstance(data_in, Dataset):
        if pad:
            return data_in.max_len, lambda i: _PaddedRow(data_in, i)
        return len(data_in), data_in.__getitem__
    if not hasattr(data_in, "__getitem__") or not hasattr(data_in, "__len__"):
        raise ComputeArgumentError(
            f"data_in of type {type(data_in).__name__} has no len or [i]; give a list, an "
            "array, a shoal dataset or anything with both (generators are not taken: use "
            "list(...))"
        )
    if type(data_in).__name__ == "DataFrame":  # pandas: a one-row frame, as deeplake gives
        return len(data_in), lambda i: data_in[i : i + 1]
    return len(data_in), data_in.__getitem__


def _target(data_in: Any, ds_out: Any, read_only_ok: bool, check_lengths: bool) -> Dataset:
    target = data_in if ds_out is None else ds_out
    if isinstance(target, AsyncDataset):
        raise ComputeArgumentError(
            "shoal.compute writes through the sync API: open the output dataset with "
            "shoal.load/shoal.empty (not the _async variants), or append with extend_async"
        )
    if not isinstance(target, Dataset):
        what = "ds_out" if ds_out is not None else "data_in (no ds_out was given)"
        raise ComputeArgumentError(
            f"{what} is a {type(target).__name__}, not a shoal dataset; give ds_out=shoal."
            "empty(...) (with its tensors created), or a dataset as data_in to work in place"
        )
    if target.is_view:
        raise ComputeArgumentError(
            "the output dataset is a view of some samples; give the whole dataset"
        )
    if target.read_only and not read_only_ok:
        raise ComputeArgumentError(
            f"the output dataset {target.path} is read-only; open it writable (or, in place, "
            "pass read_only_ok=True to only run the functions)"
        )
    if check_lengths and target.max_len != target.min_len:
        lengths = {name: len(t) for name, t in target.tensors.items()}
        raise ComputeArgumentError(
            f"the tensors of the output dataset have different lengths {lengths}; give a "
            "dataset whose tensors are equally long, or pass check_lengths=False"
        )
    return target


def _spans(count: int, interval: int, workers: int, in_place: bool) -> list[tuple[int, int]]:
    """The input ranges written (and, with checkpoints, committed) one after the other."""
    if interval <= 0:
        return [(0, count)]
    if in_place:
        raise ComputeArgumentError(
            "checkpoint_interval needs a ds_out: an in-place transform cannot be checkpointed"
        )
    if workers > 1 and interval % workers:
        raise ComputeArgumentError(
            f"checkpoint_interval ({interval}) must be a multiple of num_workers ({workers})"
        )
    if interval > count:
        raise ComputeArgumentError(
            f"checkpoint_interval ({interval}) is larger than the input ({count} items)"
        )
    return [(s, min(s + interval, count)) for s in range(0, count, interval)]


def _check_in_place(target: Dataset, names: list[str]) -> None:
    for name in names:
        if target[name].meta.is_sequence:
            raise ShoalError(
                f"tensor {name!r} is a sequence tensor: shoal cannot replace its samples in "
                "place yet; give a ds_out"
            )


# -- running the functions -------------------------------------------------------------------
class _Runner:
    """Runs the pipeline on input items (threads or the caller's), yields in input order."""

    def __init__(
        self,
        functions: list[ComputeFunction],
        names: list[str],
        skip_ok: bool,
        workers: int,
        item_at: Callable[[int], Any],
    ) -> None:
        self.functions = functions
        self.names = names
        self.skip_ok = skip_ok
        self.workers = workers
        self.item_at = item_at

    def transform(self, index: int) -> tuple[int, Any, Columns | Exception]:
        item = None
        try:
            item = self.item_at(index)
            return index, item, run_pipeline(self.functions, item, self.names)
        except Exception as e:
            return index, item, e

    def transform_run(self, first: int, stop: int) -> list[tuple[int, Any, Columns | Exception]]:
        return [self.transform(i) for i in range(first, stop)]

    def results(self, start: int, stop: int) -> Iterator[tuple[int, Any, Columns | Exception]]:
        if self.workers == 1:
            for i in range(start, stop):
                yield self.transform(i)
            return
        # A task is a run of consecutive items (fewer futures to wait on); at most
        # 4 * workers tasks are in flight, so the outputs held in memory stay bounded.
        run = max(1, min(RUN_ITEMS, (stop - start) // (8 * self.workers)))
        firsts = iter(range(start, stop, run))
        pool = concurrent.futures.ThreadPoolExecutor(self.workers, "shoal-compute")
        Done = list[tuple[int, Any, Columns | Exception]]
        try:
            ahead = deque[concurrent.futures.Future[Done]]()
            for first in firsts:
                ahead.append(pool.submit(self.transform_run, first, min(first + run, stop)))
                if len(ahead) >= 4 * self.workers:
                    break
            while ahead:
                done = ahead.popleft().result()
                nxt = next(firsts, None)
                if nxt is not None:
                    ahead.append(pool.submit(self.transform_run, nxt, min(nxt + run, stop)))
                yield from done
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run(
        self,
        start: int,
        stop: int,
        writer: OutputWriter | None,
        ignore_errors: bool,
        processed: int,
        bar: Any,
    ) -> int:
        """Transform items ``start:stop`` and queue their outputs; the number skipped."""
        # deeplake checks the tensors written by the first item of each worker's share
        share = max(1, math.ceil((stop - start) / self.workers))
        checked: set[int] = set()
        skipped = 0
        for index, item, result in self.results(start, stop):
            if bar is not None:
                bar.update(1)
            if not isinstance(result, Exception) and (index - start) // share not in checked:
                try:
                    self._check_tensors(result)
                    checked.add((index - start) // share)
                except SampleError as e:
                    result = e
            if isinstance(result, Exception):
                if ignore_errors:
                    skipped += 1
                    continue
                raise transform_error(index, item, processed=processed) from result
            if writer is not None:
                writer.add(index, item, result)
        return skipped

    def _check_tensors(self, columns: Columns) -> None:
        wrote = sorted(k for k, v in columns.items() if v)
        if set(wrote) != set(self.names) and not self.skip_ok:
            raise SampleError(
                f"the transform wrote to the tensors {wrote}, but the output dataset has "
                f"{self.names}; write to every tensor, or pass skip_ok=True to leave some alone"
            )


def run_pipeline(functions: list[ComputeFunction], item: Any, names: list[str]) -> Columns:
    """The outputs of one input item: each stage runs on every row the previous one wrote."""
    rows: list[Any] = [item]
    out = SamplesOut(names)
    for fn in functions:
        out = SamplesOut(names)
        for row in rows:
            fn.func(row, out, *fn.args, **fn.kwargs)
            lengths = {k: len(v) for k, v in out.columns.items() if v}
            if len(set(lengths.values())) > 1:
                raise SampleError(
                    f"{fn.name} added different numbers of samples to the tensors {lengths}; "
                    "add the same number to each"
                )
        rows = list(out)
    return out.columns


# -- padded input rows, progress, summary ----------------------------------------------------
class _PaddedRow:
    """``ds[i]`` of a dataset read up to its longest tensor: a tensor shorter than ``i``
    gives an empty sample of its dtype and dimensions."""

    def __init__(self, ds: Dataset, index: int) -> None:
        self._ds = ds
        self._index = index

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        tensor = self._ds[name]
        if not isinstance(tensor, Tensor):
            return _PaddedGroup(self, name)
        if self._index < len(tensor):
            return tensor[self._index]
        return _Empty(tensor)

    @property
    def tensors(self) -> dict[str, Any]:
        return {name: self[name] for name in self._ds.tensors}


class _PaddedGroup:
    def __init__(self, row: _PaddedRow, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._row[f"{self._prefix}/{name}"]

    __getitem__ = __getattr__


class _Empty:
    """The empty sample a padded row gives for a tensor that has no sample there."""

    def __init__(self, tensor: Tensor) -> None:
        self._tensor = tensor

    def numpy(self, *_: Any, **__: Any) -> np.ndarray:
        ndim = len(self._tensor.meta.min_shape or []) or 1
        return np.zeros((0,) * ndim, dtype=self._tensor.dtype or np.float32)

    def __len__(self) -> int:
        return 0


def _progress_bar(total: int, enabled: bool, functions: list[ComputeFunction]) -> Any:
    if not enabled or not total:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    names = [f.name for f in functions]
    desc = f"Evaluating {names[0]}" if len(names) == 1 else f"Evaluating [{', '.join(names)}]"
    return tqdm(total=total, desc=desc)


def _summary(count: int, skipped: int) -> None:
    """deeplake's summary of a run with ignore_errors, word for word."""
    done = count - skipped
    pct = round(done / count * 100, 2) if count else 100.0
    print("No. of samples successfully processed:", done, f"({pct}%)")
    print("No. of samples skipped:", skipped, f"({round(100 - pct, 2)}%)")
