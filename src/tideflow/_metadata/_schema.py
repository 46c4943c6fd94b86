"""The SQLite schema of the metadata store, and how a connection to it is opened.

The schema version is kept in SQLite's ``user_version`` pragma. Version 0 means a new,
empty database; opening one creates every table.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Final

from .._exceptions import TideflowError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("SCHEMA_VERSION", "open_connection")

SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT: Final = 30.0

# Run ids are decimal strings in the API and integers here, so that "newest first" is the
# order of the primary key. Every index below serves a query in _sqlite.py:
#   runs PRIMARY KEY (flow, run_id)      list runs newest first, latest run, next run id
#   runs_by_status (flow, status, run_id)  latest successful run
#   runs_running (flow, heartbeat_at), partial  runs whose supervisor stopped renewing its lease
#   run_tags_by_tag (flow, tag, run_id)   list runs that carry some tags
#   attempts_running (flow, run_id), partial  attempts of a run that are still running
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS flows (
    flow TEXT PRIMARY KEY,
    created_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    user TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    origin_run_id TEXT,
    heartbeat_at REAL,
    pid INTEGER,
    PRIMARY KEY (flow, run_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (flow, status, run_id);
CREATE INDEX IF NOT EXISTS runs_running ON runs (flow, heartbeat_at) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS run_tags (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    system INTEGER NOT NULL,
    PRIMARY KEY (flow, run_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_tags_by_tag ON run_tags (flow, tag, run_id);

CREATE TABLE IF NOT EXISTS steps (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (flow, run_id, step)
);

CREATE TABLE IF NOT EXISTS tasks (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    foreach_index INTEGER,
    foreach_stack BLOB NOT NULL,
    parent_pathspecs TEXT NOT NULL,
    origin_pathspec TEXT,
    UNIQUE (flow, run_id, step, task_id)
);

CREATE TABLE IF NOT EXISTS attempts (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    pid INTEGER,
    exc_type TEXT,
    exc_message TEXT,
    exc_traceback TEXT,
    PRIMARY KEY (flow, run_id, step, task_id, attempt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attempts_running ON attempts (flow, run_id)
    WHERE state = 'running';

CREATE TABLE IF NOT EXISTS artifacts (
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    sha TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (flow, run_id, step, task_id, attempt, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS metadata (
    id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at REAL NOT NULL,
    tags TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metadata_by_task ON metadata (flow, run_id, step, task_id, attempt);
"""


def open_connection(path: Path) -> sqlite3.Connection:
    """Open the database at ``path``, creating it and its schema when needed.

    The connection is in autocommit mode (the store issues ``BEGIN IMMEDIATE`` itself),
    may be used from any thread (the store serializes its use with a lock), waits up to
    30 seconds for another writer, and uses the write-ahead log so readers never wait for
    writers.

    :raises TideflowError: if the database was written by a newer version of tideflow.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        _ensure_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    # WAL mode is stored in the database file, so this only changes something the first
    # time. Switching needs an exclusive lock, and SQLite reports SQLITE_BUSY at once,
    # without waiting, when another process holds any lock then: that happens when several
    # processes open a new database together. Retry for up to the busy timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise TideflowError(
            f"The metadata database {path} has schema version {version}, but this version "
            f"of tideflow reads version {SCHEMA_VERSION}. Upgrade tideflow to read it."
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
