"""A batch of writes applied to the SQLite database in one transaction.

:meth:`SQLiteMetadataStore.write_batch <tideflow._metadata._sqlite.SQLiteMetadataStore.write_batch>`
runs :func:`apply_writes` inside its ``BEGIN IMMEDIATE`` block: each write checks what
the store method of the same name checks, and the first one that fails rolls the whole
batch back. Runs and tasks already checked in the batch are not looked up again.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from .._exceptions import NotFound
from ._rows import (
    ATTEMPT_COLUMNS,
    TASK_COLUMNS,
    attempt_row,
    duplicate,
    exception_columns,
    insert_artifacts,
    insert_metadata,
    require_run,
    require_task,
    run_number,
    task_row,
)
from ._writes import AddArtifacts, AddMetadata, AddTask, EndAttempt, StartAttempt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._writes import Write

__all__ = ("apply_writes",)

_TASK_INSERT = f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join('?' * 9)})"
_ATTEMPT_INSERT = f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_ATTEMPT_END = (
    "UPDATE attempts SET state = ?, finished_at = ?, exit_code = ?, signal = ?, "
    "exc_type = ?, exc_message = ?, exc_traceback = ?, pid = coalesce(?, pid) "
    "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? AND attempt = ?"
)


def apply_writes(conn: sqlite3.Connection, writes: Sequence[Write]) -> None:
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
                conn.execute(
                    "INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?)",
                    (record.flow, number, record.step, record.created_at),
                )
                try:
                    conn.execute(_TASK_INSERT, task_row(record, number))
                except sqlite3.IntegrityError as exc:
                    raise duplicate(f"Task '{record.pathspec}'") from exc
                tasks.add((record.flow, number, record.step, record.task_id))
            case StartAttempt(record=record):
                number = run_number(record.flow, record.run_id, record.step, record.task_id)
                key = (record.flow, number, record.step, record.task_id)
                if key not in tasks:
                    require_task(conn, *key)
                    tasks.add(key)
                try:
                    conn.execute(_ATTEMPT_INSERT, attempt_row(record, number))
                except sqlite3.IntegrityError as exc:
                    what = f"Attempt {record.attempt} of task '{record.pathspec}'"
                    raise duplicate(what) from exc
            case EndAttempt():
                _end_attempt(conn, write)
            case AddArtifacts(records=records):
                insert_artifacts(conn, records)
            case AddMetadata(records=records):
                insert_metadata(conn, records)


def _end_attempt(conn: sqlite3.Connection, end: EndAttempt) -> None:
    number = run_number(end.flow, end.run_id, end.step, end.task_id)
    values = (
        end.state,
        end.finished_at,
        end.exit_code,
        end.signal,
        *exception_columns(end.exception),
        end.pid,
    )
    cursor = conn.execute(
        _ATTEMPT_END, (*values, end.flow, number, end.step, end.task_id, end.attempt)
    )
    if cursor.rowcount == 0:
        raise NotFound(
            f"Attempt {end.attempt} of task "
            f"'{end.flow}/{end.run_id}/{end.step}/{end.task_id}' does not exist"
        )
    insert_artifacts(conn, end.artifacts)
    insert_metadata(conn, end.metadata)
