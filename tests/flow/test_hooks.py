"""The hooks through which the definition layer reaches the command line and the client."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import tideflow
from tideflow._flow import _hooks

if TYPE_CHECKING:
    from pathlib import Path


def test_importing_tideflow_installs_both_hooks() -> None:
    assert set(_hooks._installed) == {"command_line", "client_object"}


def test_the_client_hook_reaches_the_client(tideflow_root: Path) -> None:
    """``current.run`` of a real task is covered by tests/runtime/test_parallel.py; here,
    the client's own error shows that the hook reached it."""
    with pytest.raises(tideflow.NotFound, match=r"^Run 'SomeFlow/1' does not exist"):
        _hooks.client_object("run", "SomeFlow/1", str(tideflow_root))
    with pytest.raises(tideflow.NotFound, match=r"^Task 'SomeFlow/1/start/2' does not exist"):
        _hooks.client_object("task", "SomeFlow/1/start/2", str(tideflow_root))


def test_a_flow_object_outside_a_task_has_no_run() -> None:
    assert tideflow.current.run is None
    assert tideflow.current.task is None


def test_the_definition_layer_alone_loads_no_upper_layer() -> None:
    """Importing the definition layer imports neither the command line nor the client."""
    code = (
        "import sys, tideflow._flow._spec, tideflow._flow._current\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tideflow._cli', "
        "'tideflow._client'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
