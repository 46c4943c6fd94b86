"""What only the SQLite backend does: its file, its schema, its run id values, its query
plans. What every metadata backend does is tested in tests/stores.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from forking import run_forked
from tideflow._exceptions import StoreError, TideflowError
from tideflow._metadata import RunRecord, SQLiteMetadataStore, TaskRecord

if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.synchronize import Barrier

T0 = 1_700_000_000.0
SYSTEM = ("user:alice", "runtime:dev")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMetadataStore]:
    with SQLiteMetadataStore(tmp_path) as store:
        yield store


def new_run(store: SQLiteMetadataStore, flow: str = "F", **kwargs: object) -> RunRecord:
    kwargs.setdefault("system_tags", SYSTEM)
    return store.create_run(flow, user="alice", **kwargs)  # type: ignore[arg-type]


# -- opening and closing ---------------------------------------------------------------------


def test_database_is_created_on_the_first_write(tmp_path: Path) -> None:
    root = tmp_path / "a" / ".tideflow"
    with SQLiteMetadataStore(root) as store:
        assert store.list_flows() == []
        assert store.mark_stale_runs(older_than=0) == []
        assert not root.exists()
        new_run(store)
        assert store.path == root / "metadata.db"
        assert store.path.is_file()
        assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []
        conn = sqlite3.connect(store.path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        finally:
            conn.close()


def test_a_store_created_by_another_process_is_seen(tmp_path: Path) -> None:
    with SQLiteMetadataStore(tmp_path) as reader, SQLiteMetadataStore(tmp_path) as writer:
        assert reader.list_flows() == []
        new_run(writer)
        assert reader.list_flows() == ["F"]


def test_closed_store_cannot_be_used(tmp_path: Path) -> None:
    store = SQLiteMetadataStore(tmp_path)
    store.list_flows()
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match=r"^The metadata store '.*metadata\.db' is closed\. "):
        store.list_flows()


def _use_without_closing(root: Path) -> None:
    new_run(SQLiteMetadataStore(root))


def test_unclosed_store_warns(tmp_path: Path) -> None:
    with pytest.warns(ResourceWarning, match=r"^unclosed metadata store '.*metadata\.db'"):
        _use_without_closing(tmp_path)
    gc.collect()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "metadata.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with (
        SQLiteMetadataStore(tmp_path) as store,
        pytest.raises(
            TideflowError,
            match=r"^The metadata database .* has schema version 99, but this version",
        ),
    ):
        store.list_flows()


# -- runs ------------------------------------------------------------------------------------


def test_a_run_id_is_the_time_in_microseconds(store: SQLiteMetadataStore) -> None:
    run = store.create_run(
        "HelloFlow",
        user="alice",
        system_tags=SYSTEM,
        user_tags=["b", "a", "b"],
        origin_run_id="7",
        now=T0,
    )
    assert run == RunRecord(
        flow="HelloFlow",
        run_id=str(int(T0 * 1_000_000)),
        user="alice",
        status="running",
        created_at=T0,
        origin_run_id="7",
        system_tags=("runtime:dev", "user:alice"),
        user_tags=("a", "b"),
        heartbeat_at=T0,
        pid=run.pid,
    )
    assert store.get_run("HelloFlow", run.run_id) == run


def test_run_ids_count_on_from_the_largest_when_the_clock_does_not_move(
    store: SQLiteMetadataStore,
) -> None:
    first = new_run(store, now=T0)
    second = new_run(store, now=T0)
    earlier = new_run(store, now=T0 - 100)
    assert [int(r.run_id) for r in (first, second, earlier)] == [
        int(T0 * 1e6),
        int(T0 * 1e6) + 1,
        int(T0 * 1e6) + 2,
    ]
    other_flow = new_run(store, "G", now=T0 - 100)
    assert other_flow.run_id == str(int((T0 - 100) * 1e6))


def _create_runs(root: str, barrier: Barrier, queue: multiprocessing.Queue[list[str]]) -> None:
    with SQLiteMetadataStore(Path(root)) as store:
        barrier.wait()  # every process opens the new database at once, too
        queue.put([new_run(store, "Race", now=T0).run_id for _ in range(20)])


def test_run_ids_from_processes_at_the_same_instant_are_consecutive(tmp_path: Path) -> None:
    """8 processes start 20 runs each, all at the same instant: ids base to base + 159."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [
        ctx.Process(target=_create_runs, args=(str(tmp_path), barrier, queue)) for _ in range(8)
    ]
    for proc in procs:
        proc.start()
    ids = [run_id for _ in procs for run_id in queue.get(timeout=100)]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert len(set(ids)) == 160
    base = int(T0 * 1_000_000)
    assert sorted(int(i) for i in ids) == list(range(base, base + 160))
    with SQLiteMetadataStore(tmp_path) as store:
        assert len(store.list_runs("Race")) == 160


