"""Copying a local SQLite history into PostgreSQL: ``tideflow db copy``.

Every row of every table moves, run ids and all, in one PostgreSQL transaction: the target
has all of it or none of it. A run the target already holds, with the same start time and
user, was copied before and is skipped, so copying twice changes nothing; a run id the
target holds for a different run is a conflict, and nothing is copied then. Each flow's
run id counter is moved past the copied ids, so later runs still get larger ids.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Final, NamedTuple

import psycopg

from .._exceptions import StoreError
from ._pg_connect import store_error
from ._rows import ARTIFACT_COLUMNS, ATTEMPT_COLUMNS, METADATA_COLUMNS, TASK_COLUMNS
from ._schema import SCHEMA_VERSION as SQLITE_VERSION

if TYPE_CHECKING:
    from pathlib import Path

    from ._pg_connect import Conn
    from ._postgres import PostgresMetadataStore

__all__ = ("CopyResult", "copy_sqlite_to_postgres")

#: The tables under a run, their columns, and the order that keeps ties in their order.
_CHILD_TABLES: Final = (
    ("run_tags", "flow, run_id, tag, system", "flow, run_id, tag"),
    ("steps", "flow, run_id, step, created_at", "rowid"),
    ("tasks", TASK_COLUMNS, "rowid"),
    ("attempts", ATTEMPT_COLUMNS, "flow, run_id, step, task_id, attempt"),
    ("artifacts", ARTIFACT_COLUMNS, "flow, run_id, step, task_id, attempt, name"),
    ("metadata", METADATA_COLUMNS, "id"),
)
_RUN_COLUMNS: Final = (
    "flow, run_id, {user}, status, created_at, finished_at, origin_run_id, heartbeat_at, pid"
)


class CopyResult(NamedTuple):
    """What a copy did."""

    copied: int
    skipped: int


def copy_sqlite_to_postgres(source: Path, target: PostgresMetadataStore) -> CopyResult:
    """Copy the SQLite database at ``source`` into ``target``.

    :return: how many runs were copied, and how many the target held already.
    :raises StoreError: if ``source`` is not a tideflow database of this version, or a run
        id is taken in the target by another run (nothing is copied then).
    """
    if not source.is_file():
        raise StoreError(f"db copy: there is no SQLite database at {source}")
    lite = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True)
    try:
        (version,) = lite.execute("PRAGMA user_version").fetchone()
        if version != SQLITE_VERSION:
            raise StoreError(
                f"db copy: {source} has schema version {version}; this tideflow copies "
                f"version {SQLITE_VERSION}"
            )
        target.upgrade()
        try:
            result: CopyResult = target.on_connection(lambda conn: _copy(lite, conn, target.url))
        except psycopg.Error as exc:
            raise store_error(exc, target.url) from None
        return result
    finally:
        lite.close()


def _copy(lite: sqlite3.Connection, conn: Conn, where: str) -> CopyResult:
    runs = lite.execute(f"SELECT {_RUN_COLUMNS.format(user='user')} FROM runs").fetchall()
    with conn.transaction():
        conn.execute("LOCK TABLE flows IN EXCLUSIVE MODE")  # no run starts while we copy
        existing = {
            (flow, run_id): (created, user)
            for flow, run_id, created, user in conn.execute(
                'SELECT flow, run_id, created_at, "user" FROM runs WHERE flow = ANY(%s)',
                (sorted({run[0] for run in runs}),),
            )
        }
        for run in runs:
            held = existing.get((run[0], run[1]))
            if held is not None and held != (run[4], run[2]):
                raise StoreError(
                    f"db copy: run '{run[0]}/{run[1]}' exists in {where} and is another run "
                    "(it started at another time or by another user); nothing was copied."
                )
        wanted = {(run[0], run[1]) for run in runs} - existing.keys()
        flows = lite.execute("SELECT flow, created_at FROM flows").fetchall()
        conn.cursor().executemany(
            "INSERT INTO flows (flow, created_at) VALUES (%s, %s) ON CONFLICT (flow) "
            "DO UPDATE SET created_at = least(flows.created_at, excluded.created_at)",
            flows,
        )
        _copy_rows(conn, "runs", _RUN_COLUMNS.format(user='"user"'), runs, wanted)
        for table, columns, order in _CHILD_TABLES:
            rows = lite.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
            _copy_rows(conn, table, columns, rows, wanted)
        conn.execute(
            "UPDATE flows SET last_run_id = greatest(last_run_id, "
            "(SELECT coalesce(max(run_id), 0) FROM runs WHERE runs.flow = flows.flow))"
        )
    return CopyResult(copied=len(wanted), skipped=len(runs) - len(wanted))


def _copy_rows(
    conn: Conn,
    table: str,
    columns: str,
    rows: object,
    wanted: set[tuple[str, int]],
) -> None:
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:  # type: ignore[attr-defined]
            if (row[0], row[1]) in wanted:
                copy.write_row(row)
