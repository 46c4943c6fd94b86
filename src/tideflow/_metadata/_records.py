"""The records the metadata store keeps: runs, steps, tasks, attempts, artifacts, metadata.

Every record is a frozen msgspec Struct. Timestamps are seconds since the epoch (UTC) as
floats. These records are persisted and sent between processes, so they follow msgspec's
schema-evolution rules: a new field gets a default, and no field changes its type.
"""

from __future__ import annotations

from typing import Final

import msgspec

from .._states import AttemptState, RunState

__all__ = (
    "ATTEMPT_STATES",
    "RUN_STATUSES",
    "ArtifactRecord",
    "AttemptRecord",
    "ExceptionInfo",
    "MetadataRecord",
    "RunRecord",
    "RunView",
    "StepRecord",
    "TaskRecord",
    "TaskSnapshot",
    "TaskView",
)

#: The states a run can be in (:class:`RunState`). Every one but ``running`` is final.
RUN_STATUSES: Final = frozenset(RunState)
#: The states a task attempt can be in (:class:`AttemptState`). Every one but ``running``
#: is final.
ATTEMPT_STATES: Final = frozenset(AttemptState)


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One run of a flow.

    ``run_id`` is a decimal string; a later run of the same flow has a larger id.
    ``heartbeat_at`` is renewed by the supervisor that owns the run; a ``running`` run whose
    heartbeat is too old belonged to a supervisor that died.
    """

    flow: str
    run_id: str
    user: str
    #: A :class:`~tideflow._states.RunState` value.
    status: str
    created_at: float
    finished_at: float | None = None
    origin_run_id: str | None = None
    system_tags: tuple[str, ...] = ()
    user_tags: tuple[str, ...] = ()
    heartbeat_at: float | None = None
    pid: int | None = None

    @property
    def pathspec(self) -> str:
        """``Flow/run_id``."""
        return f"{self.flow}/{self.run_id}"

    @property
    def tags(self) -> frozenset[str]:
        """Every tag of the run, system and user."""
        return frozenset(self.system_tags) | frozenset(self.user_tags)


class StepRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A step of a run that has started at least one task."""

    flow: str
    run_id: str
    step: str
    created_at: float

    @property
    def pathspec(self) -> str:
        """``Flow/run_id/step``."""
        return f"{self.flow}/{self.run_id}/{self.step}"


class _InTask(msgspec.Struct, frozen=True, kw_only=True):
    """What names the task a record belongs to (the first columns of its table)."""

    flow: str
    run_id: str
    step: str
    task_id: str

    @property
    def pathspec(self) -> str:
        """``Flow/run_id/step/task_id`` of the task."""
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


class TaskRecord(_InTask, frozen=True, kw_only=True):
    """A task of a step.

    ``foreach_stack`` is opaque to the store: msgpack bytes owned by the runtime.
    ``origin_pathspec`` names the task this one was cloned from when a run is resumed.
    """

    created_at: float
    index: int | None = None
    foreach_stack: bytes = b""
    parent_pathspecs: tuple[str, ...] = ()
    origin_pathspec: str | None = None


class ExceptionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An exception raised inside a task, as text."""

    type: str
    message: str
    traceback: str


class _InAttempt(_InTask, frozen=True, kw_only=True):
    """What names the task attempt a record belongs to."""

    attempt: int


class AttemptRecord(_InAttempt, frozen=True, kw_only=True):
    """One attempt at running a task (attempts count from 0); its ``pathspec`` is the
    task's."""

    #: An :class:`~tideflow._states.AttemptState` value.
    state: str
    started_at: float
    finished_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    pid: int | None = None
    exception: ExceptionInfo | None = None


class ArtifactRecord(_InAttempt, frozen=True, kw_only=True):
    """An artifact a task attempt stored: its name and the key of its blob."""

    name: str
    sha: str
    size: int
    created_at: float


class MetadataRecord(_InAttempt, frozen=True, kw_only=True):
    """A metadata event recorded for a task attempt (a name, a value and its type)."""

    name: str
    value: str
    type: str
    created_at: float
    tags: tuple[str, ...] = ()


class TaskSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A task with one of its attempts and what that attempt recorded.

    ``list_task_snapshots`` reads them (each task with its latest attempt) and
    ``clone_tasks`` records them (finished tasks a resume copies into its new run).
    ``artifacts`` and ``metadata`` belong to ``attempt``.
    """

    task: TaskRecord
    attempt: AttemptRecord
    artifacts: tuple[ArtifactRecord, ...] = ()
    metadata: tuple[MetadataRecord, ...] = ()


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    """A task with its step, its latest attempt and that attempt's artifacts: what the
    client needs to read ``run.data``, in one query
    (:meth:`~tideflow._stores._interfaces.MetadataStore.newest_task`)."""

    step: StepRecord
    task: TaskRecord
    #: The task's latest attempt, ``None`` before it started one.
    attempt: AttemptRecord | None
    #: The artifacts of that attempt, by name.
    artifacts: tuple[ArtifactRecord, ...] = ()


class RunView(msgspec.Struct, frozen=True, kw_only=True):
    """A run with the newest task of one of its steps, read in one query
    (:meth:`~tideflow._stores._interfaces.MetadataStore.get_run_view`): what the client
    needs for ``Run(pathspec).data``."""

    run: RunRecord
    #: The newest task of the step asked for, ``None`` if it has none (yet).
    newest: TaskView | None
