"""One SQLite connection shared by the threads of a process, opened on first use."""

from __future__ import annotations

import enum
import os
import threading
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, final

from ._schema import open_connection

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ("Database",)


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


@final
class Database:
    """A lazily opened connection to ``path`` and the lock that serializes its use.

    :meth:`read` and :meth:`write` hold the lock for the length of their block; a write
    block is one ``BEGIN IMMEDIATE`` transaction, committed when the block ends and rolled
    back when it raises. A process forked from the owner opens a connection of its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._state = _State.UNOPENED
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"<Database {str(self.path)!r} {self._state.value}>"

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None and self._pid == os.getpid():
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
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._state = _State.CLOSED

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and give the connection, for statements that only read."""
        self._check_process()
        with self._lock:
            yield self._connection()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one ``BEGIN IMMEDIATE`` transaction."""
        self._check_process()
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _connection(self) -> sqlite3.Connection:
        if self._state is _State.CLOSED:
            raise RuntimeError(
                f"The metadata store {str(self.path)!r} is closed. Create a new "
                "MetadataStore to use the database again."
            )
        if self._conn is None:
            self._conn = open_connection(self.path)
            self._state = _State.OPENED
        return self._conn

    def _check_process(self) -> None:
        # A connection (and a lock) inherited through fork() belong to the parent process.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._conn = None
            if self._state is _State.OPENED:
                self._state = _State.UNOPENED
