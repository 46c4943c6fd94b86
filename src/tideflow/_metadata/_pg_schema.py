"""The PostgreSQL schema of the metadata store: its tables, its version, its migrations.

Every table lives in one PostgreSQL schema (``tideflow`` unless the URL names another with
``?schema=``). The table ``schema_version`` holds one row: the version of the layout. A
database without that table is new, and :func:`ensure_schema` creates every table in one
transaction; an older version is migrated, step by step, in one transaction; a newer one is
refused, because this tideflow cannot know what changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._exceptions import StoreError
from .._states import AttemptState, RunState

if TYPE_CHECKING:
    import psycopg

__all__ = ("AUTOMATIC", "MIGRATIONS", "SCHEMA_VERSION", "ensure_schema", "schema_version")

SCHEMA_VERSION: Final = 1

# Run ids are decimal strings in the API and bigints here, so that "newest first" is the
# order of the primary key. Every index serves a query of _postgres.py, as in SQLite:
#   runs PRIMARY KEY (flow, run_id)        list runs newest first, latest run
#   runs_by_status (flow, status, run_id)  latest successful run
#   runs_running (flow, heartbeat_at), partial  runs whose supervisor stopped its lease
#   run_tags_by_tag (flow, tag, run_id)    list runs that carry some tags
#   attempts_running (flow, run_id), partial  attempts of a run still running
# flows.last_run_id is the counter that makes run ids unique: create_run locks the flow's
# row, so two machines starting a run at once are served one after the other.
_TABLES: Final = f"""
CREATE TABLE flows (
    flow text PRIMARY KEY,
    created_at double precision NOT NULL,
    last_run_id bigint NOT NULL DEFAULT 0
);
CREATE TABLE runs (
    flow text NOT NULL,
    run_id bigint NOT NULL,
    "user" text NOT NULL,
    status text NOT NULL,
    created_at double precision NOT NULL,
    finished_at double precision,
    origin_run_id text,
    heartbeat_at double precision,
    pid integer,
    lease_key bigint,
    PRIMARY KEY (flow, run_id)
);
CREATE INDEX runs_by_status ON runs (flow, status, run_id);
CREATE INDEX runs_running ON runs (flow, heartbeat_at) WHERE status = '{RunState.RUNNING}';
CREATE TABLE run_tags (
    flow text NOT NULL,
    run_id bigint NOT NULL,
    tag text NOT NULL,
    system smallint NOT NULL,
    PRIMARY KEY (flow, run_id, tag)
);
CREATE INDEX run_tags_by_tag ON run_tags (flow, tag, run_id);
CREATE TABLE steps (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    flow text NOT NULL,
    run_id bigint NOT NULL,
    step text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (flow, run_id, step)
);
CREATE TABLE tasks (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    flow text NOT NULL,
    run_id bigint NOT NULL,
    step text NOT NULL,
    task_id text NOT NULL,
    created_at double precision NOT NULL,
    foreach_index integer,
    foreach_stack bytea NOT NULL,
    parent_pathspecs text NOT NULL,
    origin_pathspec text,
    PRIMARY KEY (flow, run_id, step, task_id)
);
CREATE TABLE attempts (
    flow text NOT NULL,
    run_id bigint NOT NULL,
    step text NOT NULL,
    task_id text NOT NULL,
    attempt integer NOT NULL,
    state text NOT NULL,
    started_at double precision NOT NULL,
    finished_at double precision,
    exit_code integer,
    signal integer,
    pid integer,
    exc_type text,
    exc_message text,
    exc_traceback text,
    PRIMARY KEY (flow, run_id, step, task_id, attempt)
);
CREATE INDEX attempts_running ON attempts (flow, run_id) WHERE state = '{AttemptState.RUNNING}';
CREATE TABLE artifacts (
    flow text NOT NULL,
    run_id bigint NOT NULL,
    step text NOT NULL,
    task_id text NOT NULL,
    attempt integer NOT NULL,
    name text NOT NULL,
    sha text NOT NULL,
    size bigint NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (flow, run_id, step, task_id, attempt, name)
);
CREATE TABLE metadata (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow text NOT NULL,
    run_id bigint NOT NULL,
    step text NOT NULL,
    task_id text NOT NULL,
    attempt integer NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    type text NOT NULL,
    created_at double precision NOT NULL,
    tags text NOT NULL
);
CREATE INDEX metadata_by_task ON metadata (flow, run_id, step, task_id, attempt);
"""

#: The statements that take a database from version ``n`` to ``n + 1``, by ``n``.
MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {}
#: The migrations (by ``n``) that only add things older tideflows ignore: these run on first
#: use; the others wait for ``tideflow db upgrade``.
AUTOMATIC: Final[frozenset[int]] = frozenset()

# Serializes schema changes between processes that open a new database at once.
_SCHEMA_LOCK: Final = 0x7469_6465_666C_6F77  # "tideflow"


def schema_version(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> int | None:
    """Return the schema version of the database, or ``None`` if it has no tideflow tables."""
    # A scan of pg_tables sees tables other sessions committed a moment ago; to_regclass()
    # may answer from a cache that does not know them yet.
    found = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s "
        "AND tablename = 'schema_version'",
        (schema,),
    ).fetchone()
    if found is None:
        return None
    version = conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchone()
    return None if version is None else int(str(version[0]))


def ensure_schema(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, where: str, *, upgrade: bool
) -> int:
    """Create the tables of a new database, or migrate an older one.

    :param conn: a connection in autocommit mode.
    :param where: the store's URL, for messages.
    :param upgrade: migrate an older database even when a migration is not one of the
        :data:`AUTOMATIC` ones (``tideflow db upgrade``).
    :return: the version the database had before (0 for a new one).
    :raises StoreError: if the database is newer than this tideflow, or older and
        ``upgrade`` is false.
    """
    version = schema_version(conn, schema)
    if version == SCHEMA_VERSION:
        return version
    _refuse_newer(version, where)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        version = schema_version(conn, schema)  # another process may have done it meanwhile
        _refuse_newer(version, where)
        if version is None:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET LOCAL search_path TO "{schema}"')
            for statement in _TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
            return 0
        automatic = all(step in AUTOMATIC for step in range(version, SCHEMA_VERSION))
        if not (upgrade or automatic):
            raise StoreError(
                f"The metadata database {where} has schema version {version}; this tideflow "
                f"uses version {SCHEMA_VERSION}. Run: tideflow db upgrade --url '{where}'"
            )
        conn.execute(f'SET LOCAL search_path TO "{schema}"')
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
        return version


def _refuse_newer(version: int | None, where: str) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"The metadata database {where} has schema version {version}, but this tideflow "
            f"reads version {SCHEMA_VERSION}: upgrade tideflow (pip install -U tideflow)."
        )
