"""The states of a run and of a task attempt, and how they read to a user.

A run whose supervisor died (killed, or its machine lost) cannot record its end. Its
supervisor holds a lock the operating system releases when it dies
(:mod:`tideflow._metadata._liveness`), and renews a lease (``heartbeat_at``) every
``Config.heartbeat_interval`` seconds for stores where no lock is possible; whoever reads
runs calls :func:`mark_crashed_runs` first, which records every ``running`` run whose
supervisor is gone as ``crashed``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from .._config import Config
    from .._metadata._records import RunRecord
    from .._stores._interfaces import MetadataStore

__all__ = ("RunState", "mark_crashed_runs")


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


def mark_crashed_runs(
    store: MetadataStore, config: Config, flow: str | None = None, *, root: Path | None = None
) -> list[RunRecord]:
    """Record as ``crashed`` the running runs (of ``flow``, or of every flow) whose
    supervisor is gone (its lock released; without a lock: its lease expired), and their
    running attempts; return those runs. Call it before reading the states of runs.

    :param root: the store folder, which holds the runs' locks (default: the configured
        one, found as :func:`~tideflow._config.find_root` does).
    """
    from .._config import find_root
    from .._metadata._liveness import mark_crashed_runs as mark

    return mark(store, root or find_root(config), config.heartbeat_timeout, flow)
