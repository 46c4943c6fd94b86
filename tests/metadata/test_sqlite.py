from __future__ import annotations

import gc
import multiprocessing
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tideflow._exceptions import NotFound, TagError, TideflowError, TideflowInternalError
from tideflow._metadata import (
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    RunRecord,
    SQLiteMetadataStore,
    StepRecord,
    TaskRecord,
)

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


def new_task(
    store: SQLiteMetadataStore,
    run: RunRecord,
    step: str = "start",
    task_id: str = "1",
    **kw: object,
) -> TaskRecord:
    kw.setdefault("created_at", time.time())
    record = TaskRecord(flow=run.flow, run_id=run.run_id, step=step, task_id=task_id, **kw)  # type: ignore[arg-type]
    store.add_task(record)
    return record


def new_attempt(store: SQLiteMetadataStore, task: TaskRecord, attempt: int = 0) -> AttemptRecord:
    record = AttemptRecord(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=attempt,
        state="running",
        started_at=time.time(),
        pid=1234,
    )
    store.start_attempt(record)
    return record


# -- opening and closing ---------------------------------------------------------------------


def test_database_is_created_on_first_use(tmp_path: Path) -> None:
    root = tmp_path / "a" / ".tideflow"
    with SQLiteMetadataStore(root) as store:
        assert not root.exists()
        assert store.list_flows() == []
        assert store.path == root / "metadata.db"
        assert store.path.is_file()
        conn = sqlite3.connect(store.path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        finally:
            conn.close()


def test_closed_store_cannot_be_used(tmp_path: Path) -> None:
    store = SQLiteMetadataStore(tmp_path)
    store.list_flows()
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match=r"^The metadata store '.*metadata\.db' is closed\. "):
        store.list_flows()


def _use_without_closing(root: Path) -> None:
    SQLiteMetadataStore(root).list_flows()


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


def test_two_stores_share_one_database(tmp_path: Path) -> None:
    with SQLiteMetadataStore(tmp_path) as one, SQLiteMetadataStore(tmp_path) as two:
        run = new_run(one)
        assert two.get_run("F", run.run_id) == run


# -- runs ------------------------------------------------------------------------------------


def test_create_run(store: SQLiteMetadataStore) -> None:
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
    assert run.pid is not None
    assert store.get_run("HelloFlow", run.run_id) == run
    assert store.flow_exists("HelloFlow")
    assert not store.flow_exists("Other")


def test_run_ids_increase_even_when_the_clock_does_not(store: SQLiteMetadataStore) -> None:
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


def test_run_ids_never_collide_between_processes(tmp_path: Path) -> None:
    """8 processes start 20 runs each, all at the same instant: 160 distinct ids."""
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


def test_threads_share_one_store(store: SQLiteMetadataStore) -> None:
    def work() -> list[str]:
        ids = []
        for _ in range(25):
            run = new_run(store, "Threads")
            store.add_tags("Threads", run.run_id, ["t"])
            ids.append(store.get_run("Threads", run.run_id).run_id)
        return ids

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(work) for _ in range(8)]
    ids = [run_id for future in futures for run_id in future.result()]
    assert len(set(ids)) == 200
    assert len(store.list_runs("Threads", tags=["t"])) == 200


@pytest.mark.parametrize("run_id", ["123", "abc", "0123", "-1", "", "١٢"])
def test_missing_run(store: SQLiteMetadataStore, run_id: str) -> None:
    new_run(store)
    with pytest.raises(NotFound, match=rf"^Run 'F/{run_id}' does not exist$"):
        store.get_run("F", run_id)


def test_heartbeat_and_finish(store: SQLiteMetadataStore) -> None:
    run = new_run(store, now=T0)
    store.heartbeat("F", run.run_id, now=T0 + 5)
    store.finish_run("F", run.run_id, "succeeded", finished_at=T0 + 9)
    done = store.get_run("F", run.run_id)
    assert (done.status, done.heartbeat_at, done.finished_at) == ("succeeded", T0 + 5, T0 + 9)
    assert done.created_at == T0
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        store.heartbeat("F", "1")
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        store.finish_run("F", "1", "failed")


