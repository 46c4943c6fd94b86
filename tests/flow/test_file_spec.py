"""Flow files imported by path compile from their source and leave no bytecode cache."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

import pytest

from tideflow._flow._file_spec import SourceOnlyLoader, flow_file_spec

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType


def _import(name: str, path: Path) -> ModuleType:
    spec = flow_file_spec(name, path)
    assert spec is not None
    assert isinstance(spec.loader, SourceOnlyLoader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def writes_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytecode writing on, as in a default interpreter (the shell may turn it off)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.mark.usefixtures("writes_bytecode")
def test_an_edit_of_the_same_size_within_a_second_is_seen(tmp_path: Path) -> None:
    """A cached ``.pyc`` is valid for a source of the same size and whole-second mtime:
    the flow file's second version must run all the same."""
    flow = tmp_path / "edited.py"
    flow.write_text("VALUE = 'a'\n")
    stamp = os.stat(flow).st_mtime_ns
    assert _import("edited_first", flow).VALUE == "a"
    flow.write_text("VALUE = 'b'\n")
    os.utime(flow, ns=(stamp, stamp))
    assert _import("edited_second", flow).VALUE == "b"


@pytest.mark.usefixtures("writes_bytecode")
def test_no_bytecode_cache_is_written(tmp_path: Path) -> None:
    """The flow file's folder stays as the user left it: no ``__pycache__``."""
    flow = tmp_path / "flow.py"
    flow.write_text("VALUE = 1\n")
    assert _import("uncached_flow", flow).VALUE == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.py"]


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    """Compiling from source keeps Python's own report of where the error is."""
    flow = tmp_path / "broken.py"
    flow.write_text("x = 1\ndef (:\n")
    with pytest.raises(SyntaxError) as caught:
        _import("broken_flow", flow)
    assert caught.value.filename == str(flow)
    assert caught.value.lineno == 2
