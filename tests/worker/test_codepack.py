"""Code packages: deterministic, content-addressed, unpacked once per machine."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

from tideflow._datastore._local import open_local
from tideflow._exceptions import TideflowError
from tideflow._worker import _codepack
from tideflow._worker._codepack import CodePackage, pack_directory, unpack_cached

if TYPE_CHECKING:
    from pathlib import Path


def _tree(folder: Path) -> None:
    (folder / "pkg").mkdir(parents=True)
    (folder / "flow.py").write_text("print('flow')\n")
    (folder / "pkg" / "helper.py").write_text("X = 1\n")
    for skipped in (".tideflow", ".git", "__pycache__"):
        (folder / skipped).mkdir()
        (folder / skipped / "junk.txt").write_text("junk")


def test_same_files_same_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packing the same files twice (other mtimes) gives one key; stores, version control
    and caches are left out; the worker side unpacks the files where the key says."""
    blobs, _ = open_local(f"file://{tmp_path / 'store'}", root=tmp_path / "store")
    source = tmp_path / "src"
    _tree(source)
    first = pack_directory(source, blobs)
    later = time.time() + 100
    os.utime(source / "flow.py", (later, later))
    assert pack_directory(source, blobs) == first
    assert first.source_dir == str(source.resolve())
    monkeypatch.setenv("TIDEFLOW_CODE_CACHE", str(tmp_path / "cache"))
    here = unpack_cached(first, blobs)
    assert here == tmp_path / "cache" / first.sha
    files = sorted(p.relative_to(here).as_posix() for p in here.rglob("*") if p.is_file())
    assert files == ["flow.py", "pkg/helper.py"]
    assert unpack_cached(CodePackage(sha=first.sha, source_dir=""), blobs) == here


def test_too_large_a_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that packs to more than the limit fails with the fix."""
    blobs, _ = open_local(f"file://{tmp_path / 'store'}", root=tmp_path / "store")
    source = tmp_path / "src"
    source.mkdir()
    (source / "data.bin").write_bytes(os.urandom(4096))
    monkeypatch.setattr(_codepack, "MAX_PACKAGE_BYTES", 1024)
    with pytest.raises(TideflowError, match="move the flow file to a folder"):
        pack_directory(source, blobs)
