"""The states of a run and of a task attempt, as the metadata store records them.

Both are :class:`enum.StrEnum`\\ s: a member *is* its stored string, so a state read back
from the store (a plain ``str``) compares equal to the member, and a member is stored as
its value. Every state but ``running`` is final.
"""

from __future__ import annotations

import enum

__all__ = ("AttemptState", "RunState")


class _State(enum.StrEnum):
    """What the two kinds of state share: every state but ``running`` is final."""

    @property
    def finished(self) -> bool:
        """Whether the run or attempt has ended, one way or another."""
        return self.value != "running"


class RunState(_State):
    """Where a run is. The member is the string the metadata store records."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    CRASHED = "crashed"

    @property
    def status(self) -> str:
        """The documented ``ExecutingRun.status`` string: running, successful, failed, timeout."""
        return _STATUS[self]

    @property
    def returncode(self) -> int | None:
        """What the reference's subprocess would have exited with."""
        return _RETURNCODE[self]


class AttemptState(_State):
    """Where a task attempt is. The member is the string the metadata store records.

    ``cancelled`` and ``crashed`` are the attempts a stopped or crashed run left running.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    CRASHED = "crashed"


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
