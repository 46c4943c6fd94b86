"""Connections to PostgreSQL: the URL, the pool, timeouts, retries and one-line errors.

:class:`PgDatabase` is what the PostgreSQL store talks through. It owns a
``psycopg_pool.ConnectionPool`` of at most :data:`POOL_SIZE` autocommit connections, opened
on first use, and runs every unit of work on one of them: :meth:`~PgDatabase.read` as plain
statements, :meth:`~PgDatabase.write` in one transaction. Every connection is made within
``connect_timeout`` seconds and every statement within ``statement_timeout``; a unit of
work whose connection was lost is run again once on a fresh connection (unless the loss
happened while committing, when the outcome is unknown), and every other failure to talk
to the server is a :exc:`~tideflow.exception.StoreError` of one line.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar, final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from .._exceptions import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("POOL_SIZE", "Conn", "PgDatabase", "PgSettings", "parse_url", "store_error")

Conn = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")

#: The most connections one store opens at once (the lease connection not counted).
POOL_SIZE: Final = 4
CONNECT_TIMEOUT: Final = 10
STATEMENT_TIMEOUT: Final = 30.0
DEFAULT_SCHEMA: Final = "tideflow"
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PgSettings(NamedTuple):
    """What a ``postgresql://`` URL says, split into what libpq and tideflow read."""

    #: The URL for libpq, without tideflow's own parameters.
    conninfo: str
    #: The URL for messages: no password.
    safe_url: str
    schema: str
    statement_timeout: float


def parse_url(url: str) -> PgSettings:
    """Split a ``postgresql://`` URL; ``schema`` and ``statement_timeout`` (seconds) are
    tideflow's own query parameters, every other one goes to libpq.

    :raises StoreError: if a parameter of tideflow's is not valid.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {key: value for key, value in query if key in ("schema", "statement_timeout")}
    rest = [(key, value) for key, value in query if key not in ours]
    if not any(key == "connect_timeout" for key, _ in rest):
        rest.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(
            f"TIDEFLOW_METADATA_URL: schema {schema!r} is not a plain lower-case name: "
            "use letters, digits and underscores, as in ?schema=team_a"
        )
    try:
        timeout = float(ours.get("statement_timeout", STATEMENT_TIMEOUT))
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise StoreError(
            "TIDEFLOW_METADATA_URL: statement_timeout must be a number of seconds > 0, "
            f"got {ours['statement_timeout']!r}"
        )
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    netloc = parts.netloc.rpartition("@")
    login = netloc[0].partition(":")[0]
    safe_netloc = f"{login}@{netloc[2]}" if netloc[1] else netloc[2]
    safe_url = urlunsplit(parts._replace(netloc=safe_netloc))
    return PgSettings(conninfo, safe_url, schema, timeout)


def store_error(exc: psycopg.Error, where: str) -> StoreError:
    """The one line that says why talking to the server at ``where`` failed, and what to do."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lower = text.lower()
    if isinstance(exc, psycopg.errors.InsufficientPrivilege) or "permission denied" in lower:
        why = f"permission denied ({first}): ask the database's owner for access"
    elif "password authentication failed" in lower or "no password supplied" in lower:
        why = "the password was refused: check the user and password in the URL (or ~/.pgpass)"
    elif "does not exist" in lower and "database" in lower:
        why = f"{first}: create it (createdb NAME) or fix the URL"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        why = f"a statement took too long ({first}): raise ?statement_timeout= in the URL"
    elif any(
        sign in lower
        for sign in ("connection refused", "no such file", "timeout expired", "could not")
    ):
        why = f"the server cannot be reached ({first}): is PostgreSQL running there?"
    else:
        why = first
    return StoreError(f"PostgreSQL metadata store {where}: {why}")


def connect(settings: PgSettings, *, schema_path: bool = True) -> Conn:
    """Open one autocommit connection; its statements time out after the setting.

    :raises StoreError: if the server cannot be reached or refuses the connection.
    """
    options = f"-c statement_timeout={int(settings.statement_timeout * 1000)}"
    if schema_path:
        options += f" -c search_path={settings.schema}"
    try:
        return psycopg.connect(settings.conninfo, autocommit=True, options=options)
    except psycopg.Error as exc:
        raise store_error(exc, settings.safe_url) from None


class _Committing(Exception):
    """Raised around a failure while committing: the outcome of the transaction is unknown."""