@pytest.mark.parametrize("status", ["running", "success", ""])
def test_finish_run_needs_a_final_status(store: SQLiteMetadataStore, status: str) -> None:
    run = new_run(store)
    with pytest.raises(ValueError, match=rf"^'{status}' is not a valid run status; use one of "):
        store.finish_run("F", run.run_id, status)


def test_list_runs_newest_first(store: SQLiteMetadataStore) -> None:
    runs = [new_run(store, now=T0 + i) for i in range(5)]
    new_run(store, "Other")
    assert store.list_runs("F") == runs[::-1]
    assert store.list_runs("F", limit=2) == runs[:2:-1]
    assert store.list_runs("Unknown") == []


def test_list_runs_by_tags(store: SQLiteMetadataStore) -> None:
    a = new_run(store, user_tags=["x", "y"])
    b = new_run(store, user_tags=["x"])
    c = new_run(store, system_tags=["user:bob", "x"])
    assert store.list_runs("F", tags=["x"]) == [c, b, a]
    assert store.list_runs("F", tags=["x", "y"]) == [a]
    assert store.list_runs("F", tags=["x", "x", "user:alice"]) == [b, a]
    assert store.list_runs("F", tags=["user:bob"], limit=5) == [c]
    assert store.list_runs("F", tags=["nope"]) == []
    with pytest.raises(TagError, match=r"^Tags must be a list of strings, not a single str"):
        store.list_runs("F", tags="x")


def test_latest_run(store: SQLiteMetadataStore) -> None:
    assert store.latest_run("F") is None
    assert store.latest_run("F", successful=True) is None
    first, second, third = (new_run(store) for _ in range(3))
    store.finish_run("F", first.run_id, "succeeded")
    store.finish_run("F", second.run_id, "failed")
    assert store.latest_run("F") == third
    latest_ok = store.latest_run("F", successful=True)
    assert latest_ok is not None
    assert latest_ok.run_id == first.run_id


def test_list_flows(store: SQLiteMetadataStore) -> None:
    for flow in ("Zeta", "Alpha", "Zeta", "Mid"):
        new_run(store, flow)
    assert store.list_flows() == ["Alpha", "Mid", "Zeta"]


def test_mark_stale_runs(store: SQLiteMetadataStore) -> None:
    stale = new_run(store, now=T0)
    fresh = new_run(store, now=T0)
    store.heartbeat("F", fresh.run_id, now=T0 + 50)
    done = new_run(store, now=T0)
    store.finish_run("F", done.run_id, "succeeded", finished_at=T0 + 1)
    other = new_run(store, "G", now=T0)
    task = new_task(store, stale)
    first = new_attempt(store, task, 0)
    store.finish_attempt(*_task_key(task), 0, state="failed", finished_at=first.started_at + 1)
    new_attempt(store, task, 1)

    marked = store.mark_stale_runs("F", older_than=30, now=T0 + 60)
    assert [(r.run_id, r.status, r.finished_at) for r in marked] == [(stale.run_id, "crashed", T0)]
    assert store.get_run("F", fresh.run_id).status == "running"
    assert store.get_run("F", done.run_id).status == "succeeded"
    assert store.get_run("G", other.run_id).status == "running"
    attempts = store.list_attempts(*_task_key(task))
    assert [a.state for a in attempts] == ["failed", "crashed"]
    assert attempts[1].finished_at == attempts[1].started_at  # started after the heartbeat

    again = store.mark_stale_runs(older_than=30, now=T0 + 60)
    assert [r.pathspec for r in again] == [other.pathspec]
    assert store.mark_stale_runs(older_than=30, now=T0 + 60) == []


# -- tags ------------------------------------------------------------------------------------


def test_add_and_remove_tags(store: SQLiteMetadataStore) -> None:
    run = new_run(store, now=T0, user_tags=["a"])
    run = store.add_tags("F", run.run_id, ["b", "c", "a"])
    assert run.user_tags == ("a", "b", "c")
    run = store.remove_tags("F", run.run_id, ["a", "missing"])
    assert run.user_tags == ("b", "c")
    assert store.get_run("F", run.run_id) == run
    assert run.created_at == T0


