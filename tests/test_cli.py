from __future__ import annotations

from pathlib import Path

import pytest

from shoal.cli import main


@pytest.mark.parametrize("compression", [None, "png", "jpeg"])
def test_demo_writes_reads_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], compression: str | None
) -> None:
    args = ["demo", "--path", str(tmp_path / "demo"), "--samples", "70", "--size", "32"]
    if compression:
        args += ["--compression", compression]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "wrote   70 samples" in out and "read    70 samples" in out
    assert "samples/s" in out and "MB/s" in out and "labels check ok" in out
    assert not (tmp_path / "demo").exists()  # removed unless --keep
