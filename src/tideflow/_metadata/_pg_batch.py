"""A batch of writes applied to the PostgreSQL database in one transaction.

:meth:`PostgresBase.write_batch <tideflow._metadata._pg_base.PostgresBase.write_batch>`
runs :func:`apply_writes` on one pooled connection, in one transaction: each write checks
what the store method of the same name checks, and the first one that fails rolls the
whole batch back. Runs and tasks already checked in the batch are not looked up again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import NotFound
from ._pg_queries import insert_new, insert_rows, insert_step, require_run, require_task
from ._rows import (
    ATTEMPT_COLUMNS,
    TASK_COLUMNS,
    artifact_rows,
    attempt_row,
    exception_columns,
    metadata_rows,
    run_number,
    task_row,
)
from ._writes import AddArtifacts, AddMetadata, AddTask, EndAttempt, StartAttempt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._pg_connect import Conn
    from ._writes import Write

__all__ = ("apply_writes",)

_TASK_INSERT = f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})"
_ATTEMPT_INSERT = f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"
_ATTEMPT_END = (
    "UPDATE attempts SET state = %s, finished_at = %s, exit_code = %s, signal = %s, "
    "exc_type = %s, exc_message = %s, exc_traceback = %s, pid = coalesce(%s, pid) "
    "WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s AND attempt = %s"
)


def apply_writes(conn: Conn, writes: Sequence[Write]) -> None:
    """Apply ``writes`` in order on ``conn``, inside the caller's transaction.

    :raises NotFound: if a write names a run, task or attempt that does not exist.
    :raises TideflowInternalError: if a task or attempt is recorded twice.
    """
    runs: set[tuple[str, int]] = set()
    tasks: set[tuple[str, int, str, str]] = set()
    for write in writes:
        match write:
            case AddTask(record=record):
                number = run_number(record.flow, record.run_id)
                if (record.flow, number) not in runs:
                    require_run(conn, record.flow, number)
                    runs.add((record.flow, number))
                insert_step(conn, record.flow, number, record.step, record.created_at)
                what = f"Task '{record.pathspec}'"
                insert_new(conn, _TASK_INSERT, task_row(record, number), what)
                tasks.add((record.flow, number, record.step, record.task_id))
            case StartAttempt(record=record):
                number = run_number(record.flow, record.run_id, record.step, record.task_id)
                key = (record.flow, number, record.step, record.task_id)
                if key not in tasks:
                    require_task(conn, *key)
                    tasks.add(key)
                what = f"Attempt {record.attempt} of task '{record.pathspec}'"
                insert_new(conn, _ATTEMPT_INSERT, attempt_row(record, number), what)
            case EndAttempt():
                _end_attempt(conn, write)
            case AddArtifacts(records=records):
                insert_rows(conn, artifact_rows(records), [])
            case AddMetadata(records=records):
                insert_rows(conn, [], metadata_rows(records))


def _end_attempt(conn: Conn, end: EndAttempt) -> None:
    number = run_number(end.flow, end.run_id, end.step, end.task_id)
    values = (
        end.state,
        end.finished_at,
        end.exit_code,
        end.signal,
        *exception_columns(end.exception),
        end.pid,
    )
    where = (end.flow, number, end.step, end.task_id, end.attempt)
    if conn.execute(_ATTEMPT_END, (*values, *where)).rowcount == 0:
        raise NotFound(
            f"Attempt {end.attempt} of task "
            f"'{end.flow}/{end.run_id}/{end.step}/{end.task_id}' does not exist"
        )
    insert_rows(conn, artifact_rows(end.artifacts), metadata_rows(end.metadata))
