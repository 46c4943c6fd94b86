"""The SQLite store's longer read-only queries, each one indexed lookup.

:class:`~._sqlite.SQLiteMetadataStore` calls these with its ``read`` context manager; they
live here so that the store's module stays short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._rows import (
    ATTEMPT_COLUMNS,
    RUN_COLUMNS,
    TASK_COLUMNS,
    attempt_record,
    run_number,
    run_record,
    task_record,
)
from ._tags import check_tags

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable
    from contextlib import AbstractContextManager

    from ._records import AttemptRecord, RunRecord, TaskRecord

    Reader = Callable[[], AbstractContextManager[sqlite3.Connection]]

__all__ = ("child_tasks", "latest_attempts", "latest_tagged_run")


def latest_tagged_run(
    read: Reader, flow: str, tags: Iterable[str] = (), *, successful: bool = False
) -> RunRecord | None:
    """Return the newest run of ``flow`` that carries every tag in ``tags`` (and succeeded,
    if ``successful``), or ``None``.

    The runs are walked newest first along an index (``runs_by_status`` when
    ``successful``, else the primary key), with one ``run_tags`` key lookup per tag for each
    run passed over, and the walk stops at the first match.

    :raises TagError: if a tag is not a valid tag.
    """
    wanted = check_tags(tags)
    # Without INDEXED BY, the planner may walk the primary key and skip every failed run.
    source = "runs AS r INDEXED BY runs_by_status" if successful else "runs AS r"
    sql = f"SELECT {RUN_COLUMNS} FROM {source} WHERE r.flow = ?"
    params: list[object] = [flow]
    if successful:
        sql += " AND r.status = 'succeeded'"
    for tag in wanted:
        sql += (
            " AND EXISTS (SELECT 1 FROM run_tags AS w"
            " WHERE w.flow = r.flow AND w.run_id = r.run_id AND w.tag = ?)"
        )
        params.append(tag)
    sql += " ORDER BY r.run_id DESC LIMIT 1"
    with read() as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else run_record(row)


def child_tasks(read: Reader, flow: str, run_id: str, pathspec: str) -> list[TaskRecord]:
    """Return the tasks of a run that name the task ``pathspec`` as a parent, newest first.

    Reads the tasks of that one run only (the ``tasks`` key starts with flow and run).
    """
    number = run_number(flow, run_id)
    with read() as conn:
        rows = conn.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? "
            "AND EXISTS (SELECT 1 FROM json_each(parent_pathspecs) WHERE value = ?) "
            "ORDER BY created_at DESC, rowid DESC",
            (flow, number, pathspec),
        ).fetchall()
    return [task_record(row) for row in rows]


def latest_attempts(read: Reader, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
    """Return the last attempt of every task of a step that has started one.

    Tasks that have not started an attempt yet are not in the answer.
    """
    number = run_number(flow, run_id, step)
    with read() as conn:
        rows = conn.execute(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts AS a "
            "WHERE a.flow = ? AND a.run_id = ? AND a.step = ? AND a.attempt = "
            "(SELECT max(b.attempt) FROM attempts AS b WHERE b.flow = a.flow "
            "AND b.run_id = a.run_id AND b.step = a.step AND b.task_id = a.task_id)",
            (flow, number, step),
        ).fetchall()
    return [attempt_record(row) for row in rows]
