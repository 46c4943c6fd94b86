"""The console lines of a run: a header, one line per event and per task output line.

``2026-11-22 10:00:00.123 [1763805600123456/start/1 (pid 4242)] Task is starting.``

Timestamps are in local time (``TZ`` as the process sees it when the line is written), as
the reference prints them; the stores keep seconds since the epoch, and the client gives
them as UTC datetimes.
"""

from __future__ import annotations

import functools
import math
import os
import time
from typing import Protocol

__all__ = ("Console", "stamp", "task_prefix")


class Console(Protocol):
    """Where a run's console lines go (a terminal, an ExecutingRun's buffers, ...)."""

    async def write(self, stream: str, lines: list[str]) -> None:
        """Append complete lines (without newlines) to ``stream`` (stdout or stderr)."""
        ...


def stamp(ts: float | None = None) -> str:
    """A local-time timestamp with milliseconds, as console lines start."""
    now = time.time() if ts is None else ts
    second = math.floor(now)
    millis = min(999, int((now - second) * 1000))
    return _local_second(second, os.environ.get("TZ")) + f"{millis:03d}"


@functools.lru_cache(maxsize=4)
def _local_second(second: int, zone: str | None) -> str:
    """``second`` as local date and time up to the seconds' dot, under the time zone
    ``TZ`` names (``zone``, a part of the key only: the C library reads ``TZ`` itself).
    The lines of one second share it: formatting a time costs more than a line."""
    return time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(second))


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
