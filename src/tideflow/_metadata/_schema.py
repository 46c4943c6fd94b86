"""The SQLite schema of the metadata store, and how a connection to it is opened.

The schema version is kept in SQLite's ``user_version`` pragma. A new database is built
complete (every table, write-ahead log on) in a temporary file and linked into place, so
no process ever sees a half-made one: a database file of zero bytes is always damage.
A database that cannot be written (read-only media, no permission) is opened read-only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Final

from .._exceptions import StoreError
from .._states import AttemptState, RunState

__all__ = ("READ_ONLY_FIX", "SCHEMA_VERSION", "empty_connection", "open_connection")

SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT: Final = 30.0
#: How to record runs when the store cannot be written, for error messages.
READ_ONLY_FIX: Final = (
    "choose another store root with TIDEFLOW_ROOT or --root (or a database with "
    "TIDEFLOW_METADATA_URL or --metadata-url)"
)

# Run ids are decimal strings in the API and integers here, so that "newest first" is the
# order of the primary key. Every index below serves a query in _sqlite.py:
#   runs PRIMARY KEY (flow, run_id)      list runs newest first, latest run, next run id
#   runs_by_status (flow, status, run_id)  latest successful run
#   runs_running (flow, heartbeat_at), partial  runs whose supervisor stopped renewing its lease
#   run_tags_by_tag (flow, tag, run_id)   list runs that carry some tags
#   attempts_running (flow, run_id), partial  attempts of a run that are still running
_SCHEMA: Final = f"""
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
CREATE INDEX IF NOT EXISTS runs_running ON runs (flow, heartbeat_at) WHERE status = '{RunState.RUNNING}';

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
    WHERE state = '{AttemptState.RUNNING}';

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


def open_connection(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Open the database at ``path``, creating it and its schema when it does not exist.

    Returns the connection and whether it is read-only. The connection is in autocommit
    mode (the store issues ``BEGIN IMMEDIATE`` itself), may be used from any thread (the
    store serializes its use with a lock), waits up to 30 seconds for another writer, and
    uses the write-ahead log so readers never wait for writers. A database that cannot be
    written is opened read-only (and as immutable when SQLite cannot even share its
    write-ahead log index there).

    :raises StoreError: if the store cannot be created, the file is empty or is not a
        database, or the database was written by a newer version of tideflow.
    """
    if not path.exists():
        _create(path)
    if path.is_file() and path.stat().st_size == 0:
        raise StoreError(
            f"The metadata database {path} is empty (0 bytes), so it holds no runs: it was "
            "truncated. Restore it from a backup, or delete it to start a new store."
        )
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return _open_read_only(path), True
    try:
        conn = _connect(f"{_uri(path)}?mode=rw")
        try:
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            _ensure_schema(conn, path)
        except BaseException:
            conn.close()
            raise
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF not in _NOT_WRITABLE:
            raise
        return _open_read_only(path), True
    return conn, False


#: SQLite's (primary) answers when a database or its folder cannot be written.
_NOT_WRITABLE: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)


def _uri(path: Path) -> str:
    """The ``file:`` URI of ``path`` for :func:`sqlite3.connect`.

    :meth:`pathlib.Path.as_uri` quotes what SQLite would read as the query (``?``, ``#``);
    ``urllib.request.pathname2url`` does the same but imports the HTTP client, the email
    package and ssl, a good part of the first run's import time.
    """
    return path.absolute().as_uri()


def _connect(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        uri, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False, uri=True
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    return conn


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Open a database that cannot be written: shared read-only access when SQLite can
    use the write-ahead log's index there, else as an immutable file.
    """
    base = _uri(path)
    for query in ("mode=ro", "immutable=1"):
        conn = _connect(f"{base}?{query}")
        try:
            _check_version(conn, path)
        except sqlite3.OperationalError:
            conn.close()
            continue
        except BaseException:
            conn.close()
            raise
        return conn
    raise StoreError(f"The metadata database {path} cannot be opened, even to read it.")


def empty_connection() -> sqlite3.Connection:
    """An in-memory database with the schema and no rows: what reading a store that does
    not exist yet sees (reading never creates one).
    """
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.executescript(_SCHEMA)
    return conn


def _create(path: Path) -> None:
    """Build a new database in a temporary file and link it into place (atomically: when
    another process creates it first, its database is kept).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the store folder {path.parent}: {exc.strerror}. To record runs, "
            f"{READ_ONLY_FIX}."
        ) from None
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.new")
    try:
        try:
            conn = _connect(f"{_uri(temp)}?mode=rwc")
        except sqlite3.OperationalError:
            raise StoreError(
                f"Cannot create the metadata database in {path.parent}: the folder cannot "
                f"be written. To record runs, {READ_ONLY_FIX}."
            ) from None
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            _ensure_schema(conn, temp)
        finally:
            conn.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:
            # No hard links on this file system: create in place, as SQLite does.
            if not path.exists():
                os.replace(temp, path)
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)


def _enable_wal(conn: sqlite3.Connection) -> None:
    # WAL mode is stored in the database file, so this only changes something the first
    # time (databases of older versions were created without it). Switching needs an
    # exclusive lock, and SQLite reports SQLITE_BUSY at once, without waiting, when
    # another process holds any lock then. Retry for up to the busy timeout.
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


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The metadata database {path} has schema version {version}, but this version "
            f"of tideflow reads version {SCHEMA_VERSION}: it was written by a newer "
            "tideflow. Upgrade tideflow to read it."
        )
    if (
        version < SCHEMA_VERSION
        and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    ):
        raise StoreError(
            f"The metadata database {path} is not a tideflow database (it holds other "
            "tables). Choose another store root with TIDEFLOW_ROOT or --root."
        )
    return int(version)


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    if _check_version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _check_version(conn, path) < SCHEMA_VERSION:  # no other process made it meanwhile
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