def test_adding_a_system_tag_changes_nothing(store: SQLiteMetadataStore) -> None:
    run = new_run(store, user_tags=["user:alice"])
    assert run.user_tags == ()
    run = store.add_tags("F", run.run_id, ["user:alice"])
    assert (run.system_tags, run.user_tags) == (("runtime:dev", "user:alice"), ())


def test_removing_a_system_tag_is_refused(store: SQLiteMetadataStore) -> None:
    run = new_run(store, user_tags=["a"])
    with pytest.raises(
        TagError,
        match=(
            rf"^Tag 'user:alice' of run 'F/{run.run_id}' is a system tag and cannot be "
            r"removed\. Only user tags can be removed\.$"
        ),
    ):
        store.remove_tags("F", run.run_id, ["a", "user:alice"])
    assert store.get_run("F", run.run_id).user_tags == ("a",)


def test_replace_tags_is_atomic(store: SQLiteMetadataStore) -> None:
    run = new_run(store, user_tags=["old"])
    run = store.replace_tags("F", run.run_id, ["old"], ["new", "old2"])
    assert run.user_tags == ("new", "old2")
    with pytest.raises(TagError, match=r"^Tag 'runtime:dev' of run .* is a system tag"):
        store.replace_tags("F", run.run_id, ["new", "runtime:dev"], ["other"])
    with pytest.raises(TagError, match=r"^A tag cannot be empty\. "):
        store.replace_tags("F", run.run_id, ["new"], ["fine", ""])
    assert store.get_run("F", run.run_id).user_tags == ("new", "old2")


def test_at_most_50_user_tags(store: SQLiteMetadataStore) -> None:
    run = new_run(store, user_tags=[f"t{i}" for i in range(49)])
    store.add_tags("F", run.run_id, ["t49", "user:alice"])
    message = (
        rf"^Run 'F/{run.run_id}' would have 51 user tags, but a run can have at most 50\. "
        r"Remove some tags first\.$"
    )
    with pytest.raises(TagError, match=message):
        store.add_tags("F", run.run_id, ["t50"])
    store.replace_tags("F", run.run_id, ["t0"], ["t50"])
    assert len(store.get_run("F", run.run_id).user_tags) == 50
    with pytest.raises(
        TagError,
        match=r"^A new run of 'F' would have 51 user tags, but a run can have at most 50\.",
    ):
        new_run(store, user_tags=[f"t{i}" for i in range(51)])