# -- query plans -----------------------------------------------------------------------------


def _plans(store: SQLiteMetadataStore, call: object) -> list[str]:
    """Run ``call`` and return the query plan of every SELECT it executes."""
    statements: list[str] = []
    conn = store._db._conn
    assert conn is not None
    conn.set_trace_callback(statements.append)
    try:
        call()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    return [
        " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT")
    ]


def test_run_queries_use_indexes(tmp_path: Path) -> None:
    """Listing runs, the latest run and the latest successful one are indexed lookups."""
    with SQLiteMetadataStore(tmp_path) as store:
        for i in range(10_000):
            run = new_run(store, now=T0 + i, user_tags=["even"] if i % 2 == 0 else ())
            if i in (10, 20):
                store.finish_run("F", run.run_id, "succeeded")
            if i % 7 == 0:
                store.finish_run("F", run.run_id, "failed")

        latest_ok = store.latest_run("F", successful=True)
        assert latest_ok is not None
        assert latest_ok.created_at == T0 + 20

        [plan] = _plans(store, lambda: store.latest_run("F", successful=True))
        assert "USING COVERING INDEX runs_by_status (flow=? AND status=?)" in plan
        assert "SEARCH r USING PRIMARY KEY (flow=? AND run_id=?)" in plan
        assert "TEMP B-TREE" not in plan
        [plan] = _plans(store, lambda: store.latest_run("F"))
        assert "SEARCH r USING PRIMARY KEY (flow=?)" in plan
        assert "TEMP B-TREE" not in plan
        [plan] = _plans(store, lambda: store.list_runs("F", limit=10))
        assert "SEARCH r USING PRIMARY KEY (flow=?)" in plan
        assert "TEMP B-TREE" not in plan
        [plan] = _plans(store, lambda: store.list_runs("F", tags=["even", "user:alice"]))
        assert plan.count("USING COVERING INDEX run_tags_by_tag (flow=? AND tag=?)") == 2
        assert "SEARCH r USING PRIMARY KEY (flow=? AND run_id=?)" in plan
        assert "SCAN" not in plan
        [plan] = _plans(store, lambda: store.mark_stale_runs("F", older_than=1e12, now=T0))
        assert "SEARCH r USING INDEX runs_running (flow=? AND heartbeat_at<?)" in plan
        [plan] = _plans(store, lambda: store.mark_stale_runs(older_than=1e12, now=T0))
        assert plan == "SCAN r USING INDEX runs_running"  # only the running runs


def test_run_data_reads_walk_primary_keys(tmp_path: Path) -> None:
    """The run and its end task (``Run(pathspec).data``, and the same for the runs of a
    listing) are found along keys, one row each, whatever the number of runs and tasks:
    no scan, no temporary table."""
    with SQLiteMetadataStore(tmp_path) as store:
        for i in range(50):
            run = new_run(store, now=T0 + i)
            for step in ("start", "end"):
                store.add_task(
                    TaskRecord(
                        flow="F", run_id=run.run_id, step=step, task_id="1", created_at=T0 + i
                    )
                )
        ids = [r.run_id for r in store.list_runs("F", limit=20)]
        for call in (
            lambda: store.get_run_view("F", run.run_id, "end"),
            lambda: store.newest_task("F", run.run_id, "end"),
            lambda: store.get_run_views("F", ids, "end"),
        ):
            [plan] = _plans(store, call)
            assert "SCAN" not in plan
            assert "MATERIALIZE" not in plan
            assert "USING INDEX sqlite_autoindex_steps_1 (flow=? AND run_id=? AND step=?)" in plan
            assert "SEARCH a USING PRIMARY KEY" in plan
            assert "SEARCH f USING PRIMARY KEY" in plan


