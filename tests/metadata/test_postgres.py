"""What only the PostgreSQL metadata store does, against a real server on a Unix socket.

The behaviour it shares with SQLite is in the backend conformance suite (tests/stores);
here: the URL, the schema's versions, the errors users meet, run ids from many processes,
leases that die with their process, lost connections, timeouts and fork.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from postgres_server import PostgresServer
from tideflow._exceptions import StoreError
from tideflow._metadata import _pg_schema
from tideflow._metadata._postgres import PostgresMetadataStore, open_postgres
from tideflow._stores._bundle import open_metadata

if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.synchronize import Barrier

SYSTEM = ("user:alice", "runtime:dev")
_SCHEMAS = itertools.count(1)


@pytest.fixture
def url(postgres_url: str) -> str:
    """The module's database, in a schema of this test's own."""
    return f"{postgres_url}&schema=t{next(_SCHEMAS)}"


@pytest.fixture
def store(url: str) -> Iterator[PostgresMetadataStore]:
    with PostgresMetadataStore(url) as store:
        yield store


def _python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- the URL and the schema -------------------------------------------------------------------


def test_url_never_holds_the_password(tmp_path: Path) -> None:
    store = open_postgres(
        "postgresql://alice:s3cret@db.example:5433/team?sslmode=require", root=tmp_path
    )
    with store:
        assert store.url == "postgresql://alice@db.example:5433/team?sslmode=require"
        assert "s3cret" not in repr(store)


def test_bad_schema_name_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"^TIDEFLOW_METADATA_URL: schema 'Bad-Name' is not"):
        open_postgres("postgresql:///db?schema=Bad-Name", root=tmp_path)


def test_tables_are_created_on_first_write(store: PostgresMetadataStore, url: str) -> None:
    assert not store.exists()
    assert store.list_flows() == []
    assert not store.exists()
    store.create_run("F", user="alice", system_tags=SYSTEM)
    assert store.exists()
    schema = url.rpartition("schema=")[2]
    with psycopg.connect(url.rpartition("&")[0]) as conn:
        row = conn.execute(f"SELECT version FROM {schema}.schema_version").fetchone()
    assert row == (_pg_schema.SCHEMA_VERSION,)


def test_schemas_keep_histories_apart(postgres_url: str) -> None:
    with (
        PostgresMetadataStore(f"{postgres_url}&schema=team_a") as a,
        PostgresMetadataStore(f"{postgres_url}&schema=team_b") as b,
    ):
        a.create_run("F", user="alice", system_tags=SYSTEM)
        assert a.list_flows() == ["F"]
        assert b.list_flows() == []


def test_newer_schema_is_refused(store: PostgresMetadataStore, url: str) -> None:
    store.upgrade()
    schema = url.rpartition("schema=")[2]
    with psycopg.connect(url.rpartition("&")[0], autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.schema_version SET version = 99")
    with (
        PostgresMetadataStore(url) as other,
        pytest.raises(StoreError, match=r"has schema version 99, but this tideflow reads"),
    ):
        other.list_flows()


def test_older_schema_waits_for_upgrade_then_migrates(
    store: PostgresMetadataStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    # The next layout, as a later tideflow would define it.
    monkeypatch.setattr(_pg_schema, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(_pg_schema, "MIGRATIONS", {1: ("ALTER TABLE runs ADD COLUMN note text",)})
    with PostgresMetadataStore(url) as newer:
        with pytest.raises(StoreError, match=r"Run: tideflow db upgrade --url"):
            newer.list_flows()
        assert newer.upgrade() == (1, 2)
        assert newer.get_run("F", run.run_id) == run
    schema = url.rpartition("schema=")[2]
    with psycopg.connect(url.rpartition("&")[0]) as conn:
        assert conn.execute(f"SELECT version FROM {schema}.schema_version").fetchone() == (2,)
        conn.execute(f"SELECT note FROM {schema}.runs")


# -- errors users meet ------------------------------------------------------------------------


def test_server_down_is_one_line(tmp_path: Path) -> None:
    store = PostgresMetadataStore(f"postgresql://tideflow@/db?host={tmp_path}")
    with store, pytest.raises(StoreError) as caught:
        store.list_flows()
    message = str(caught.value)
    assert "\n" not in message
    assert "the server cannot be reached" in message
    assert "is PostgreSQL running there?" in message


def test_missing_database_is_one_line(postgres_server: PostgresServer) -> None:
    store = PostgresMetadataStore(postgres_server.url("no_such_db"))
    with store, pytest.raises(StoreError, match=r'database "no_such_db" does not exist: create'):
        store.list_flows()


def test_wrong_password_is_one_line(postgres_server: PostgresServer) -> None:
    postgres_server.sql(
        "DO $$ BEGIN CREATE ROLE alice LOGIN PASSWORD 'right'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    url = postgres_server.url("postgres", user="alice", password="wrong")
    with PostgresMetadataStore(url) as store, pytest.raises(StoreError) as caught:
        store.list_flows()
    message = str(caught.value)
    assert "\n" not in message and "wrong" not in message
    assert message.endswith(
        "the password was refused: check the user and password in the URL (or ~/.pgpass)"
    )


def test_permission_denied_is_one_line(postgres_server: PostgresServer, postgres_url: str) -> None:
    postgres_server.sql(
        "DO $$ BEGIN CREATE ROLE bob LOGIN PASSWORD 'pw'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    database = postgres_url.partition("@/")[2].partition("?")[0]
    url = postgres_server.url(database, user="bob", password="pw") + "&schema=bobs"
    with PostgresMetadataStore(url) as store, pytest.raises(StoreError) as caught:
        store.create_run("F", user="bob", system_tags=SYSTEM)
    message = str(caught.value)
    assert "\n" not in message
    assert "permission denied (permission denied for database" in message
    assert message.endswith("ask the database's owner for access")


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    """Without psycopg installed, a postgresql:// URL names the extra to install."""
    result = _python(
        f"""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("psycopg", "psycopg_pool"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Hide())
        from pathlib import Path
        from tideflow._stores._bundle import open_metadata
        from tideflow._exceptions import StoreError
        try:
            open_metadata("postgresql://u@/db", root=Path({str(tmp_path)!r}))
        except StoreError as exc:
            print(exc)
        """
    )
    assert result.stdout == (
        "TIDEFLOW_METADATA_URL postgresql:// needs the optional extra 'postgres': "
        "pip install 'tideflow[postgres]'\n"
    ), result.stderr


