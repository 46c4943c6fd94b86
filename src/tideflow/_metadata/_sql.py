"""What the SQLite and PostgreSQL stores share below the tables: the SQL dialect, a unit of
work on one connection, and the lookups every table family uses.

The table families (:mod:`~._runs`, :mod:`~._run_tags`, :mod:`~._tasks`,
:mod:`~._artifacts`, :mod:`~._events`, :mod:`~._lookups`) write their SQL once, with ``?``
placeholders, and run it through a :class:`Session`; a :class:`Dialect` says what differs
between the two databases (placeholders, a few functions, locking, upserts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Self, TypeVar

from .._exceptions import NotFound
from ._rows import duplicate, run_not_found, run_record

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from ._records import RunRecord

__all__ = (
    "Dialect",
    "EmptySession",
    "Session",
    "StoreFamily",
    "fetch_run",
    "qualified",
    "require_run",
    "require_step",
    "require_task",
    "text_error",
)

T = TypeVar("T")


class Dialect(NamedTuple):
    """What differs between the SQL of two databases."""

    #: ``?`` or ``%s``: how a statement marks its parameters.
    placeholder: str
    #: The columns of a run (alias ``r``) as :func:`~._rows.run_record` reads them: its
    #: tags as a JSON array of ``[tag, system]`` pairs.
    run_columns: str
    #: The larger of two values: ``max`` or ``greatest``.
    greatest: str
    #: A column that orders rows of ``steps`` and ``tasks`` as they were inserted.
    seq: str
    #: Appended to a ``SELECT`` of one row that the transaction will change.
    for_update: str
    #: Appended to the ``SELECT`` of ``mark_stale_runs`` (alias ``r``).
    lock_runs: str
    #: ``INSERT ... `` prefix and suffix of an insert that skips a row already there.
    insert_ignore: tuple[str, str]
    #: The statement that inserts an artifact, replacing one of the same name and attempt.
    artifact_upsert: str
    #: A condition on ``tasks``: its parents hold the pathspec ``?``.
    has_parent: str
    #: The ``FROM`` of the latest successful run with tags (alias ``r``).
    successful_source: str
    #: Two columns of a run (alias ``r``): whether it took a lease, and whether that is held.
    lease_columns: str
    #: A condition (starting ``OR``) that a running run ``r`` is stale without its heartbeat.
    stale_lease: str
    #: What the driver raises on a duplicate primary key.
    duplicate_error: type[Exception]
    #: Whether the database has ``LEFT JOIN LATERAL``: a step's newest task and that
    #: task's latest attempt are then looked up once per row (PostgreSQL runs the
    #: correlated subqueries of the other form's join conditions more than once).
    lateral: bool

    def text(self, sql: str) -> str:
        """``sql`` with the placeholders of this database."""
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)


class Session:
    """One connection in one unit of work (a transaction, for a write), speaking a dialect."""

    __slots__ = ("_conn", "sql")

    def __init__(self, conn: Any, sql: Dialect) -> None:
        self._conn = conn
        self.sql = sql

    def one(self, sql: str, params: Sequence[object] = ()) -> Any:
        """Run ``sql`` and return its first row, or ``None``."""
        return self._conn.execute(self.sql.text(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """Run ``sql`` and return its rows."""
        return list(self._conn.execute(self.sql.text(sql), params).fetchall())

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement that changes rows; return how many it changed."""
        return int(self._conn.execute(self.sql.text(sql), params).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run a statement once per row of parameters."""
        if rows:
            self._conn.cursor().executemany(self.sql.text(sql), rows)

    def insert_new(self, sql: str, row: Sequence[object], what: str) -> None:
        """Insert a row that must be new.

        :raises TideflowInternalError: if it is already recorded (ids are tideflow's).
        """
        try:
            self.run(sql, row)
        except self.sql.duplicate_error as exc:
            raise duplicate(what) from exc


class EmptySession(Session):
    """The session a read of a database without tideflow's tables gets: no rows at all
    (``conn`` is not used)."""

    __slots__ = ()

    def one(self, sql: str, params: Sequence[object] = ()) -> Any:
        return None

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return []

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        raise AssertionError("a store without tables is never written this way")


class StoreFamily:
    """The base of a table family: how it reaches the database.

    A backend gives :meth:`_read` (a unit of work outside a transaction, which creates
    nothing), :meth:`_write` (one transaction) and :meth:`close`; every family's methods
    run their SQL through those. A store is a context manager that closes it.
    """

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the store's connections."""
        raise NotImplementedError

    def _read(self, work: Callable[[Session], T]) -> T:
        raise NotImplementedError

    def _write(self, work: Callable[[Session], T]) -> T:
        raise NotImplementedError


def qualified(alias: str, columns: str) -> str:
    """``columns`` (``"a, b"``) as columns of the table ``alias`` (``"t.a, t.b"``)."""
    return ", ".join(f"{alias}.{name.strip()}" for name in columns.split(","))


def fetch_run(s: Session, flow: str, number: int) -> RunRecord:
    """Return a run.

    :raises NotFound: if the run does not exist.
    """
    row = s.one(
        f"SELECT {s.sql.run_columns} FROM runs AS r WHERE r.flow = ? AND r.run_id = ?",
        (flow, number),
    )
    if row is None:
        raise run_not_found(flow, str(number))
    return run_record(row)


def require_run(s: Session, flow: str, number: int) -> None:
    """:raises NotFound: if the run does not exist."""
    if s.one("SELECT 1 FROM runs WHERE flow = ? AND run_id = ?", (flow, number)) is None:
        raise run_not_found(flow, str(number))


def require_step(s: Session, flow: str, number: int, step: str) -> None:
    """:raises NotFound: if the step does not exist."""
    sql = "SELECT 1 FROM steps WHERE flow = ? AND run_id = ? AND step = ?"
    if s.one(sql, (flow, number, step)) is None:
        raise NotFound(f"Step '{flow}/{number}/{step}' does not exist")


def require_task(s: Session, flow: str, number: int, step: str, task_id: str) -> None:
    """:raises NotFound: if the task does not exist."""
    sql = "SELECT 1 FROM tasks WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"
    if s.one(sql, (flow, number, step, task_id)) is None:
        raise NotFound(f"Task '{flow}/{number}/{step}/{task_id}' does not exist")


def text_error(exc: UnicodeEncodeError, *, writing: bool) -> ValueError | NotFound:
    """What a name the database cannot store (a lone surrogate, which an undecodable byte
    of a command line becomes) is reported as: :exc:`ValueError` for a write,
    :exc:`~tideflow.exception.NotFound` for a read (nothing of that name is stored).
    """
    name = exc.object if isinstance(exc.object, str) else repr(exc.object)
    message = f"{name!r} is not valid text (it holds a lone surrogate)"
    if writing:
        return ValueError(f"{message}: names must be valid Unicode text.")
    return NotFound(f"Nothing named {name!r} is stored: {message}.")
