"""Running one of the flows of ``tests/flows`` from a test's own folder, with the Runner.

The flow file is copied into the folder (``tideflow_root``'s parent, the test's working
directory), so files the flow reads by relative path (a config, an included file) are
written next to it by the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tideflow import ExecutingRun

__all__ = ("FLOWS", "copy_flow", "run_flow")

FLOWS = Path(__file__).resolve().parent / "flows"


def copy_flow(folder: Path, name: str) -> Path:
    """Copy ``tests/flows/<name>`` into ``folder``; return the copy."""
    target = folder / name
    shutil.copy(FLOWS / name, target)
    return target


async def run_flow(
    folder: Path,
    name: str,
    *,
    top: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> ExecutingRun:
    """Run the flow ``name`` from ``folder`` until it ends; return its ExecutingRun."""
    path = copy_flow(folder, name)
    runner = Runner(
        str(path), show_output=False, env=dict(env or {}), cwd=str(folder), **(top or {})
    )
    running = await runner.async_run(**options)
    await running.wait()
    return running