def test_a_lock_held_too_long_times_out(url: str) -> None:
    with PostgresMetadataStore(url) as store:
        store.create_run("F", user="alice", system_tags=SYSTEM)
    schema = url.rpartition("schema=")[2]
    with (
        psycopg.connect(url.rpartition("&")[0]) as blocker,
        PostgresMetadataStore(url + "&statement_timeout=0.5") as store,
    ):
        blocker.execute(f"SELECT * FROM {schema}.flows WHERE flow = 'F' FOR UPDATE")
        with pytest.raises(StoreError, match=r"a statement took too long .*statement_timeout="):
            store.create_run("F", user="alice", system_tags=SYSTEM)


def test_create_run_tries_again_after_a_statement_timeout(url: str) -> None:
    """A run started while another session holds the flow's row past the statement
    timeout: the statement changed nothing, so it runs again, and gets its id then."""
    with PostgresMetadataStore(url) as store:
        first = store.create_run("F", user="alice", system_tags=SYSTEM)
    schema = url.rpartition("schema=")[2]
    plain = url.rpartition("&")[0]
    with (
        psycopg.connect(plain, autocommit=True) as watcher,
        psycopg.connect(plain) as blocker,
        PostgresMetadataStore(url + "&statement_timeout=1") as store,
    ):
        blocker.execute(f"SELECT * FROM {schema}.flows WHERE flow = 'F' FOR UPDATE")

        def release_at_the_second_wait() -> None:
            starts: set[object] = set()
            deadline = time.monotonic() + 60
            while (
                len(starts) < 2 and time.monotonic() < deadline
            ):  # each attempt is a statement of its own start time
                rows = watcher.execute(
                    "SELECT query_start FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchall()
                starts.update(start for (start,) in rows)
                time.sleep(0.02)
            blocker.rollback()

        releaser = threading.Thread(target=release_at_the_second_wait)
        releaser.start()
        try:
            run = store.create_run("F", user="alice", system_tags=SYSTEM)
        finally:
            releaser.join(timeout=60)
        assert int(run.run_id) > int(first.run_id)
        assert store.get_run("F", run.run_id) == run
        assert store.list_runs("F") == [run, store.get_run("F", first.run_id)]


def test_a_lost_connection_is_retried(
    store: PostgresMetadataStore, postgres_server: PostgresServer, url: str
) -> None:
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    database = url.partition("@/")[2].partition("?")[0]
    postgres_server.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    assert store.get_run("F", run.run_id) == run


# -- run ids and leases -----------------------------------------------------------------------


def _create_runs(url: str, barrier: Barrier, count: int) -> list[str]:
    with PostgresMetadataStore(url) as store:
        store.list_flows()
        barrier.wait(timeout=60)
        return [
            store.create_run("Many", user="alice", system_tags=SYSTEM).run_id for _ in range(count)
        ]


def test_run_ids_never_collide_between_processes(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(4)
    with context.Pool(4) as pool:
        results = pool.starmap(_create_runs, [(url, barrier, 50)] * 4)
    ids = [int(run_id) for result in results for run_id in result]
    assert len(set(ids)) == 200
    for result in results:
        assert [int(i) for i in result] == sorted(int(i) for i in result)
    with PostgresMetadataStore(url) as store:
        assert len(store.list_runs("Many")) == 200


_HOLDER = """
import sys, time
from tideflow._metadata._postgres import PostgresMetadataStore
store = PostgresMetadataStore(sys.argv[1])
run = store.create_run("Leased", user="alice", system_tags=["user:alice"])
assert store.hold_run_lease("Leased", run.run_id)
print(run.run_id, flush=True)
time.sleep(600)
"""


def test_a_killed_supervisor_is_seen_at_once(store: PostgresMetadataStore, url: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None
        run_id = holder.stdout.readline().strip()
        assert store.is_run_alive("Leased", run_id) is True
        assert not store.hold_run_lease("Leased", run_id)
        assert store.mark_stale_runs(older_than=3600) == []
        os.kill(holder.pid, signal.SIGKILL)
    for _ in range(100):  # the server notices the closed socket in milliseconds
        if store.is_run_alive("Leased", run_id) is False:
            break
        time.sleep(0.05)
    assert store.is_run_alive("Leased", run_id) is False
    (crashed,) = store.mark_stale_runs(older_than=3600)
    assert (crashed.run_id, crashed.status) == (run_id, "crashed")


def test_lease_lifecycle(store: PostgresMetadataStore, url: str) -> None:
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    assert store.is_run_alive("F", run.run_id) is None  # no lease taken: the heartbeat tells
    assert store.hold_run_lease("F", run.run_id)
    assert store.hold_run_lease("F", run.run_id)  # already ours
    with PostgresMetadataStore(url) as other:
        assert other.is_run_alive("F", run.run_id) is True
        store.release_run_lease("F", run.run_id)
        assert other.is_run_alive("F", run.run_id) is False
        assert other.hold_run_lease("F", run.run_id)
        other.finish_run("F", run.run_id, "succeeded")
    assert store.is_run_alive("F", run.run_id) is False
    assert store.mark_stale_runs(older_than=3600) == []


def test_heartbeat_takes_a_lost_lease_again(
    store: PostgresMetadataStore, postgres_server: PostgresServer, url: str
) -> None:
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    assert store.hold_run_lease("F", run.run_id)
    database = url.partition("@/")[2].partition("?")[0]
    postgres_server.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    with PostgresMetadataStore(url) as other:
        for _ in range(100):
            if other.is_run_alive("F", run.run_id) is False:
                break
            time.sleep(0.05)
        assert other.is_run_alive("F", run.run_id) is False
        store.heartbeat("F", run.run_id)
        assert other.is_run_alive("F", run.run_id) is True


def _use_in_child(store: PostgresMetadataStore, run_id: str) -> None:
    store.heartbeat("F", run_id)
    os._exit(0 if store.get_run("F", run_id).status == "running" else 1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_leaves_the_parents_sessions_alone(store: PostgresMetadataStore) -> None:
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    assert store.hold_run_lease("F", run.run_id)
    child = multiprocessing.get_context("fork").Process(
        target=_use_in_child, args=(store, run.run_id)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert store.is_run_alive("F", run.run_id) is True
    store.heartbeat("F", run.run_id)


def _close_in_child(store: PostgresMetadataStore) -> None:
    store.close()
    os._exit(0)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_child_forked_while_the_locks_are_held_can_close_the_store(
    store: PostgresMetadataStore,
) -> None:
    """Another thread of the parent may hold the pool's or the leases' lock at the moment
    of the fork: the child's own close does not wait for them."""
    run = store.create_run("F", user="alice", system_tags=SYSTEM)
    assert store.hold_run_lease("F", run.run_id)
    with store._db._lock, store._leases._lock:  # as another thread of the parent would
        child = multiprocessing.get_context("fork").Process(target=_close_in_child, args=(store,))
        child.start()
    child.join(timeout=60)
    if child.exitcode is None:
        child.kill()
        child.join()
    assert child.exitcode == 0
    assert store.is_run_alive("F", run.run_id) is True


def test_open_metadata_picks_postgres(url: str, tmp_path: Path) -> None:
    with open_metadata(url, root=tmp_path) as store:  # type: ignore[attr-defined]
        assert isinstance(store, PostgresMetadataStore)


def test_mark_runs_crashed_trusts_the_lease(store: PostgresMetadataStore, url: str) -> None:
    """A run that took a lease is judged by it; any other by ``dead``."""
    leased = store.create_run("F", user="alice", system_tags=SYSTEM)
    plain = store.create_run("F", user="alice", system_tags=SYSTEM)
    with PostgresMetadataStore(url) as supervisor:
        assert supervisor.hold_run_lease("F", leased.run_id)
        assert store.mark_runs_crashed("F", lambda run: run.run_id == leased.run_id) == []
    # The supervisor's session ended: its lease is free, whatever ``dead`` says.
    marked = store.mark_runs_crashed("F", lambda run: run.run_id == plain.run_id)
    assert sorted(run.run_id for run in marked) == sorted([leased.run_id, plain.run_id])
    assert {run.status for run in marked} == {"crashed"}
    assert not store.finish_run("F", leased.run_id, "succeeded")  # crashed stays crashed
    assert store.get_run("F", leased.run_id).status == "crashed"
