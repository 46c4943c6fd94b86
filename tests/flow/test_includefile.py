"""IncludeFile: a parameter whose value is a local file's contents, stored with the run."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from executors import executor
from feature_runs import copy_flow, run_flow
from tideflow import IncludeFile, Runner
from tideflow._exceptions import ParameterError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)

BLOB = bytes(range(256))


def test_reads_text_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("héllo\n", encoding="utf-8")
    (tmp_path / "b.bin").write_bytes(BLOB)
    assert IncludeFile("a").convert(str(tmp_path / "a.txt"), from_text=True) == "héllo\n"
    assert IncludeFile("b", is_text=False).convert(tmp_path / "b.bin", from_text=False) == BLOB
    assert IncludeFile("a").type_name == "file"


def test_bad_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError, match=r"^IncludeFile 'a': cannot read .*missing\.txt"):
        IncludeFile("a").convert(str(tmp_path / "missing.txt"), from_text=True)
    with pytest.raises(ParameterError, match=r"^IncludeFile 'b': .*b\.bin is not utf-8 text"):
        IncludeFile("b").convert(str(tmp_path / "b.bin"), from_text=True)
    with pytest.raises(TypeError, match=r"^IncludeFile 'a' takes the path of a file, got int"):
        IncludeFile("a").convert(3, from_text=False)


async def test_included_files_are_artifacts(tideflow_root: Path, executor: str) -> None:
    """The default file and a given binary file are read at run start and stored; a later
    change to the files does not change the run."""
    folder = tideflow_root.parent
    (folder / "notes.txt").write_text("one\ntwo\nthree\n")
    (folder / "data.bin").write_bytes(BLOB)
    (folder / "latin.txt").write_bytes("café".encode("latin-1"))
    running = await run_flow(folder, "includefile_flow.py", blob="data.bin", latin="latin.txt")
    assert running.status == "successful", running.stderr
    (folder / "notes.txt").write_text("changed")
    run = running.run
    start = run["start"].task.data
    assert (start.lines, start.blob_type, start.blob_size) == (3, "bytes", 256)
    assert start.latin_text == "café"
    assert run.data.notes == run.data.end_notes == "one\ntwo\nthree\n"
    assert run.data.blob == BLOB


async def test_required_and_missing_files(tideflow_root: Path) -> None:
    folder = tideflow_root.parent
    path = copy_flow(folder, "includefile_flow.py")
    with pytest.raises(ParameterError, match=r"^IncludeFile 'notes': cannot read .*notes\.txt"):
        await Runner(str(path)).async_run(blob="includefile_flow.py")
    (folder / "notes.txt").write_text("a\n")
    with pytest.raises(ParameterError, match=r"^Parameter 'blob' is required: pass --blob"):
        await Runner(str(path)).async_run()
    with pytest.raises(ParameterError, match=r"^IncludeFile 'blob': cannot read .*nope\.bin"):
        await Runner(str(path)).async_run(blob="nope.bin")


def test_command_line(tideflow_root: Path) -> None:
    """``--blob PATH`` on the command line; --help names the parameter a file."""
    folder = tideflow_root.parent
    path = copy_flow(folder, "includefile_flow.py")
    (folder / "notes.txt").write_text("a\n")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    shown = subprocess.run(
        [sys.executable, str(path), "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--blob VALUE" in shown.stdout and "[file, required]" in shown.stdout
    done = subprocess.run(
        [sys.executable, str(path), "run", "--blob", "data.bin"],
        check=False,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    failed = subprocess.run(
        [sys.executable, str(path), "run", "--blob", "none.bin"],
        check=False,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert failed.returncode == 2
    assert "error: IncludeFile 'blob': cannot read" in failed.stderr