# -- fork ------------------------------------------------------------------------------------


def _use_in_child(store: SQLiteMetadataStore, run_id: str, use: bool) -> None:
    ok = True
    if use:
        store.heartbeat("F", run_id)
        ok = store.get_run("F", run_id).status == "running"
    store.close()
    os._exit(0 if ok else 1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_opens_its_own_connection(store: SQLiteMetadataStore) -> None:
    """A child forked while the parent's connection is open, and even while another
    thread of the parent holds the store's lock, uses a connection and a lock of its own,
    closes only those, and leaves the parent's connection working."""
    run = new_run(store)
    held, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=store._read, args=(lambda s: (held.set(), done.wait(30)),))
    holder.start()
    codes: list[int | None] = []
    calls = [(_use_in_child, (store, run.run_id, use)) for use in (True, False)]
    # The fork waits for the holder's unit of work to end: fork from another thread,
    # and let the holder go once that thread is (most likely) waiting in the fork.
    forker = threading.Thread(target=lambda: codes.extend(run_forked(calls)))
    try:
        assert held.wait(30)
        forker.start()
        time.sleep(0.2)
    finally:
        done.set()
        holder.join()
        if forker.ident is not None:
            forker.join()
    assert codes == [0, 0]
    assert store.get_run("F", run.run_id).status == "running"
    store.finish_run("F", run.run_id, "succeeded")
    assert store.get_run("F", run.run_id).status == "succeeded"


# -- damaged and read-only databases ---------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _stamp_newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: path.write_bytes(b""), r"is empty \(0 bytes\), so it holds no runs"),
        (lambda path: path.write_bytes(b"x" * 5000), r"is damaged \(file is not a database\)"),
        (_truncate, r"is damaged \(database disk image is malformed\)"),
        (_stamp_newer, r"has schema version 7, but .* it was written by a newer tideflow"),
    ],
    ids=["empty", "garbage", "truncated", "newer"],
)
def test_a_damaged_database_is_an_error_naming_the_file(
    tmp_path: Path, damage: object, message: str
) -> None:
    with SQLiteMetadataStore(tmp_path) as store:
        for i in range(30):
            new_run(store, user_tags=[f"tag {i} " * 40])
    damage(tmp_path / "metadata.db")  # type: ignore[operator]
    pattern = rf"^The metadata database {tmp_path}/metadata\.db {message}"
    with SQLiteMetadataStore(tmp_path) as store:
        with pytest.raises(StoreError, match=pattern):
            store.list_runs("F")
        with pytest.raises(StoreError, match=pattern):
            new_run(store)


def test_a_zero_byte_database_is_not_a_new_store(tmp_path: Path) -> None:
    (tmp_path / "metadata.db").write_bytes(b"")
    with SQLiteMetadataStore(tmp_path) as store:
        assert store.exists()
        with pytest.raises(StoreError, match=r"is empty \(0 bytes\)"):
            new_run(store)
    assert (tmp_path / "metadata.db").stat().st_size == 0


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "metadata.db")
    conn.execute("CREATE TABLE things (x)")
    conn.close()
    with (
        SQLiteMetadataStore(tmp_path) as store,
        pytest.raises(StoreError, match=r"^The metadata database .* is not a tideflow database"),
    ):
        new_run(store)


def test_creating_a_store_in_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with SQLiteMetadataStore(tmp_path / "file" / ".tideflow") as store:
        assert store.list_flows() == []
        with pytest.raises(
            StoreError,
            match=r"^Cannot create the store folder .*/file/\.tideflow: Not a directory\. To "
            r"record runs, choose another store root with TIDEFLOW_ROOT or --root",
        ):
            new_run(store)
