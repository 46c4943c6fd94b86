"""Fixtures for the Runner tests: flow files copied where the guide's snippets expect them.

Every test here works in a fresh folder (``tideflow_root`` changes into it) that holds
``slowflow.py``, the guide's SlowFlow ten times faster (``tests/flows/runner_slowflow.py``).

The tests use the ``fork`` executor unless they ask for one (the ``executor`` fixture of
``tests/executors.py`` runs a test on each): runs start in milliseconds instead of a
fresh interpreter's hundreds, which keeps the suite short. Behaviour that depends on how
processes start (stopping a process tree, environments, many runs at once) is tested on
both executors.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from executors import EXECUTORS

if TYPE_CHECKING:
    from pathlib import Path

#: The executor used when a test does not choose one.
DEFAULT_EXECUTOR = "fork" if "fork" in EXECUTORS else "spawn"


@pytest.fixture(autouse=True)
def _fast_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", DEFAULT_EXECUTOR)


@pytest.fixture
def workdir(tideflow_root: Path, flows_dir: Path) -> Path:
    """The test's working folder, holding ``slowflow.py`` (and a fresh store)."""
    folder = tideflow_root.parent
    shutil.copy(flows_dir / "runner_slowflow.py", folder / "slowflow.py")
    return folder
