"""Helpers for the Runner tests: flow files, and the processes a run leaves behind."""

from __future__ import annotations

import re
import shutil
import time
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("alive", "copy_flow", "task_pids", "wait_gone")


def copy_flow(flows_dir: Path, workdir: Path, name: str) -> str:
    """Copy ``tests/flows/<name>.py`` into ``workdir``; return the copy's file name."""
    shutil.copy(flows_dir / f"{name}.py", workdir / f"{name}.py")
    return f"{name}.py"


def task_pids(text: str) -> set[int]:
    """The pids of the task processes named in a run's console output."""
    return {int(pid) for pid in re.findall(r"\(pid (\d+)\)", text)}


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids: set[int], deadline: float = 5.0) -> set[int]:
    """Wait up to ``deadline`` seconds for the processes to end; return those still alive.

    A process reparented to init after its parent was killed is reaped by init, which
    can take a moment: the OS, not tideflow, decides when, so this polls.
    """
    end = time.monotonic() + deadline
    while (left := {pid for pid in pids if alive(pid)}) and time.monotonic() < end:
        time.sleep(0.02)
    return left
