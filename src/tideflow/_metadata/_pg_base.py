"""The connection half of the PostgreSQL store: opening, the schema, and run leases.

:class:`PostgresBase` holds the pool, creates or migrates the tables on first use, and
keeps the leases of the runs this process supervises (see :mod:`~._pg_lease`).
:class:`~._postgres.PostgresMetadataStore` adds the records on top.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Self, TypeVar

import psycopg

from ._pg_batch import apply_writes
from ._pg_connect import PgDatabase, connect, parse_url, store_error
from ._pg_lease import LEASE_HELD_SQL, Leases, lease_key
from ._pg_queries import one
from ._pg_schema import ensure_schema, schema_version
from ._rows import run_not_found, run_number
from ._writes import check_writes

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from ._pg_connect import Conn
    from ._writes import Write

__all__ = ("PostgresBase",)

T = TypeVar("T")


class PostgresBase:
    """A PostgreSQL metadata database: its connections, its tables and run leases.

    :param url: ``postgresql://user[:password]@host[:port]/dbname[?param=value...]``.
    """

    def __init__(self, url: str) -> None:
        self._settings = parse_url(url)
        self._db = PgDatabase(self._settings)
        self._leases = Leases(self._settings)
        self._schema = self._settings.schema
        self._ready = False
        self._preparing = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The store's URL without its password."""
        return self._settings.safe_url

    def exists(self) -> bool:
        """Whether the database holds tideflow's tables (reading never creates them)."""
        return self._on_own_connection(lambda conn: schema_version(conn, self._schema)) is not None

    def upgrade(self) -> tuple[int, int]:
        """Create or migrate the tables now; return the versions before and after.

        :raises StoreError: if the database is newer than this tideflow.
        """

        def upgrade(conn: Conn) -> tuple[int, int]:
            before = ensure_schema(conn, self._schema, self.url, upgrade=True)
            return before, schema_version(conn, self._schema) or 0

        versions = self._on_own_connection(upgrade)
        self._ready = True
        return versions

    def on_connection(self, work: Callable[[Conn], T]) -> T:
        """Run ``work`` on a connection of its own (autocommit, in the store's schema), for
        bulk work such as ``tideflow db copy``.

        :raises StoreError: if talking to the server fails.
        """
        self._prepare()
        with connect(self._settings) as conn:
            try:
                return work(conn)
            except psycopg.Error as exc:
                raise store_error(exc, self.url) from None

    def _on_own_connection(self, work: Callable[[Conn], T]) -> T:
        """Run ``work`` on a connection of its own, outside the schema (which may not exist)."""
        with connect(self._settings, schema_path=False) as conn:
            try:
                return work(conn)
            except psycopg.Error as exc:
                raise store_error(exc, self.url) from None

    def close(self) -> None:
        """Release the connections (and with them every lease this store holds).

        Closing twice is allowed; any other use of a closed store raises
        :exc:`RuntimeError`.
        """
        try:
            self._leases.close()
        finally:
            self._db.close()

    def _read(self, work: Any) -> Any:
        self._prepare()
        return self._db.read(work)

    def _write(self, work: Any) -> Any:
        self._prepare()
        return self._db.write(work)

    def _prepare(self) -> None:
        if self._ready:
            return
        # One thread checks the schema; the others (many runs start at once) wait for it
        # rather than each opening a connection of its own.
        with self._preparing:
            if not self._ready:
                self._on_own_connection(
                    lambda conn: ensure_schema(conn, self._schema, self.url, upgrade=False)
                )
                self._ready = True

    def write_batch(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order, in one transaction (see :mod:`._writes`).

        :raises ValueError: if a write has a state that is not allowed.
        :raises NotFound: if a write names a run, task or attempt that does not exist;
            nothing of the batch is recorded then.
        :raises StoreError: if talking to the server fails.
        """
        if not writes:
            return
        check_writes(writes)
        self._write(lambda conn: apply_writes(conn, writes))

    # -- liveness ---------------------------------------------------------------------------

    def hold_run_lease(self, flow: str, run_id: str) -> bool:
        """Hold the run's lease until :meth:`release_run_lease`, :meth:`finish_run` or
        :meth:`close`, or until this process dies: then the server lets go of it at once.

        Call it in the supervisor right after :meth:`create_run`, and call
        :meth:`heartbeat` as before (it also checks the lease connection, and takes the
        leases again if the connection was lost).

        :return: whether this store holds the lease now (``False``: another one does).
        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        key = lease_key(self._settings.schema, flow, run_id)
        if not self._leases.hold(key):
            return False

        def record(conn: Conn) -> None:
            sql = "UPDATE runs SET lease_key = %s WHERE flow = %s AND run_id = %s"
            if conn.execute(sql, (key, flow, number)).rowcount == 0:
                raise run_not_found(flow, run_id)

        self._write(record)
        return True

    def release_run_lease(self, flow: str, run_id: str) -> None:
        """Let go of a lease this store holds (nothing happens otherwise)."""
        self._leases.release(lease_key(self._settings.schema, flow, run_id))

    def is_run_alive(self, flow: str, run_id: str) -> bool | None:
        """Whether the run is running and its supervisor holds its lease.

        :return: ``True`` or ``False``; ``None`` when the run is running but never took a
            lease (then only its heartbeat tells).
        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        sql = (
            f"SELECT r.status, r.lease_key IS NOT NULL, {LEASE_HELD_SQL} FROM runs AS r "
            "WHERE r.flow = %s AND r.run_id = %s"
        )
        row = self._read(lambda conn: one(conn, sql, (flow, number)))
        if row is None:
            raise run_not_found(flow, run_id)
        status, leased, held = row
        if status != "running":
            return False
        return bool(held) if leased else None
