"""Run leases the server guarantees: a session advisory lock per live run.

The supervisor of a run holds the run's lock on a connection of its own for as long as the
run lives. PostgreSQL releases a session's locks the moment the session ends, so when the
supervisor dies (``kill -9``, a lost machine once TCP gives up) every other process sees at
once that the run has no owner any more, without waiting for its heartbeat to grow old.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import TYPE_CHECKING, Final, final

import psycopg

from ._pg_connect import connect, store_error

if TYPE_CHECKING:
    from ._pg_connect import Conn, PgSettings

__all__ = ("LEASE_HELD_SQL", "Leases", "lease_key")

#: SQL that is true when the advisory lock ``r.lease_key`` is held by some session of this
#: database (a bigint key shows in pg_locks as its high and low 32 bits).
LEASE_HELD_SQL: Final = """EXISTS (SELECT 1 FROM pg_catalog.pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
    AND l.classid::bigint = ((r.lease_key >> 32) & 4294967295)
    AND l.objid::bigint = (r.lease_key & 4294967295))"""


def lease_key(schema: str, flow: str, run_id: str) -> int:
    """The advisory lock key of a run: 64 bits of a hash of where it is."""
    digest = hashlib.blake2b(f"{schema}\0{flow}\0{run_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@final
class Leases:
    """The lease connection of one store and the advisory locks it holds."""

    def __init__(self, settings: PgSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._held: set[int] = set()
        self._pid = os.getpid()
        self._inherited: list[object] = []

    def hold(self, key: int) -> bool:
        """Take the lock ``key``; return whether it was free (or already ours)."""
        with self._guard():
            if key in self._held:
                return True
            conn = self._connection()
            row = self._execute(conn, "SELECT pg_try_advisory_lock(%s)", key)
            if row:
                self._held.add(key)
            return row

    def release(self, key: int) -> None:
        """Give the lock ``key`` back (nothing happens if this store does not hold it)."""
        with self._guard():
            if key not in self._held or self._conn is None:
                return
            self._held.discard(key)
            self._execute(self._conn, "SELECT pg_advisory_unlock(%s)", key)

    def renew(self) -> None:
        """Check the lease connection; if it was lost, reconnect and take the locks again."""
        with self._guard():
            if not self._held or self._conn is None:
                return
            try:
                self._conn.execute("SELECT 1")
            except psycopg.OperationalError:
                self._conn = None
                conn = self._connection()
                for key in sorted(self._held):
                    self._execute(conn, "SELECT pg_try_advisory_lock(%s)", key)

    def close(self) -> None:
        """Close the lease connection: the server releases every lock it held."""
        with self._guard():
            conn, self._conn = self._conn, None
            self._held.clear()
        if conn is not None and self._pid == os.getpid():
            # Let go of the locks first: the server ends a closed session a moment later,
            # and another process asking meanwhile would still see them held.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()

    def _guard(self) -> threading.Lock:
        """The lock of this process's lease state: a forked child drops the parent's
        connection (never closing it) and lock (another thread may have held it)."""
        if self._pid != os.getpid():  # a forked child: the locks are the parent's
            self._inherited.append(self._conn)
            self._conn, self._pid = None, os.getpid()
            self._held.clear()
            self._lock = threading.Lock()
        return self._lock

    def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._settings)
        return self._conn

    def _execute(self, conn: Conn, sql: str, key: int) -> bool:
        try:
            row = conn.execute(sql, (key,)).fetchone()
        except psycopg.Error as exc:
            raise store_error(exc, self._settings.safe_url) from None
        return bool(row and row[0])
