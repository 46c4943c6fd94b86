"""A store with finished runs of ``tests/flows/ui_flow.py``, shared by the UI's tests.

The runs are made once per module by the real command line (``python ui_flow.py run``)
in a folder of their own; the UI only reads them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FLOW = Path(__file__).parent.parent / "flows" / "ui_flow.py"


@dataclass(frozen=True)
class UiStore:
    """The store's root and the ids of the runs in it."""

    root: Path
    succeeded: str
    failed: str


def run_flow(root: Path, *args: str, env: dict[str, str] | None = None, flow: Path = FLOW) -> str:
    """Run ``flow`` (``ui_flow.py``) with ``args`` into ``root``; return the new run's id."""
    root.parent.mkdir(parents=True, exist_ok=True)
    id_file = root.parent / f"run-id-{len(list(root.parent.glob('run-id-*')))}"
    command = [sys.executable, str(flow), "--root", str(root), "run"]
    subprocess.run(
        [*command, "--run-id-file", str(id_file), *args],
        cwd=root.parent,
        env={**os.environ, "TIDEFLOW_USER": "tester", **(env or {})},
        capture_output=True,
        check=False,
        timeout=60,
    )
    return id_file.read_text()


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    """Two finished runs: a successful one (count 3) and one whose report step failed."""
    root = tmp_path_factory.mktemp("ui") / ".tideflow"
    succeeded = run_flow(root, "--count", "3", "--tag", "good")
    failed = run_flow(root, "--count", "2", "--fail", env={"TIDEFLOW_USER": "other"})
    return UiStore(root=root, succeeded=succeeded, failed=failed)
