"""The PostgreSQL store's SQL: column lists, and the units of work longer than a line.

:class:`~._postgres.PostgresMetadataStore` runs these on a pooled connection; they live
here so that the store's module stays short.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import psycopg.errors

from .._exceptions import NotFound
from ._pg_lease import LEASE_HELD_SQL
from ._rows import ARTIFACT_COLUMNS, METADATA_COLUMNS, duplicate, run_not_found, run_record
from ._tags import edit_user_tags

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ._pg_connect import Conn
    from ._records import RunRecord

__all__ = (
    "RUN_COLUMNS",
    "edit_tags",
    "fetch_run",
    "finish_run",
    "insert_new",
    "insert_rows",
    "insert_run",
    "insert_step",
    "mark_gone",
    "mark_stale",
    "one",
    "require_run",
    "require_step",
    "require_task",
    "running_runs",
    "select_or_require",
)

#: The columns of a run, as :func:`~._rows.run_record` reads them.
RUN_COLUMNS: Final = """r.flow, r.run_id, r."user", r.status, r.created_at, r.finished_at,
    r.origin_run_id, r.heartbeat_at, r.pid,
    (SELECT coalesce(json_agg(json_build_array(t.tag, t.system)), '[]')::text
     FROM run_tags AS t WHERE t.flow = r.flow AND t.run_id = r.run_id)"""
_ARTIFACT_INSERT: Final = (
    f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}) VALUES ({', '.join(['%s'] * 9)}) "
    "ON CONFLICT (flow, run_id, step, task_id, attempt, name) DO UPDATE SET "
    "sha = excluded.sha, size = excluded.size, created_at = excluded.created_at"
)
_METADATA_INSERT: Final = (
    f"INSERT INTO metadata ({METADATA_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})"
)


def one(conn: Conn, sql: str, params: Iterable[object] = ()) -> Any:
    """Run ``sql`` and return its first row, or ``None``."""
    return conn.execute(sql, tuple(params)).fetchone()


def require_run(conn: Conn, flow: str, number: int) -> None:
    """:raises NotFound: if the run does not exist."""
    if one(conn, "SELECT 1 FROM runs WHERE flow = %s AND run_id = %s", (flow, number)) is None:
        raise run_not_found(flow, str(number))


def require_task(conn: Conn, flow: str, number: int, step: str, task_id: str) -> None:
    """:raises NotFound: if the task does not exist."""
    sql = "SELECT 1 FROM tasks WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"
    if one(conn, sql, (flow, number, step, task_id)) is None:
        raise NotFound(f"Task '{flow}/{number}/{step}/{task_id}' does not exist")


def require_step(conn: Conn, flow: str, number: int, step: str) -> None:
    """:raises NotFound: if the step does not exist."""
    sql = "SELECT 1 FROM steps WHERE flow = %s AND run_id = %s AND step = %s"
    if one(conn, sql, (flow, number, step)) is None:
        raise NotFound(f"Step '{flow}/{number}/{step}' does not exist")


def select_or_require(
    conn: Conn, sql: str, params: tuple[object, ...], require: Callable[[], None]
) -> list[tuple[Any, ...]]:
    """Return the rows of ``sql``; when there are none, call ``require`` (which raises
    :exc:`NotFound` if the parent object does not exist either)."""
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        require()
    return rows


def insert_new(conn: Conn, sql: str, row: tuple[object, ...], what: str) -> None:
    """Insert a row that must be new.

    :raises TideflowInternalError: if it is already recorded (ids are tideflow's).
    """
    try:
        conn.execute(sql, row)
    except psycopg.errors.UniqueViolation as exc:
        raise duplicate(what) from exc


def fetch_run(conn: Conn, flow: str, number: int) -> RunRecord:
    """Return a run.

    :raises NotFound: if the run does not exist.
    """
    sql = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = %s AND r.run_id = %s"
    row = one(conn, sql, (flow, number))
    if row is None:
        raise run_not_found(flow, str(number))
    return run_record(row)


def insert_step(conn: Conn, flow: str, number: int, step: str, created_at: float) -> None:
    conn.execute(
        "INSERT INTO steps (flow, run_id, step, created_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (flow, number, step, created_at),
    )


def insert_rows(
    conn: Conn, artifacts: list[tuple[object, ...]], metadata: list[tuple[object, ...]]
) -> None:
    cursor = conn.cursor()
    if artifacts:
        cursor.executemany(_ARTIFACT_INSERT, artifacts)
    if metadata:
        cursor.executemany(_METADATA_INSERT, metadata)


def insert_run(
    conn: Conn,
    flow: str,
    user: str,
    now: float,
    origin_run_id: str | None,
    pid: int,
    system: tuple[str, ...],
    user_only: tuple[str, ...],
) -> int:
    """Insert a new run, its id taken from the flow's counter row (locked until commit).

    The id is the time in microseconds, or one more than the flow's last id if that is
    not larger.
    """
    candidate = round(now * 1_000_000)
    conn.execute(
        "INSERT INTO flows (flow, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (flow, now),
    )
    (last,) = one(
        conn,
        "UPDATE flows SET last_run_id = greatest(last_run_id + 1, %s) "
        "WHERE flow = %s RETURNING last_run_id",
        (candidate, flow),
    )
    conn.execute(
        'INSERT INTO runs (flow, run_id, "user", status, created_at, origin_run_id, '
        "heartbeat_at, pid) VALUES (%s, %s, %s, 'running', %s, %s, %s, %s)",
        (flow, last, user, now, origin_run_id, now, pid),
    )
    conn.cursor().executemany(
        "INSERT INTO run_tags VALUES (%s, %s, %s, %s)",
        [(flow, last, tag, 1) for tag in system] + [(flow, last, tag, 0) for tag in user_only],
    )
    return int(last)


def mark_stale(conn: Conn, sql: str, params: tuple[object, ...]) -> list[RunRecord]:
    """Mark crashed the runs ``sql`` selects (flow, run_id, heartbeat_at), and their
    running attempts; return the runs as they are now."""
    stale = conn.execute(sql + " FOR UPDATE OF r", params).fetchall()
    updates = [(beat, name, number) for name, number, beat in stale]
    cursor = conn.cursor()
    cursor.executemany(
        "UPDATE runs SET status = 'crashed', finished_at = %s WHERE flow = %s AND run_id = %s",
        updates,
    )
    cursor.executemany(
        "UPDATE attempts SET state = 'crashed', finished_at = greatest(started_at, %s) "
        "WHERE flow = %s AND run_id = %s AND state = 'running'",
        updates,
    )
    return [fetch_run(conn, name, number) for name, number, _ in stale]


def edit_tags(
    conn: Conn,
    flow: str,
    run_id: str,
    number: int,
    removed: tuple[str, ...],
    added: tuple[str, ...],
) -> RunRecord:
    """Remove then add user tags of a run, its row locked; return the run."""
    # Lock the run's row: two concurrent edits are applied one after the other.
    if (
        one(
            conn,
            "SELECT 1 FROM runs WHERE flow = %s AND run_id = %s FOR UPDATE",
            (flow, number),
        )
        is None
    ):
        raise run_not_found(flow, run_id)
    rows = conn.execute(
        "SELECT tag, system FROM run_tags WHERE flow = %s AND run_id = %s", (flow, number)
    ).fetchall()
    system = frozenset(tag for tag, is_system in rows if is_system)
    user = frozenset(tag for tag, is_system in rows if not is_system)
    result = edit_user_tags(f"Run '{flow}/{run_id}'", system, user, remove=removed, add=added)
    cursor = conn.cursor()
    cursor.executemany(
        "DELETE FROM run_tags WHERE flow = %s AND run_id = %s AND tag = %s AND system = 0",
        [(flow, number, tag) for tag in user - result],
    )
    cursor.executemany(
        "INSERT INTO run_tags VALUES (%s, %s, %s, 0)",
        [(flow, number, tag) for tag in sorted(result - user)],
    )
    return fetch_run(conn, flow, number)


def finish_run(conn: Conn, flow: str, number: int, status: str, finished_at: float) -> bool:
    """Record a running run's final status and end its running attempts; ``False`` (and
    nothing changed) if the run had ended already.

    :raises NotFound: if the run does not exist.
    """
    sql = "SELECT status FROM runs WHERE flow = %s AND run_id = %s FOR UPDATE"
    row = one(conn, sql, (flow, number))
    if row is None:
        raise run_not_found(flow, str(number))
    if row[0] != "running":
        return False
    conn.execute(
        "UPDATE runs SET status = %s, finished_at = %s WHERE flow = %s AND run_id = %s",
        (status, finished_at, flow, number),
    )
    conn.execute(
        "UPDATE attempts SET state = %s, finished_at = greatest(started_at, %s) "
        "WHERE flow = %s AND run_id = %s AND state = 'running'",
        ("crashed" if status == "crashed" else "cancelled", finished_at, flow, number),
    )
    return True


def mark_gone(conn: Conn, runs: list[RunRecord]) -> list[RunRecord]:
    """Mark crashed those of ``runs`` still running, finished at their last heartbeat, and
    their running attempts; return the runs marked, as they are now."""
    marked = []
    for run in runs:
        number = int(run.run_id)
        beat = run.heartbeat_at if run.heartbeat_at is not None else time.time()
        cursor = conn.execute(
            "UPDATE runs SET status = 'crashed', finished_at = %s "
            "WHERE flow = %s AND run_id = %s AND status = 'running'",
            (beat, run.flow, number),
        )
        if cursor.rowcount:
            conn.execute(
                "UPDATE attempts SET state = 'crashed', finished_at = greatest(started_at, %s) "
                "WHERE flow = %s AND run_id = %s AND state = 'running'",
                (beat, run.flow, number),
            )
            marked.append(fetch_run(conn, run.flow, number))
    return marked


def running_runs(conn: Conn, flow: str | None) -> list[tuple[RunRecord, bool | None]]:
    """The running runs (of ``flow``, or of every flow), each with whether a session holds
    its lease (``None``: it never took one)."""
    sql = (
        f"SELECT {RUN_COLUMNS}, r.lease_key IS NOT NULL, {LEASE_HELD_SQL} "
        "FROM runs AS r WHERE r.status = 'running'"
    )
    params: tuple[object, ...] = ()
    if flow is not None:
        sql += " AND r.flow = %s"
        params = (flow,)
    rows = conn.execute(sql, params).fetchall()
    return [(run_record(row[:10]), bool(row[11]) if row[10] else None) for row in rows]
