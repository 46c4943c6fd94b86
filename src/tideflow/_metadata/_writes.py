"""Writes to the metadata store, as records: what :meth:`MetadataStore.write_batch` takes.

The recorder of a run (:mod:`tideflow._runtime._recorder`) turns the scheduler's events
into these and hands many of them to the store at once; the store applies them in order,
in one transaction, so a reader (or a resume after ``kill -9``) sees a batch whole or not
at all. Each write does what the store method of the same name does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ._records import (
    ATTEMPT_STATES,
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    TaskRecord,
)
from ._rows import check_state

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "AddArtifacts",
    "AddMetadata",
    "AddTask",
    "EndAttempt",
    "StartAttempt",
    "Write",
    "check_writes",
)


class AddTask(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """:meth:`MetadataStore.add_task`: a new task, and its step if that is new."""

    record: TaskRecord


class StartAttempt(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """:meth:`MetadataStore.start_attempt`: a new attempt of a task."""

    record: AttemptRecord


class EndAttempt(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """:meth:`MetadataStore.record_task_end`: how an attempt ended, with what it stored."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    state: str
    finished_at: float
    exit_code: int | None = None
    signal: int | None = None
    exception: ExceptionInfo | None = None
    artifacts: list[ArtifactRecord] = []
    metadata: list[MetadataRecord] = []
    pid: int | None = None


class AddArtifacts(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """:meth:`MetadataStore.add_artifacts`."""

    records: list[ArtifactRecord]


class AddMetadata(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """:meth:`MetadataStore.add_metadata`."""

    records: list[MetadataRecord]


#: One write of a batch.
Write = AddTask | StartAttempt | EndAttempt | AddArtifacts | AddMetadata


def check_writes(writes: Sequence[Write]) -> None:
    """Check what can be checked before a batch's transaction starts: the states.

    :raises ValueError: for an attempt state that is not allowed.
    """
    for write in writes:
        match write:
            case StartAttempt(record=record):
                check_state(record.state, ATTEMPT_STATES, "attempt state", final=False)
            case EndAttempt(state=state):
                check_state(state, ATTEMPT_STATES, "attempt state")
