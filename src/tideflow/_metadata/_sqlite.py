"""The metadata store on an embedded SQLite database: ``<root>/metadata.db``.

:class:`SQLiteMetadataStore` is synchronous and thread-safe: one connection, guarded by a lock,
used by the async scheduler through ``anyio.to_thread.run_sync`` and by the client
directly. Many processes may use one database at once: every write is a short
``BEGIN IMMEDIATE`` transaction, readers never wait for writers (write-ahead log), and
writers wait up to 30 seconds for each other.

The records are written and read by the table families it is made of (see
:mod:`~._sql`); this module gives them the connection and SQLite's dialect.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar, final
from urllib.parse import unquote, urlsplit

from .._exceptions import StoreError
from .._states import RunState
from ._artifacts import ArtifactsFamily
from ._batch import BatchFamily
from ._clone import ClonesFamily
from ._connection import Database
from ._events import EventsFamily
from ._lookups import LookupsFamily
from ._rows import ARTIFACT_COLUMNS
from ._run_tags import TagsFamily
from ._runs import RunsFamily
from ._sql import Dialect, Session
from ._tasks import TasksFamily

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("SQLITE", "SQLiteMetadataStore", "open_sqlite")

T = TypeVar("T")

#: SQLite's SQL where it differs from PostgreSQL's.
SQLITE: Final = Dialect(
    placeholder="?",
    run_columns="""r.flow, r.run_id, r.user, r.status, r.created_at, r.finished_at,
    r.origin_run_id, r.heartbeat_at, r.pid,
    (SELECT json_group_array(json_array(t.tag, t.system)) FROM run_tags AS t
     WHERE t.flow = r.flow AND t.run_id = r.run_id)""",
    greatest="max",
    seq="rowid",
    # A write is one BEGIN IMMEDIATE transaction: no other writer runs meanwhile.
    for_update="",
    lock_runs="",
    insert_ignore=("INSERT OR IGNORE", ""),
    artifact_upsert=(
        f"INSERT OR REPLACE INTO artifacts ({ARTIFACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    has_parent="EXISTS (SELECT 1 FROM json_each(parent_pathspecs) WHERE value = ?)",
    # Without INDEXED BY, the planner may walk the primary key and skip every failed run.
    successful_source="runs AS r INDEXED BY runs_by_status",
    # The supervisor's lock file tells whether a run is alive (see _liveness).
    lease_columns="NULL, NULL",
    stale_lease="",
    duplicate_error=sqlite3.IntegrityError,
    lateral=False,
)


@final
class SQLiteMetadataStore(
    RunsFamily,
    TagsFamily,
    TasksFamily,
    ArtifactsFamily,
    EventsFamily,
    LookupsFamily,
    ClonesFamily,
    BatchFamily,
):
    """Runs, steps, tasks, attempts, tags, artifacts and metadata in ``<root>/metadata.db``.

    The database (and ``root``) is created on the first write; reading a store that does
    not exist finds nothing and creates nothing, and a database that cannot be written is
    read all the same. Close the store with
    :meth:`close`, or use it as a context manager.

    :param root: the store folder (the ``.tideflow`` folder).
    """

    __slots__ = ("_db",)

    def __init__(self, root: Path, *, path: Path | None = None) -> None:
        self._db = Database(Path(path) if path is not None else Path(root) / "metadata.db")

    def __repr__(self) -> str:
        return f"SQLiteMetadataStore({str(self._db.path.parent)!r})"

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    @property
    def url(self) -> str:
        """``sqlite:///<absolute path of the database file>``."""
        return f"sqlite://{self._db.path.absolute().as_posix()}"

    def exists(self) -> bool:
        """Whether the database file exists (reading never creates it)."""
        return self._db.path.is_file()

    def close(self) -> None:
        """Close the database connection.

        Closing twice is allowed; any other use of a closed store raises
        :exc:`RuntimeError`. A store that is never closed emits a :exc:`ResourceWarning`.
        """
        self._db.close()

    def _read(self, work: Callable[[Session], T]) -> T:
        return self._db.read(lambda conn: work(Session(conn, SQLITE)))

    def _write(self, work: Callable[[Session], T]) -> T:
        return self._db.write(lambda conn: work(Session(conn, SQLITE)))

    def _insert_run(
        self, flow: str, candidate: int, row: tuple[object, ...], tags: list[tuple[str, int]]
    ) -> int:
        # One BEGIN IMMEDIATE transaction: no other process takes an id meanwhile.
        def insert(s: Session) -> int:
            s.run("INSERT OR IGNORE INTO flows (flow, created_at) VALUES (?, ?)", (flow, row[1]))
            (top,) = s.one("SELECT max(run_id) FROM runs WHERE flow = ?", (flow,))
            number = candidate if top is None or candidate > top else int(top) + 1
            s.run(
                "INSERT INTO runs (flow, run_id, user, status, created_at, origin_run_id, "
                f"heartbeat_at, pid) VALUES (?, ?, ?, '{RunState.RUNNING}', ?, ?, ?, ?)",
                (flow, number, *row),
            )
            s.many(
                "INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)",
                [(flow, number, tag, system) for tag, system in tags],
            )
            return number

        return self._write(insert)

    def _can_mark(self) -> bool:
        return self._db.writable()

    # -- liveness ----------------------------------------------------------------------------

    def hold_run_lease(self, flow: str, run_id: str) -> bool:
        """SQLite has no server to hold a lease: the supervisor's lock file does that job
        (see :mod:`tideflow._metadata._liveness`). Returns ``False``."""
        return False

    def release_run_lease(self, flow: str, run_id: str) -> None:
        """Nothing to release (see :meth:`hold_run_lease`)."""

    def is_run_alive(self, flow: str, run_id: str) -> bool | None:
        """``None``: the lock file in the store root tells (see :meth:`hold_run_lease`)."""
        return None


def open_sqlite(url: str, *, root: Path) -> SQLiteMetadataStore:
    """Open the database a ``sqlite:`` URL names (``sqlite:///abs/path.db``, or a path
    relative to the working directory after ``sqlite:``).

    :raises StoreError: if the URL names no file.
    """
    path = urlsplit(url)
    name = unquote(path.netloc + path.path)
    if not name:
        raise StoreError(
            f"TIDEFLOW_METADATA_URL {url!r} names no database file: write "
            "sqlite:///absolute/path/metadata.db"
        )
    return SQLiteMetadataStore(root, path=Path(name))
