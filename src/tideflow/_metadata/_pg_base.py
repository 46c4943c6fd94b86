"""The connection half of the PostgreSQL store: opening, the schema, the dialect, and run
leases.

:class:`PostgresBase` holds the pool, creates or migrates the tables on the first write
(a read of a database without them answers as an empty store does, and creates nothing),
and keeps the leases of the runs this process supervises (see :mod:`~._pg_lease`).
:class:`~._postgres.PostgresMetadataStore` adds the table families on top.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final, TypeVar

import psycopg
import psycopg.errors

from . import _pg_schema
from ._pg_connect import PgDatabase, connect, parse_url, store_error
from ._pg_lease import LEASE_HELD_SQL, Leases, lease_key
from ._pg_schema import ensure_schema, schema_version
from ._rows import ARTIFACT_COLUMNS, run_not_found, run_number
from ._sql import Dialect, EmptySession, Session, StoreFamily, text_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._pg_connect import Conn

__all__ = ("POSTGRES", "PostgresBase")

T = TypeVar("T")

#: PostgreSQL's SQL where it differs from SQLite's.
POSTGRES: Final = Dialect(
    placeholder="%s",
    run_columns="""r.flow, r.run_id, r."user", r.status, r.created_at, r.finished_at,
    r.origin_run_id, r.heartbeat_at, r.pid,
    (SELECT coalesce(json_agg(json_build_array(t.tag, t.system)), '[]')::text
     FROM run_tags AS t WHERE t.flow = r.flow AND t.run_id = r.run_id)""",
    greatest="greatest",
    seq="seq",
    # Rows a transaction reads and then changes are locked: concurrent edits queue up.
    for_update=" FOR UPDATE",
    lock_runs=" FOR UPDATE OF r",
    insert_ignore=("INSERT", " ON CONFLICT DO NOTHING"),
    artifact_upsert=(
        f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}) VALUES ({', '.join(['?'] * 9)}) "
        "ON CONFLICT (flow, run_id, step, task_id, attempt, name) DO UPDATE SET "
        "sha = excluded.sha, size = excluded.size, created_at = excluded.created_at"
    ),
    has_parent="parent_pathspecs::jsonb @> jsonb_build_array(?::text)",
    successful_source="runs AS r",
    lease_columns=f"r.lease_key IS NOT NULL, {LEASE_HELD_SQL}",
    stale_lease=f" OR (r.lease_key IS NOT NULL AND NOT {LEASE_HELD_SQL})",
    duplicate_error=psycopg.errors.UniqueViolation,
    lateral=True,
)


class PostgresBase(StoreFamily):
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

    def _read(self, work: Callable[[Session], T]) -> T:
        if not self._ready and not self._has_tables():
            return work(EmptySession(None, POSTGRES))
        try:
            return self._db.read(lambda conn: work(Session(conn, POSTGRES)))
        except UnicodeEncodeError as exc:
            raise text_error(exc, writing=False) from None

    def _write(self, work: Callable[[Session], T]) -> T:
        self._prepare()
        try:
            return self._db.write(lambda conn: work(Session(conn, POSTGRES)))
        except UnicodeEncodeError as exc:
            raise text_error(exc, writing=True) from None

    def _statement(self, work: Callable[[Session], T]) -> T:
        """Run ``work``, a write of one statement, outside a transaction (the statement
        commits on its own); one that times out changed nothing and is tried again once."""
        self._prepare()
        try:
            return self._db.statement(lambda conn: work(Session(conn, POSTGRES)))
        except UnicodeEncodeError as exc:
            raise text_error(exc, writing=True) from None

    def _has_tables(self) -> bool:
        """Whether the database holds tideflow's tables (an older layout is migrated
        now, and a newer one refused, as on the first write)."""
        version = self._on_own_connection(lambda conn: schema_version(conn, self._schema))
        if version is None:
            return False
        if version == _pg_schema.SCHEMA_VERSION:  # read when asked: a test may change it
            self._ready = True
        else:
            self._prepare()
        return True

    def _can_mark(self) -> bool:
        return self._ready or self._has_tables()

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

        def record(s: Session) -> None:
            sql = "UPDATE runs SET lease_key = ? WHERE flow = ? AND run_id = ?"
            if s.run(sql, (key, flow, number)) == 0:
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
            "WHERE r.flow = ? AND r.run_id = ?"
        )
        row = self._read(lambda s: s.one(sql, (flow, number)))
        if row is None:
            raise run_not_found(flow, run_id)
        status, leased, held = row
        if status != "running":
            return False
        return bool(held) if leased else None
