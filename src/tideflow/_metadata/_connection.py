"""One SQLite connection shared by the threads of a process, opened on first use."""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Final, TypeVar, final

from .._exceptions import StoreError, TideflowError
from ._schema import READ_ONLY_FIX, empty_connection, open_connection
from ._sql import text_error

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ("Database",)

T = TypeVar("T")


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


@final
class Database:
    """A lazily opened connection to ``path`` and the lock that serializes its use.

    :meth:`read` and :meth:`write` run a unit of work on the connection, holding the lock;
    a write is one ``BEGIN IMMEDIATE`` transaction, committed when the work returns and
    rolled back when it raises. Reading a database that does not exist reads an empty one
    and creates nothing; the first write creates it. SQLite's errors leave as
    :exc:`~tideflow.exception.StoreError` naming the file.

    A process forked from the owner opens a connection (and a lock) of its own. It never
    uses or closes the inherited ones: SQLite's connections must not cross a fork, and
    closing one in the child could end the parent's hold on the write-ahead log. They
    are kept as long as the store, never closed. A fork waits until no thread is inside
    a unit of work of any store (see :func:`_hold_every_store`), so the child never
    inherits SQLite's own locks held by a thread it does not have.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._empty: sqlite3.Connection | None = None
        self._read_only = False
        self._state = _State.UNOPENED
        self._pid = os.getpid()
        #: Connections inherited through fork: kept while the store lives, never closed.
        self._inherited: list[sqlite3.Connection] = []
        _OPEN.add(self)

    def __repr__(self) -> str:
        return f"<Database {str(self.path)!r} {self._state.value}>"

    def __del__(self) -> None:
        if getattr(self, "_pid", None) != os.getpid():
            return  # the connections are the parent's (see the class docstring)
        conn = getattr(self, "_conn", None)
        if getattr(self, "_empty", None) is not None:
            self._empty.close()  # type: ignore[union-attr]
        if conn is not None:
            conn.close()
            warnings.warn(
                f"unclosed metadata store {str(self.path)!r}: call close() or use it as a "
                "context manager",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def close(self) -> None:
        """Close the connection; later use raises :exc:`RuntimeError`. Idempotent."""
        self._check_process()
        with self._lock:
            for conn in (self._conn, self._empty):
                if conn is not None:
                    conn.close()
            self._conn = self._empty = None
            self._state = _State.CLOSED

    def writable(self) -> bool:
        """Whether the database exists and can be written (opens it to find out)."""
        if not self.path.exists():
            return False
        return self.read(lambda conn: not self._read_only)

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection, holding the lock, for statements that only read."""
        self._check_process()
        with self._lock:
            try:
                return work(self._connection(create=False))
            except sqlite3.IntegrityError:
                raise  # a broken invariant: the store reports it itself
            except sqlite3.DatabaseError as exc:
                raise self._store_error(exc) from exc
            except UnicodeEncodeError as exc:
                raise text_error(exc, writing=False) from None

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection, holding the lock, in one ``BEGIN IMMEDIATE``
        transaction."""
        self._check_process()
        with self._lock:
            try:
                conn = self._connection(create=True)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.IntegrityError:
                raise  # a broken invariant: the store reports it itself
            except sqlite3.DatabaseError as exc:
                raise self._store_error(exc) from exc
            except UnicodeEncodeError as exc:
                raise text_error(exc, writing=True) from None

    def _store_error(self, exc: sqlite3.DatabaseError) -> TideflowError:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        where = f"The metadata database {self.path}"
        if code == sqlite3.SQLITE_READONLY:
            return StoreError(
                f"{where} is read-only: runs cannot be recorded there; {READ_ONLY_FIX}."
            )
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return StoreError(
                f"{where} is damaged ({exc}). Restore it from a backup, or move it away to "
                "start a new store."
            )
        if code == sqlite3.SQLITE_FULL:
            return StoreError(f"{where} cannot grow: the disk is full. Free some space.")
        if code == sqlite3.SQLITE_BUSY:
            return StoreError(
                f"{where} stayed locked by another process for 30 seconds ({exc}). Try again "
                "when that process is done."
            )
        return StoreError(f"{where} cannot be used: {exc}.")

    def _connection(self, *, create: bool) -> sqlite3.Connection:
        if self._state is _State.CLOSED:
            raise RuntimeError(
                f"The metadata store {str(self.path)!r} is closed. Create a new "
                "MetadataStore to use the database again."
            )
        if self._conn is None:
            if not create and not self.path.exists():
                if self._empty is None:
                    self._empty = empty_connection()
                return self._empty
            self._conn, self._read_only = open_connection(self.path)
            self._state = _State.OPENED
            if self._empty is not None:
                self._empty.close()
                self._empty = None
        return self._conn

    def _check_process(self) -> None:
        # A connection (and a lock) inherited through fork() belong to the parent process.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock = threading.RLock()
            self._inherited += [c for c in (self._conn, self._empty) if c is not None]
            self._conn = self._empty = None
            if self._state is _State.OPENED:
                self._state = _State.UNOPENED


#: Every store of this process, for the fork handlers below.
_OPEN: Final[weakref.WeakSet[Database]] = weakref.WeakSet()


def _hold_every_store() -> None:
    """Before a fork: take the lock of every store (waiting for the units of work under
    way), so that no other thread is inside SQLite, holding its process-wide mutexes,
    at the instant of the fork. The lock is reentrant, so a fork from inside a unit of
    work does not wait for itself."""
    for database in list(_OPEN):
        database._lock.acquire()


def _release_every_store() -> None:
    """After a fork, in the parent and in the child: let go of the locks taken before."""
    for database in list(_OPEN):
        with contextlib.suppress(RuntimeError):  # a store made while forking
            database._lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_hold_every_store,
        after_in_parent=_release_every_store,
        after_in_child=_release_every_store,
    )
