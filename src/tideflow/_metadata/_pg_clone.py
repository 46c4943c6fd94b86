"""The PostgreSQL side of task snapshots: a run read in one query per table, and a batch of
cloned tasks written in one transaction (see :mod:`._clone`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg.errors

from ._clone import SNAPSHOT_QUERIES
from ._pg_queries import insert_rows, require_run
from ._rows import ATTEMPT_COLUMNS, TASK_COLUMNS, duplicate

if TYPE_CHECKING:
    from ._clone import CloneRows
    from ._pg_connect import Conn

__all__ = ("insert_clones_pg", "snapshot_rows")

_QUERIES = tuple(sql.replace("?", "%s") for sql in SNAPSHOT_QUERIES)


def snapshot_rows(conn: Conn, flow: str, number: int) -> list[list[tuple[object, ...]]]:
    """The rows :func:`~._clone.snapshots` takes, of the run ``flow``/``number``.

    :raises NotFound: if the run does not exist.
    """
    rows = [conn.execute(sql, (flow, number)).fetchall() for sql in _QUERIES]
    if not rows[0]:
        require_run(conn, flow, number)
    return rows


def insert_clones_pg(conn: Conn, rows: CloneRows) -> None:
    """Write ``rows`` with ``conn``, inside the caller's transaction.

    :raises NotFound: if a run does not exist.
    :raises TideflowInternalError: if a task or an attempt is already recorded.
    """
    for flow, number in rows.runs:
        require_run(conn, flow, number)
    cursor = conn.cursor()
    cursor.executemany(
        "INSERT INTO steps (flow, run_id, step, created_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        rows.steps,
    )
    try:
        cursor.executemany(
            f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})", rows.tasks
        )
        cursor.executemany(
            f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})",
            rows.attempts,
        )
    except psycopg.errors.UniqueViolation as exc:
        raise duplicate("A cloned task or its attempt") from exc
    insert_rows(conn, rows.artifacts, rows.metadata)
