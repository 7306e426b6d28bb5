"""Object keys of a Deep Lake v3 dataset, relative to the dataset root.

The first commit keeps its objects at the root; every other commit ``C`` keeps the same
relative keys under ``versions/C/``. Chunk names are ``hex(id)[2:]``: lowercase, unpadded.
"""

from __future__ import annotations

FIRST_COMMIT_ID = "firstdbf9474d461a19e9333c2fd19b46115348f"
FORMAT_VERSION = "3.9.52"

DATASET_META = "dataset_meta.json"
DATASET_INFO = "dataset_info.json"
DATASET_DIFF = "dataset_diff"
VERSION_CONTROL_INFO = "version_control_info.json"
COMMIT_INFO = "commit_info.json"
TENSOR_META = "tensor_meta.json"
TENSOR_INFO = "tensor_info.json"
CHUNK_IDS = "chunks_index/unsharded"
TILE_ENCODER = "tiles_index/unsharded"
COMMIT_DIFF = "commit_diff"
CHUNK_SET = "chunk_set"


def commit_prefix(commit_id: str) -> str:
    return "" if commit_id == FIRST_COMMIT_ID else f"versions/{commit_id}/"


def dataset_key(commit_id: str, name: str) -> str:
    """A dataset-level object (``dataset_meta.json``, ...) of a commit."""
    return commit_prefix(commit_id) + name


def tensor_key(commit_id: str, tensor: str, name: str) -> str:
    """A tensor-level object (``tensor_meta.json``, ``chunks_index/unsharded``, ...)."""
    return f"{commit_prefix(commit_id)}{tensor}/{name}"


def chunk_name(chunk_id: int) -> str:
    return format(int(chunk_id), "x")


def chunk_key(commit_id: str, tensor: str, name: str) -> str:
    return f"{commit_prefix(commit_id)}{tensor}/chunks/{name}"


def hidden_id(tensor: str) -> str:
    return _companion(tensor, "id")


def hidden_shape(tensor: str) -> str:
    return _companion(tensor, "shape")


def hidden_info(tensor: str) -> str:
    return _companion(tensor, "info")


def _companion(tensor: str, kind: str) -> str:
    # Inside a group the companion sits next to its tensor: "grp/x" -> "grp/_x_id".
    head, _, name = tensor.rpartition("/")
    return f"{head}/_{name}_{kind}" if head else f"_{name}_{kind}"
