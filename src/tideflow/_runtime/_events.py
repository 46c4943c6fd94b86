"""The events of a run: every state change the scheduler makes, as a message.

The scheduler decides and the recorder (:mod:`._recorder`) writes: each change of a
task's state, each artifact index, each metadata event and each output line is one of the
:data:`RunEvent` Structs below, sent on the run's bounded event stream. The recorder
writes them in the order they were sent, many per transaction, so what the store holds is
always a prefix of the events: a state the run went through (see ``docs/architecture.md``,
"the durability rule").

Events are built complete by the sender: the recorder adds nothing to them but where
they go.
"""

from __future__ import annotations

import msgspec

from .._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    MetadataRecord,
    TaskRecord,
)
from .._metadata._writes import EndAttempt
from .._stores._interfaces import LogKey

__all__ = (
    "AttemptFinished",
    "AttemptStarted",
    "ConsoleLines",
    "LogLines",
    "RunEvent",
    "TaskCaught",
    "TaskStarted",
)


class TaskStarted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A new task (and its step, the first time one of its tasks starts)."""

    record: TaskRecord


class AttemptStarted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An attempt of a task starts (state ``running``), with the metadata that must be
    recorded whatever becomes of it."""

    record: AttemptRecord
    metadata: list[MetadataRecord] = []


class AttemptFinished(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An attempt ended: its final state, its artifact index and its metadata.

    The artifacts it names are in the blob store already: the task process stored them
    before it reported its result. The attempt's logs are closed when it is written.
    """

    end: EndAttempt


class TaskCaught(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """``@catch`` let the run go on after a task's last attempt failed.

    ``blobs`` are stored before the records are: the value of the ``var`` artifact.
    """

    artifacts: list[ArtifactRecord]
    metadata: list[MetadataRecord]
    blobs: list[bytes] = []


class LogLines(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Lines an attempt wrote (or tideflow says about it) for its log.

    With a ``prefix`` (``[run/step/task (pid N)]``) they go to the run's console too.
    """

    key: LogKey
    lines: list[tuple[float, bytes]]
    prefix: str | None = None


class ConsoleLines(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Lines for the run's console only (``Task is starting.``, ...), complete."""

    stream: str
    lines: list[str]


#: Every event the scheduler sends to the recorder.
RunEvent = TaskStarted | AttemptStarted | AttemptFinished | TaskCaught | LogLines | ConsoleLines
