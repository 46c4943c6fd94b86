"""The tasks family: steps, tasks and their attempts, and how an attempt ends.

Tables ``steps``, ``tasks`` and ``attempts``. :meth:`TasksFamily.record_task_end` also
writes the ended attempt's artifacts and metadata events, in the same transaction.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from .._exceptions import NotFound
from ._artifacts import insert_artifacts
from ._events import insert_metadata
from ._records import ATTEMPT_STATES, StepRecord
from ._rows import (
    ATTEMPT_COLUMNS,
    TASK_COLUMNS,
    artifact_rows,
    attempt_record,
    attempt_row,
    check_state,
    exception_columns,
    metadata_rows,
    run_number,
    task_record,
    task_row,
)
from ._sql import Session, StoreFamily, require_run, require_step, require_task

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._records import (
        ArtifactRecord,
        AttemptRecord,
        ExceptionInfo,
        MetadataRecord,
        TaskRecord,
    )

__all__ = (
    "END_ATTEMPT",
    "INSERT_ATTEMPT",
    "INSERT_TASK",
    "TasksFamily",
    "end_attempt",
    "insert_step",
)

INSERT_TASK: Final = f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join(['?'] * 9)})"
INSERT_ATTEMPT: Final = (
    f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join(['?'] * 14)})"
)
END_ATTEMPT: Final = (
    "UPDATE attempts SET state = ?, finished_at = ?, exit_code = ?, signal = ?, "
    "exc_type = ?, exc_message = ?, exc_traceback = ?, pid = coalesce(?, pid) "
    "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? AND attempt = ?"
)


def insert_step(s: Session, record: StepRecord | TaskRecord, number: int) -> None:
    """Record the step of ``record`` (its run exists), unless it is recorded already."""
    head, tail = s.sql.insert_ignore
    s.run(
        f"{head} INTO steps (flow, run_id, step, created_at) VALUES (?, ?, ?, ?){tail}",
        (record.flow, number, record.step, record.created_at),
    )


def end_attempt(
    s: Session,
    attempt: tuple[str, str, str, str, int],
    number: int,
    values: Sequence[object],
    artifacts: Sequence[Sequence[object]],
    metadata: Sequence[Sequence[object]],
) -> None:
    """Record how ``attempt`` (flow, run id, step, task id, attempt) of the run numbered
    ``number`` ended: ``values`` are the columns :data:`END_ATTEMPT` sets; then its artifact
    and metadata rows.

    :raises NotFound: if the attempt does not exist.
    """
    flow, run_id, step, task_id, count = attempt
    if s.run(END_ATTEMPT, (*values, flow, number, step, task_id, count)) == 0:
        raise NotFound(
            f"Attempt {count} of task '{flow}/{run_id}/{step}/{task_id}' does not exist"
        )
    insert_artifacts(s, artifacts)
    insert_metadata(s, metadata)


class TasksFamily(StoreFamily):
    """Steps, tasks and attempts."""

    __slots__ = ()

    # -- steps and tasks -------------------------------------------------------------------

    def add_step(self, record: StepRecord) -> None:
        """Record a step of a run; recording it again changes nothing.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(record.flow, record.run_id)

        def insert(s: Session) -> None:
            require_run(s, record.flow, number)
            insert_step(s, record, number)

        self._write(insert)

    def add_task(self, record: TaskRecord) -> None:
        """Record a new task, and its step if that is not recorded yet.

        :raises NotFound: if the run does not exist.
        :raises TideflowInternalError: if the task is already recorded.
        """
        number = run_number(record.flow, record.run_id)

        def insert(s: Session) -> None:
            require_run(s, record.flow, number)
            insert_step(s, record, number)
            s.insert_new(INSERT_TASK, task_row(record, number), f"Task '{record.pathspec}'")

        self._write(insert)

    def list_steps(self, flow: str, run_id: str) -> list[StepRecord]:
        """Return the steps of a run, newest first.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)

        def select(s: Session) -> list[tuple[float, str]]:
            rows = s.all(
                "SELECT created_at, step FROM steps WHERE flow = ? AND run_id = ? "
                f"ORDER BY created_at DESC, {s.sql.seq} DESC",
                (flow, number),
            )
            if not rows:
                require_run(s, flow, number)
            return rows

        return [
            StepRecord(flow=flow, run_id=run_id, step=step, created_at=created)
            for created, step in self._read(select)
        ]

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """Return the tasks of a step, newest first.

        :raises NotFound: if the step does not exist.
        """
        number = run_number(flow, run_id, step)

        def select(s: Session) -> list[tuple[object, ...]]:
            rows = s.all(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? AND step = ? "
                f"ORDER BY created_at DESC, {s.sql.seq} DESC",
                (flow, number, step),
            )
            if not rows:
                require_step(s, flow, number, step)
            return rows

        return [task_record(row) for row in self._read(select)]

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """Return a task.

        :raises NotFound: if the task does not exist.
        """
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks "
            "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"
        )
        row = self._read(lambda s: s.one(sql, (flow, number, step, task_id)))
        if row is None:
            raise NotFound(f"Task '{flow}/{run_id}/{step}/{task_id}' does not exist")
        return task_record(row)

    # -- attempts --------------------------------------------------------------------------

    def start_attempt(self, record: AttemptRecord) -> None:
        """Record a new attempt of a task.

        :raises NotFound: if the task does not exist.
        :raises TideflowInternalError: if the attempt is already recorded.
        """
        number = run_number(record.flow, record.run_id, record.step, record.task_id)
        check_state(record.state, ATTEMPT_STATES, "attempt state", final=False)
        what = f"Attempt {record.attempt} of task '{record.pathspec}'"

        def insert(s: Session) -> None:
            require_task(s, record.flow, number, record.step, record.task_id)
            s.insert_new(INSERT_ATTEMPT, attempt_row(record, number), what)

        self._write(insert)

    def finish_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        *,
        state: str,
        finished_at: float | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        exception: ExceptionInfo | None = None,
    ) -> None:
        """Record how an attempt ended (:meth:`record_task_end` without artifacts).

        :raises ValueError: if ``state`` is not a final attempt state.
        :raises NotFound: if the attempt does not exist.
        """
        self.record_task_end(
            flow=flow,
            run_id=run_id,
            step=step,
            task_id=task_id,
            attempt=attempt,
            state=state,
            finished_at=finished_at,
            exit_code=exit_code,
            signal=signal,
            exception=exception,
        )

    def list_attempts(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> list[AttemptRecord]:
        """Return the attempts of a task, first attempt first.

        :raises NotFound: if the task does not exist.
        """
        return self._attempts(flow, run_id, step, task_id, "ORDER BY attempt")

    def latest_attempt(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> AttemptRecord | None:
        """Return the last attempt of a task, or ``None`` if it has not started one.

        :raises NotFound: if the task does not exist.
        """
        found = self._attempts(flow, run_id, step, task_id, "ORDER BY attempt DESC LIMIT 1")
        return found[0] if found else None

    def _attempts(
        self, flow: str, run_id: str, step: str, task_id: str, order: str
    ) -> list[AttemptRecord]:
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts "
            f"WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? {order}"
        )

        def select(s: Session) -> list[tuple[object, ...]]:
            rows = s.all(sql, (flow, number, step, task_id))
            if not rows:
                require_task(s, flow, number, step, task_id)
            return rows

        return [attempt_record(row) for row in self._read(select)]

    def record_task_end(
        self,
        *,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        state: str,
        finished_at: float | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        exception: ExceptionInfo | None = None,
        artifacts: Iterable[ArtifactRecord] = (),
        metadata: Iterable[MetadataRecord] = (),
        pid: int | None = None,
    ) -> None:
        """Finish an attempt and record its artifacts and metadata, in one transaction.

        This is :meth:`finish_attempt`, :meth:`add_artifacts` and :meth:`add_metadata` at
        the cost of one write: readers see all of it or none of it.

        :param state: the final state of the attempt (not ``running``).
        :param finished_at: when it ended (default: now).
        :param exit_code: the exit code of the task process, when it exited.
        :param signal: the signal that killed the task process, if one did.
        :param exception: what the step function raised, if it did.
        :param pid: the task process's id, known once it started (kept if ``None``).
        :raises ValueError: if ``state`` is not a final attempt state.
        :raises NotFound: if the attempt does not exist; nothing is recorded then.
        """
        check_state(state, ATTEMPT_STATES, "attempt state")
        at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id, step, task_id)
        values = (state, at, exit_code, signal, *exception_columns(exception), pid)
        artifact_values, metadata_values = artifact_rows(artifacts), metadata_rows(metadata)

        self._write(
            lambda s: end_attempt(
                s,
                (flow, run_id, step, task_id, attempt),
                number,
                values,
                artifact_values,
                metadata_values,
            )
        )
