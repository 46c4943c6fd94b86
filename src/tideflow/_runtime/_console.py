"""The console lines of a run: a header, one line per event and per task output line.

``2026-11-22 10:00:00.123 [1763805600123456/start/1 (pid 4242)] Task is starting.``

Timestamps are in local time (``TZ`` as the process sees it when the line is written), as
the reference prints them; the stores keep seconds since the epoch, and the client gives
them as UTC datetimes.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

__all__ = ("Console", "stamp", "task_prefix")


class Console(Protocol):
    """Where a run's console lines go (a terminal, an ExecutingRun's buffers, ...)."""

    async def write(self, stream: str, lines: list[str]) -> None:
        """Append complete lines (without newlines) to ``stream`` (stdout or stderr)."""
        ...


def stamp(ts: float | None = None) -> str:
    """A local-time timestamp with milliseconds, as console lines start."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def task_prefix(
    run_id: str, step: str, task_id: str, pid: int | None, items: tuple[int, ...] = ()
) -> str:
    """``[run/step/task (pid N)]``; in a foreach, ``[run/step/task item I (pid N)]``, with
    the item index of every enclosing foreach (``items 1, 2``) when they are nested."""
    pid_text = f" (pid {pid})" if pid is not None else ""
    item_text = ""
    if items:
        label = "item" if len(items) == 1 else "items"
        item_text = f" {label} {', '.join(str(i) for i in items)}"
    return f"[{run_id}/{step}/{task_id}{item_text}{pid_text}]"
