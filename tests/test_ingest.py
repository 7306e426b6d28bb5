"""``shoal.ingest_classification``: class folders of images into a dataset at any path (local,
mem://, s3:// on a real SeaweedFS), files stored as they are, and clear errors for a source
it cannot use. Side by side with deeplake: tests/interop/idioms.py and
tests/interop/test_ingest_interop.py."""

from __future__ import annotations

import asyncio
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _native
from shoal.errors import IngestSourceError
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server


def picture(seed: int, shape: tuple[int, ...] = (6, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=shape, dtype=np.uint8)


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def classes(tmp_path: Path) -> Path:
    """Three classes of PNGs (one grayscale), a JPEG among them and a text file."""
    files = {f"{c}/{c}{i}.png": _native.png_encode(picture(k * 10 + i)) for k, c in
             enumerate(["dog", "cat", "bird"]) for i in range(3)}  # fmt: skip
    files["cat/gray.png"] = _native.png_encode(picture(99, (6, 5)))
    files["cat/photo.jpg"] = _native.jpeg_encode(picture(100), quality=90)
    files["dog/notes.txt"] = b"not a picture"
    return make_folder(tmp_path / "src", files)


def rows(ds: shoal.Dataset, images: str = "images", labels: str = "labels") -> list[tuple]:
    names = ds[labels].info.class_names
    out = []
    for i in range(len(ds[images])):
        info = ds[images][i].sample_info
        name = Path(info["filename"]).name if info else ""
        out.append((name, names[int(ds[labels][i].numpy()[0])], ds[images][i].shape))
    return out


def test_mem_destination_gets_every_file_labelled(classes: Path) -> None:
    ds = shoal.ingest_classification(classes, "mem://ingest/a", progressbar=False, summary=False)
    assert sorted(ds.tensors) == ["images", "labels"]
    assert ds.images.meta.sample_compression == "png"  # the most common extension
    assert ds.images.htype == "image" and ds.labels.htype == "class_label"
    assert list(ds.labels.info.class_names) == ["bird", "cat", "dog"]
    got = sorted(rows(ds))
    assert ("gray.png", "cat", (6, 5, 1)) in got
    assert ("photo.jpg", "cat", (6, 5, 3)) in got
    assert ("", "dog", (0, 0, 0)) in got  # the text file: an empty sample, still labelled
    assert len(got) == 12
    by_name = {r[0]: i for i, r in enumerate(rows(ds))}
    assert np.array_equal(ds.images[by_name["cat1.png"]].numpy(), picture(11))


def test_files_are_stored_without_re_encoding(tmp_path: Path) -> None:
    jpegs = {f"{c}/{i}.jpg": _native.jpeg_encode(picture(i), quality=85) for c in "ab"
             for i in range(3)}  # fmt: skip
    src = make_folder(tmp_path / "src", jpegs)
    dest = tmp_path / "ds"
    ds = shoal.ingest_classification(src, dest, shuffle=False, progressbar=False, summary=False)
    assert ds.images.meta.sample_compression == "jpeg"
    stored = b"".join(p.read_bytes() for p in (dest / "images" / "chunks").iterdir())
    assert all(data in stored for data in jpegs.values())


def test_split_folders_become_groups_sharing_class_names(tmp_path: Path) -> None:
    png = _native.png_encode(picture(1))
    names = ["train/cat/1.png", "train/dog/2.png", "test/dog/3.png", "test/cow/4.png"]
    src = make_folder(tmp_path / "src", {n: png for n in names})
    ds = shoal.ingest_classification(src, "mem://ingest/split", progressbar=False, summary=False)
    assert sorted(ds.groups) == ["test", "train"]
    assert sorted(ds.tensors) == ["test/images", "test/labels", "train/images", "train/labels"]
    assert list(ds["train/labels"].info.class_names) == ["cat", "cow", "dog"]
    assert sorted(rows(ds, "test/images", "test/labels")) == [
        ("3.png", "dog", (6, 5, 3)),
        ("4.png", "cow", (6, 5, 3)),
    ]


def test_one_top_folder_is_gone_through(tmp_path: Path) -> None:
    png = _native.png_encode(picture(2))
    src = make_folder(tmp_path / "src", {"data/a/1.png": png, "data/b/2.png": png})
    (tmp_path / "src" / "README").write_text("beside the only folder: not a sample")
    ds = shoal.ingest_classification(src, "mem://ingest/top", progressbar=False, summary=False)
    assert sorted(rows(ds)) == [("1.png", "a", (6, 5, 3)), ("2.png", "b", (6, 5, 3))]


def test_seeded_shuffle_repeats_and_no_shuffle_keeps_folder_order(classes: Path) -> None:
    def order(**kw: object) -> list[tuple]:
        random.seed(3)
        ds = shoal.ingest_classification(
            classes, "mem://ingest/o", overwrite=True, progressbar=False, summary=False, **kw
        )
        return rows(ds)

    assert order() == order()
    assert order() != order(shuffle=False)  # 12! orders: the same one by chance is no worry
    plain = [r[1] for r in order(shuffle=False)]
    assert plain == sorted(plain, key=plain.index)  # each class folder's files together


def test_params_name_and_options(classes: Path) -> None:
    ds = shoal.ingest_classification(
        classes,
        "mem://ingest/p",
        image_params={"name": "pics", "sample_compression": "png", "max_chunk_size": 4096},
        label_params={"name": "kind", "chunk_compression": "lz4"},
        progressbar=False,
        summary=False,
    )
    assert sorted(ds.tensors) == ["kind", "pics"]
    assert ds.pics.meta.max_chunk_size == 4096
    assert ds.kind.meta.chunk_compression == "lz4"
    with pytest.raises(shoal.errors.DatasetExistsError):
        shoal.ingest_classification(classes, "mem://ingest/p", progressbar=False, summary=False)


def test_s3_destination(classes: Path, s3_server: S3Server) -> None:
    url = f"s3://{s3_server.bucket}/ingest/classes"
    creds = s3_server.creds()
    shoal.ingest_classification(
        classes, url, dest_creds=creds, progressbar=False, summary=False, overwrite=True
    )
    again = shoal.load(url, creds=creds)
    assert len(again) == 12
    assert list(again.labels.info.class_names) == ["bird", "cat", "dog"]
    assert sorted(r[1] for r in rows(again)).count("cat") == 5


def test_async_twin_does_not_block_the_loop(classes: Path) -> None:
    async def main() -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("error", shoal.errors.BlockingCallWarning)
            ds = await shoal.ingest_classification_async(
                classes, "mem://ingest/async", progressbar=False, summary=False
            )
            return sorted(ds.tensors)

    assert asyncio.run(main()) == ["images", "labels"]


def test_summary_names_the_skipped_file(classes: Path, capsys: pytest.CaptureFixture) -> None:
    shoal.ingest_classification(classes, "mem://ingest/s", progressbar=False)
    out = capsys.readouterr().out
    assert "1 file(s) were skipped" in out and "notes.txt" in out


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        (None, "does not exist"),
        ({}, "no image files"),
        ({"a/readme.txt": b"x"}, "no image files"),
    ],
)
def test_unusable_source_folders(tmp_path: Path, layout: dict | None, words: str) -> None:
    src = tmp_path / "src"
    if layout is not None:
        src.mkdir()
        make_folder(src, layout)
    with pytest.raises(IngestSourceError, match=words) as err:
        shoal.ingest_classification(src, "mem://ingest/bad", progressbar=False)
    assert str(src) in str(err.value)
    assert not shoal.exists("mem://ingest/bad")


@pytest.mark.parametrize(
    ("src", "words"),
    [
        ("s3://bucket/images", "not one. Download"),
        ("images.csv", "not supported"),
        (12, "path of a local folder"),
    ],
)
def test_sources_that_are_not_local_folders(src: object, words: str) -> None:
    with pytest.raises(IngestSourceError, match=words):
        shoal.ingest_classification(src, "mem://ingest/bad", progressbar=False)  # type: ignore[arg-type]


def test_a_file_and_the_destination_itself_are_refused(classes: Path) -> None:
    with pytest.raises(IngestSourceError, match="is a file"):
        shoal.ingest_classification(classes / "cat" / "cat0.png", "mem://ingest/f")
    with pytest.raises(IngestSourceError, match="same folder"):
        shoal.ingest_classification(classes, classes, progressbar=False)
    with pytest.raises(TypeError, match="unexpected arguments"):
        shoal.ingest_classification(classes, "mem://ingest/f", creds={})
