"""The states of a run and of a task attempt, and how they read to a user."""

from __future__ import annotations

import enum

__all__ = ("RunState",)


class RunState(enum.Enum):
    """Where a run is. ``value`` is what the metadata store records."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    CRASHED = "crashed"

    @property
    def finished(self) -> bool:
        """Whether the run has ended, one way or another."""
        return self is not RunState.RUNNING

    @property
    def status(self) -> str:
        """The documented ``ExecutingRun.status`` string: running, successful, failed, timeout."""
        return _STATUS[self]

    @property
    def returncode(self) -> int | None:
        """What the reference's subprocess would have exited with."""
        return _RETURNCODE[self]


_STATUS = {
    RunState.RUNNING: "running",
    RunState.SUCCEEDED: "successful",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "failed",
    RunState.TIMEOUT: "timeout",
    RunState.CRASHED: "failed",
}

_RETURNCODE = {
    RunState.RUNNING: None,
    RunState.SUCCEEDED: 0,
    RunState.FAILED: 1,
    RunState.CANCELLED: -2,
    RunState.TIMEOUT: -15,
    RunState.CRASHED: 1,
}