def test_tag_length(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    store.add_tags("F", run.run_id, ["x" * 500])
    with pytest.raises(
        TagError,
        match=(
            r"^Tag 'x{20}\.\.\.' is 501 characters long\. Tags are non-empty strings of at "
            r"most 500 characters\.$"
        ),
    ):
        store.add_tags("F", run.run_id, ["x" * 501])


def test_empty_tag(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    with pytest.raises(
        TagError,
        match=r"^A tag cannot be empty\. Tags are non-empty strings of at most 500 characters\.$",
    ):
        store.add_tags("F", run.run_id, [""])
    with pytest.raises(TagError, match=r"^A tag cannot be empty\."):
        new_run(store, system_tags=[""])


def test_tag_that_is_not_a_string(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    with pytest.raises(TagError, match=r"^Tag 3 is not a string \(int\)\. Tags are non-empty"):
        store.add_tags("F", run.run_id, [3])  # type: ignore[list-item]


def test_tags_given_as_one_string(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    with pytest.raises(
        TagError,
        match=r"^Tags must be a list of strings, not a single str: pass \['abc'\] for one tag\.$",
    ):
        store.add_tags("F", run.run_id, "abc")


def test_tags_of_a_missing_run(store: SQLiteMetadataStore) -> None:
    with pytest.raises(NotFound, match=r"^Run 'F/5' does not exist$"):
        store.add_tags("F", "5", ["a"])
    with pytest.raises(NotFound, match=r"^Run 'F/x' does not exist$"):
        store.remove_tags("F", "x", ["a"])


# -- steps, tasks and attempts ---------------------------------------------------------------


def _task_key(task: TaskRecord) -> tuple[str, str, str, str]:
    return task.flow, task.run_id, task.step, task.task_id


def test_steps(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    for i, step in enumerate(["start", "middle", "end"]):
        store.add_step(StepRecord(flow="F", run_id=run.run_id, step=step, created_at=T0 + i))
    store.add_step(StepRecord(flow="F", run_id=run.run_id, step="start", created_at=T0 + 9))
    assert [s.step for s in store.list_steps("F", run.run_id)] == ["end", "middle", "start"]
    assert store.list_steps("F", run.run_id)[-1].created_at == T0
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        store.add_step(StepRecord(flow="F", run_id="1", step="start", created_at=T0))
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        store.list_steps("F", "1")
    assert store.list_steps("F", new_run(store).run_id) == []


def test_tasks(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    first = new_task(
        store,
        run,
        "start",
        "1",
        created_at=T0,
        index=3,
        foreach_stack=b"\x92\x01\x02",
        parent_pathspecs=("F/1/a/1", "F/1/b/2"),
        origin_pathspec="F/0/start/1",
    )
    second = new_task(store, run, "start", "2", created_at=T0 + 1)
    assert store.list_tasks(*_task_key(first)[:3]) == [second, first]
    assert store.get_task(*_task_key(first)) == first
    assert [s.step for s in store.list_steps("F", run.run_id)] == ["start"]
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/3' does not exist$"):
        store.get_task("F", run.run_id, "start", "3")
    with pytest.raises(NotFound, match=rf"^Step 'F/{run.run_id}/end' does not exist$"):
        store.list_tasks("F", run.run_id, "end")
    with pytest.raises(NotFound, match=r"^Step 'F/nope/end' does not exist$"):
        store.list_tasks("F", "nope", "end")
    with pytest.raises(NotFound, match=r"^Run 'F/2' does not exist$"):
        new_task(store, RunRecord(flow="F", run_id="2", user="u", status="running", created_at=0))
    with pytest.raises(
        TideflowInternalError,
        match=rf"^Task 'F/{run.run_id}/start/1' is already recorded\. .*please report it\.$",
    ):
        store.add_task(first)


def test_attempts(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    task = new_task(store, run)
    key = _task_key(task)
    assert store.latest_attempt(*key) is None
    assert store.list_attempts(*key) == []
    first = new_attempt(store, task, 0)
    info = ExceptionInfo(type="ValueError", message="bad", traceback="Traceback ...")
    store.finish_attempt(*key, 0, state="failed", finished_at=T0, exit_code=1, exception=info)
    second = new_attempt(store, task, 1)
    store.finish_attempt(*key, 1, state="timeout", finished_at=T0 + 1, signal=9)
    attempts = store.list_attempts(*key)
    assert attempts == [
        AttemptRecord(
            flow="F",
            run_id=run.run_id,
            step="start",
            task_id="1",
            attempt=0,
            state="failed",
            started_at=first.started_at,
            finished_at=T0,
            exit_code=1,
            pid=1234,
            exception=info,
        ),
        AttemptRecord(
            flow="F",
            run_id=run.run_id,
            step="start",
            task_id="1",
            attempt=1,
            state="timeout",
            started_at=second.started_at,
            finished_at=T0 + 1,
            signal=9,
            pid=1234,
        ),
    ]
    assert store.latest_attempt(*key) == attempts[1]
    with pytest.raises(
        TideflowInternalError, match=r"^Attempt 1 of task 'F/.*/start/1' is already"
    ):
        store.start_attempt(second)


def test_attempt_errors(store: SQLiteMetadataStore) -> None:
    run = new_run(store)
    task = new_task(store, run)
    key = _task_key(task)
    with pytest.raises(NotFound, match=rf"^Attempt 0 of task 'F/{run.run_id}/start/1' does not"):
        store.finish_attempt(*key, 0, state="succeeded")
    new_attempt(store, task)
    with pytest.raises(ValueError, match=r"^'running' is not a valid attempt state; use one of"):
        store.finish_attempt(*key, 0, state="running")
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/9' does not exist$"):
        store.list_attempts("F", run.run_id, "start", "9")
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/9' does not exist$"):
        store.latest_attempt("F", run.run_id, "start", "9")
    orphan = AttemptRecord(
        flow="F",
        run_id=run.run_id,
        step="x",
        task_id="1",
        attempt=0,
        state="running",
        started_at=T0,
    )
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/x/1' does not exist$"):
        store.start_attempt(orphan)


# -- artifacts and metadata ------------------------------------------------------------------


def _artifact(task: TaskRecord, name: str, attempt: int = 0) -> ArtifactRecord:
    return ArtifactRecord(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=attempt,
        name=name,
        sha=f"{len(name):064x}",
        size=len(name),
        created_at=T0,
    )


def _metadata(task: TaskRecord, name: str, attempt: int = 0) -> MetadataRecord:
    return MetadataRecord(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=attempt,
        name=name,
        value=f"value of {name}",
        type="text",
        created_at=T0,
        tags=("attempt_id:0",),
    )


def test_artifacts(store: SQLiteMetadataStore) -> None:
    task = new_task(store, new_run(store))
    key = _task_key(task)
    store.add_artifacts([_artifact(task, "zeta"), _artifact(task, "alpha")])
    store.add_artifacts([_artifact(task, "alpha", attempt=1)])
    assert store.list_artifacts(*key, 0) == [_artifact(task, "alpha"), _artifact(task, "zeta")]
    assert store.list_artifacts(*key, 1) == [_artifact(task, "alpha", attempt=1)]
    assert store.list_artifacts(*key, 2) == []


def test_metadata(store: SQLiteMetadataStore) -> None:
    task = new_task(store, new_run(store))
    key = _task_key(task)
    store.add_metadata([_metadata(task, "b", 1), _metadata(task, "z"), _metadata(task, "a")])
    assert [m.name for m in store.list_metadata(*key)] == ["z", "a", "b"]
    assert store.list_metadata(*key, attempt=1) == [_metadata(task, "b", 1)]


def test_record_task_end(store: SQLiteMetadataStore) -> None:
    task = new_task(store, new_run(store))
    key = _task_key(task)
    new_attempt(store, task)
    store.record_task_end(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=0,
        state="succeeded",
        finished_at=T0,
        exit_code=0,
        artifacts=[_artifact(task, "x"), _artifact(task, "y")],
        metadata=[_metadata(task, "m")],
    )
    latest = store.latest_attempt(*key)
    assert latest is not None
    assert (latest.state, latest.finished_at, latest.exit_code) == ("succeeded", T0, 0)
    assert [a.name for a in store.list_artifacts(*key, 0)] == ["x", "y"]
    assert [m.name for m in store.list_metadata(*key, 0)] == ["m"]


def test_record_task_end_records_nothing_for_a_missing_attempt(store: SQLiteMetadataStore) -> None:
    task = new_task(store, new_run(store))
    key = _task_key(task)
    with pytest.raises(NotFound, match=r"^Attempt 3 of task 'F/.*/start/1' does not exist$"):
        store.record_task_end(
            flow=task.flow,
            run_id=task.run_id,
            step=task.step,
            task_id=task.task_id,
            attempt=3,
            state="failed",
            artifacts=[_artifact(task, "x", 3)],
            metadata=[_metadata(task, "m", 3)],
        )
    assert store.list_artifacts(*key, 3) == []
    assert store.list_metadata(*key) == []


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

        started = time.perf_counter()
        latest_ok = store.latest_run("F", successful=True)
        assert time.perf_counter() - started < 0.05
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
        assert "SEARCH runs USING INDEX runs_running (flow=? AND heartbeat_at<?)" in plan
        [plan] = _plans(store, lambda: store.mark_stale_runs(older_than=1e12, now=T0))
        assert plan == "SCAN runs USING INDEX runs_running"  # only the running runs


def test_tags_given_as_a_generator_are_all_added(tmp_path: Path) -> None:
    """An iterable that can be read only once still adds every tag."""
    store = SQLiteMetadataStore(tmp_path)
    try:
        run = store.create_run("GenFlow", user="tester", system_tags=("user:tester",))
        record = store.add_tags("GenFlow", run.run_id, (t for t in ["a", "b"]))
        assert set(record.user_tags) == {"a", "b"}
    finally:
        store.close()
