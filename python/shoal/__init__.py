"""shoal: chunked-tensor datasets on disk and in the cloud, Deep Lake v3 compatible.

>>> import shoal
>>> ds = shoal.empty("mem://example", overwrite=True)
>>> _ = ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
>>> ds.labels.append("dog")
>>> ds.labels[0].numpy()
array([1], dtype=uint32)
"""

from . import errors
from ._compute import ComputeFunction, Pipeline, compose, compute
from ._copy import copy, copy_async, deepcopy, deepcopy_async
from ._ingest import ingest_classification, ingest_classification_async
from ._like import like, like_async
from ._read import read, read_async
from .api import (
    connect,
    connect_async,
    dataset,
    dataset_async,
    delete,
    delete_async,
    empty,
    empty_async,
    exists,
    exists_async,
    load,
    load_async,
)
from .dataset import AsyncDataset, Dataset
from .links import LinkedSample, link
from .tensor import AsyncTensor, Tensor

__all__ = [
    "AsyncDataset",
    "AsyncTensor",
    "ComputeFunction",
    "Dataset",
    "LinkedSample",
    "Pipeline",
    "Tensor",
    "compose",
    "compute",
    "connect",
    "connect_async",
    "copy",
    "copy_async",
    "dataset",
    "dataset_async",
    "deepcopy",
    "deepcopy_async",
    "delete",
    "delete_async",
    "empty",
    "empty_async",
    "errors",
    "exists",
    "exists_async",
    "ingest_classification",
    "ingest_classification_async",
    "like",
    "like_async",
    "link",
    "load",
    "load_async",
    "read",
    "read_async",
]