@final
class PgDatabase:
    """A pool of connections to one database, opened on first use, and safe across fork.

    A process forked from the owner does not touch the inherited connections (closing them
    would end the parent's sessions); it opens a pool of its own.
    """

    def __init__(self, settings: PgSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] | None = None
        self._pid = os.getpid()
        self._closed = False
        #: Objects inherited through fork: kept, never closed, never collected.
        self._inherited: list[object] = []

    def close(self) -> None:
        """Close the pool; later use raises :exc:`RuntimeError`. Idempotent."""
        with self._guard():
            pool, self._pool = self._pool, None
            self._closed = True
        if pool is not None:
            pool.close(timeout=5.0)

    def read(self, work: Callable[[Conn], T]) -> T:
        """Run ``work`` on a pooled connection, outside any transaction."""
        return self._run(work, write=False)

    def write(self, work: Callable[[Conn], T]) -> T:
        """Run ``work`` on a pooled connection in one transaction."""
        return self._run(work, write=True)

    def statement(self, work: Callable[[Conn], T]) -> T:
        """Run ``work``, one statement that writes, on a pooled connection outside a
        transaction. A statement that times out (under load, waiting for a row another
        session locked) has changed nothing, so it is run again, once; a second timeout is
        reported as any other."""
        return self._run(work, write=False, timeouts=1)

    def _run(self, work: Callable[[Conn], T], *, write: bool, timeouts: int = 0) -> T:
        where = self.settings.safe_url
        lost = False
        while True:
            pool = self._connections()
            try:
                with pool.connection(timeout=CONNECT_TIMEOUT * 2) as conn:
                    return _transaction(conn, work) if write else work(conn)
            except PoolTimeout:
                raise StoreError(
                    f"PostgreSQL metadata store {where}: no connection within "
                    f"{CONNECT_TIMEOUT * 2} s: is PostgreSQL running there?"
                ) from None
            except _Committing as exc:
                raise StoreError(
                    f"PostgreSQL metadata store {where}: the connection was lost while "
                    "committing; the change may or may not be recorded."
                ) from exc.__cause__
            except psycopg.errors.QueryCanceled as exc:
                if timeouts <= 0 or not _timed_out(exc):
                    raise store_error(exc, where) from None
                timeouts -= 1
            except psycopg.OperationalError as exc:
                if lost or not _lost(exc):
                    raise store_error(exc, where) from None
                lost = True
                pool.check()  # drop the other idle connections the server ended too

    def _guard(self) -> threading.Lock:
        """The lock of this process's pool: a forked child drops the parent's pool (never
        closing it) and lock (another thread may have held it)."""
        if self._pid != os.getpid():
            self._inherited.append(self._pool)
            self._pool, self._pid = None, os.getpid()
            self._lock = threading.Lock()
        return self._lock

    def _connections(self) -> ConnectionPool[Conn]:
        with self._guard():
            if self._closed:
                raise RuntimeError(
                    f"The metadata store {self.settings.safe_url!r} is closed. Create a new "
                    "MetadataStore to use the database again."
                )
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> ConnectionPool[Conn]:
        settings = self.settings
        options = (
            f"-c statement_timeout={int(settings.statement_timeout * 1000)} "
            f"-c search_path={settings.schema}"
        )
        return ConnectionPool(
            settings.conninfo,
            kwargs={"autocommit": True, "options": options},
            min_size=1,
            max_size=POOL_SIZE,
            timeout=CONNECT_TIMEOUT * 2,
            reconnect_timeout=CONNECT_TIMEOUT * 3,
            max_idle=60.0,
            num_workers=1,
            name=f"tideflow {settings.safe_url}",
            open=True,
        )


def _transaction(conn: Conn, work: Callable[[Conn], T]) -> T:
    tx = conn.transaction()
    tx.__enter__()
    try:
        result = work(conn)
    except BaseException as exc:
        tx.__exit__(type(exc), exc, exc.__traceback__)
        raise
    try:
        tx.__exit__(None, None, None)
    except psycopg.OperationalError as exc:
        raise _Committing from exc
    return result


def _lost(exc: psycopg.OperationalError) -> bool:
    """Whether ``exc`` means the connection broke (another one may work), not a refusal."""
    return not isinstance(exc, psycopg.errors.QueryCanceled) and exc.sqlstate in (
        None,
        "57P01",  # admin_shutdown: the server ended the session
        "08000",
        "08003",
        "08006",
    )


def _timed_out(exc: psycopg.errors.QueryCanceled) -> bool:
    """Whether the server cancelled the statement for running past ``statement_timeout``
    (not, say, at an administrator's request)."""
    return "statement timeout" in str(exc)
