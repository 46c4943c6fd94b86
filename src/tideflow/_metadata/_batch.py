"""The batch family: many writes applied in one transaction (``write_batch``).

The recorder of a run (:mod:`tideflow._runtime._recorder`) hands the store the writes of
:mod:`._writes` many at a time. :meth:`BatchFamily.write_batch` applies them in order,
in one transaction, through the same SQL as the single writes of :mod:`._tasks`: each
write checks what the method of the same name checks, and the first one that fails rolls
the whole batch back. Runs and tasks already checked in the batch are not looked up again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._artifacts import insert_artifacts
from ._events import insert_metadata
from ._rows import (
    artifact_rows,
    attempt_row,
    exception_columns,
    metadata_rows,
    run_number,
    task_row,
)
from ._sql import Session, StoreFamily, require_run, require_task
from ._tasks import INSERT_ATTEMPT, INSERT_TASK, end_attempt, insert_step
from ._writes import AddArtifacts, AddMetadata, AddTask, EndAttempt, StartAttempt, check_writes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._writes import Write

__all__ = ("BatchFamily",)


class BatchFamily(StoreFamily):
    """Writes of several tables, many at once."""

    __slots__ = ()

    def write_batch(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order, in one transaction (see :mod:`._writes`).

        :raises ValueError: if a write has a state that is not allowed.
        :raises NotFound: if a write names a run, task or attempt that does not exist;
            nothing of the batch is recorded then.
        :raises TideflowInternalError: if a task or attempt is recorded twice.
        """
        if not writes:
            return
        check_writes(writes)
        self._write(lambda s: _apply(s, writes))


def _apply(s: Session, writes: Sequence[Write]) -> None:
    """Apply ``writes`` in order, inside the session's transaction."""
    runs: set[tuple[str, int]] = set()
    tasks: set[tuple[str, int, str, str]] = set()
    for write in writes:
        match write:
            case AddTask(record=record):
                number = run_number(record.flow, record.run_id)
                if (record.flow, number) not in runs:
                    require_run(s, record.flow, number)
                    runs.add((record.flow, number))
                insert_step(s, record, number)
                s.insert_new(INSERT_TASK, task_row(record, number), f"Task '{record.pathspec}'")
                tasks.add((record.flow, number, record.step, record.task_id))
            case StartAttempt(record=record):
                number = run_number(record.flow, record.run_id, record.step, record.task_id)
                key = (record.flow, number, record.step, record.task_id)
                if key not in tasks:
                    require_task(s, *key)
                    tasks.add(key)
                what = f"Attempt {record.attempt} of task '{record.pathspec}'"
                s.insert_new(INSERT_ATTEMPT, attempt_row(record, number), what)
            case EndAttempt():
                _end_attempt(s, write)
            case AddArtifacts(records=records):
                insert_artifacts(s, artifact_rows(records))
            case AddMetadata(records=records):
                insert_metadata(s, metadata_rows(records))


def _end_attempt(s: Session, end: EndAttempt) -> None:
    values = (
        end.state,
        end.finished_at,
        end.exit_code,
        end.signal,
        *exception_columns(end.exception),
        end.pid,
    )
    number = run_number(end.flow, end.run_id, end.step, end.task_id)
    attempt = (end.flow, end.run_id, end.step, end.task_id, end.attempt)
    artifacts, metadata = artifact_rows(end.artifacts), metadata_rows(end.metadata)
    end_attempt(s, attempt, number, values, artifacts, metadata)
