"""What a task attempt says while it runs, as events: its output lines and tideflow's.

An :class:`AttemptSink` is the :class:`~tideflow._worker._executor.TaskSink` the
scheduler gives an executor for one attempt. It writes nothing itself: every line becomes
an event for the run's recorder (:mod:`._recorder`), which appends it to the attempt's log
and to the run's console.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from .._stores._interfaces import LogKey
from ._console import stamp, task_prefix
from ._events import ConsoleLines, LogLines

if TYPE_CHECKING:
    from ._events import RunEvent
    from ._plan import RunPlan, TaskPlan

__all__ = ("AttemptSink", "EventSink")


class EventSink(Protocol):
    """Where the scheduler sends its events (a :class:`~._recorder.Recorder`)."""

    async def record(self, event: RunEvent) -> None:
        """Send ``event``; wait while the recorder is behind."""
        ...

    async def flush(self) -> None:
        """Wait until every event sent so far is written."""
        ...


class AttemptSink:
    """Turns what one task attempt says into events; see the module docstring."""

    def __init__(
        self, run: RunPlan, plan: TaskPlan, task_id: str, attempt: int, events: EventSink
    ) -> None:
        self._run = run
        self._step = plan.step
        #: The foreach item indices of the task, outermost first (none outside a foreach).
        self._items = tuple(frame.index for frame in plan.stack)
        self._task_id = task_id
        self._attempt = attempt
        self._events = events
        self.pid: int | None = None
        #: ``[run/step/task (pid N)]``, made again when the pid becomes known.
        self._prefix_text = ""
        self._prefix_pid: int | None = -1

    def __repr__(self) -> str:
        return f"<AttemptSink {self._step}/{self._task_id} attempt {self._attempt}>"

    async def started(self, pid: int) -> None:
        """The task process runs: say so."""
        self.pid = pid
        retry = f" (retry {self._attempt})" if self._attempt else ""
        await self.say(f"Task is starting{retry}.")

    def _prefix(self) -> str:
        if self._prefix_pid != self.pid:
            self._prefix_pid = self.pid
            self._prefix_text = task_prefix(
                self._run.run_id, self._step, self._task_id, self.pid, self._items
            )
        return self._prefix_text

    def _key(self, stream: str) -> LogKey:
        return LogKey(
            flow=self._run.flow_name,
            run_id=self._run.run_id,
            step=self._step,
            task_id=self._task_id,
            attempt=self._attempt,
            stream=stream,
        )

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        """Lines the task wrote: for its log and the run's console."""
        await self._events.record(
            LogLines(key=self._key(stream), lines=lines, prefix=self._prefix())
        )

    async def say(self, text: str, stream: str = "stdout") -> None:
        """A line tideflow says about the task, on the run's console."""
        await self._events.record(
            ConsoleLines(stream=stream, lines=[f"{stamp()} {self._prefix()} {text}"])
        )

    async def record(self, text: str, stream: str) -> None:
        """A line tideflow says about the task in the attempt's log (not the console)."""
        await self._events.record(
            LogLines(key=self._key(stream), lines=[(time.time(), text.encode())])
        )
