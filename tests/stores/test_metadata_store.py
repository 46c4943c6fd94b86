"""What every metadata backend does: the MetadataStore Protocol, tested once per backend.

Backend-only behaviour (SQLite's file, query plans, id values) is in tests/metadata.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec
import pytest

from tideflow._exceptions import NotFound, TagError, TideflowInternalError
from tideflow._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    RunRecord,
    StepRecord,
    TaskRecord,
    TaskSnapshot,
)
from tideflow._stores._bundle import METADATA_SCHEMES

if TYPE_CHECKING:
    from backends import Target

    from tideflow._stores._interfaces import MetadataStore

T0 = 1_700_000_000.0
SYSTEM = ("user:alice", "runtime:dev")


def new_run(store: MetadataStore, flow: str = "F", **kwargs: object) -> RunRecord:
    kwargs.setdefault("system_tags", SYSTEM)
    return store.create_run(flow, user="alice", **kwargs)  # type: ignore[arg-type]


def new_task(
    store: MetadataStore, run: RunRecord, step: str = "start", task_id: str = "1", **kw: object
) -> TaskRecord:
    kw.setdefault("created_at", time.time())
    record = TaskRecord(flow=run.flow, run_id=run.run_id, step=step, task_id=task_id, **kw)  # type: ignore[arg-type]
    store.add_task(record)
    return record


def new_attempt(
    store: MetadataStore, task: TaskRecord, attempt: int = 0, started_at: float | None = None
) -> AttemptRecord:
    record = AttemptRecord(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=attempt,
        state="running",
        started_at=time.time() if started_at is None else started_at,
        pid=1234,
    )
    store.start_attempt(record)
    return record


def task_key(task: TaskRecord) -> tuple[str, str, str, str]:
    return task.flow, task.run_id, task.step, task.task_id


def artifact(task: TaskRecord, name: str, attempt: int = 0) -> ArtifactRecord:
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


def metadata_event(task: TaskRecord, name: str, attempt: int = 0) -> MetadataRecord:
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


# -- the store -------------------------------------------------------------------------------


def test_a_new_store_is_empty_and_reading_does_not_create_it(metadata: MetadataStore) -> None:
    assert not metadata.exists()
    assert not metadata.exists()
    assert metadata.latest_run("F") is None
    assert metadata.list_runs("F") == []
    assert not metadata.flow_exists("F")
    assert metadata.list_flows() == []
    assert metadata.mark_stale_runs(older_than=0) == []
    assert not metadata.exists()
    new_run(metadata)
    assert metadata.exists()


def test_url_names_the_store(metadata: MetadataStore, metadata_target: Target) -> None:
    """The URL names the same backend (``postgres://`` may read ``postgresql://``) and
    never holds a password.
    """
    url, wanted = urlsplit(metadata.url), urlsplit(metadata_target.url)
    assert METADATA_SCHEMES[url.scheme].module == METADATA_SCHEMES[wanted.scheme].module
    assert url.password is None


def test_closing_twice_is_allowed(metadata_target: Target) -> None:
    store = metadata_target.metadata()
    new_run(store)
    store.close()
    store.close()


def test_two_stores_share_one_database(metadata_target: Target) -> None:
    one = metadata_target.metadata()
    two = metadata_target.metadata()
    try:
        run = new_run(one)
        assert two.get_run("F", run.run_id) == run
        two.add_tags("F", run.run_id, ["seen"])
        assert one.get_run("F", run.run_id).user_tags == ("seen",)
    finally:
        one.close()
        two.close()


# -- runs ------------------------------------------------------------------------------------


def test_create_run(metadata: MetadataStore) -> None:
    run = metadata.create_run(
        "HelloFlow",
        user="alice",
        system_tags=SYSTEM,
        user_tags=["b", "a", "b"],
        origin_run_id="7",
        now=T0,
    )
    assert run == RunRecord(
        flow="HelloFlow",
        run_id=run.run_id,
        user="alice",
        status="running",
        created_at=T0,
        origin_run_id="7",
        system_tags=("runtime:dev", "user:alice"),
        user_tags=("a", "b"),
        heartbeat_at=T0,
        pid=run.pid,
    )
    assert run.run_id.isdigit()
    assert str(int(run.run_id)) == run.run_id
    assert run.pid is not None
    assert metadata.get_run("HelloFlow", run.run_id) == run
    assert metadata.flow_exists("HelloFlow")
    assert not metadata.flow_exists("Other")


def test_a_user_tag_that_is_a_system_tag_is_kept_once(metadata: MetadataStore) -> None:
    run = new_run(metadata, user_tags=["user:alice", "mine"])
    assert (run.system_tags, run.user_tags) == (("runtime:dev", "user:alice"), ("mine",))
    assert metadata.get_run("F", run.run_id) == run


def test_run_ids_increase_even_when_the_clock_does_not(metadata: MetadataStore) -> None:
    first = new_run(metadata, now=T0)
    second = new_run(metadata, now=T0)
    earlier = new_run(metadata, now=T0 - 100)
    later = new_run(metadata)
    ids = [int(r.run_id) for r in (first, second, earlier, later)]
    assert ids == sorted(set(ids))
    other = new_run(metadata, "G", now=T0 - 100)
    assert metadata.get_run("G", other.run_id) == other


def test_threads_share_one_store(metadata: MetadataStore) -> None:
    def work() -> list[str]:
        ids = []
        for _ in range(10):
            run = new_run(metadata, "Threads")
            metadata.add_tags("Threads", run.run_id, ["t"])
            ids.append(metadata.get_run("Threads", run.run_id).run_id)
        return ids

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(work) for _ in range(6)]
    ids = [run_id for future in futures for run_id in future.result()]
    assert len(set(ids)) == 60
    assert len(metadata.list_runs("Threads", tags=["t"])) == 60


@pytest.mark.parametrize(
    "run_id", ["123", "abc", "0123", "-1", "", "١٢", "1" * 30, "18446744073709551616", "a\udcff"]
)
def test_missing_run(metadata: MetadataStore, run_id: str) -> None:
    new_run(metadata)
    with pytest.raises(NotFound, match=r"^Run 'F/.*' does not exist$"):
        metadata.get_run("F", run_id)
    with pytest.raises(NotFound, match=r"^Step 'F/.*/start' does not exist$"):
        metadata.list_tasks("F", run_id, "start")
    with pytest.raises(NotFound, match=r"^Task 'F/.*/start/1' does not exist$"):
        metadata.get_task("F", run_id, "start", "1")


def test_lookups_of_names_with_a_lone_surrogate_find_nothing(metadata: MetadataStore) -> None:
    """An undecodable byte of a command line becomes a lone surrogate: never a crash."""
    run = new_run(metadata)
    new_task(metadata, run)
    bad = "x\udcff"
    with pytest.raises(NotFound, match=r"^Run '.*' does not exist$"):
        metadata.get_run(bad, run.run_id)
    with pytest.raises(NotFound, match=r"^Run 'F/.*' does not exist$"):
        metadata.list_steps("F", bad)
    with pytest.raises(NotFound, match=r"^Step 'F/\d+/.*' does not exist$"):
        metadata.list_tasks("F", run.run_id, bad)
    with pytest.raises(NotFound, match=r"^Task 'F/\d+/start/.*' does not exist$"):
        metadata.get_task("F", run.run_id, "start", bad)
    with pytest.raises(NotFound):
        metadata.list_attempts("F", run.run_id, "start", bad)
    for lookup in (metadata.list_runs, metadata.latest_run, metadata.flow_exists):
        try:
            assert not lookup(bad)  # type: ignore[operator]
        except NotFound:
            pass


def test_heartbeat_and_finish(metadata: MetadataStore) -> None:
    run = new_run(metadata, now=T0)
    metadata.heartbeat("F", run.run_id, now=T0 + 5)
    metadata.finish_run("F", run.run_id, "succeeded", finished_at=T0 + 9)
    done = metadata.get_run("F", run.run_id)
    assert (done.status, done.heartbeat_at, done.finished_at) == ("succeeded", T0 + 5, T0 + 9)
    assert done.created_at == T0
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.heartbeat("F", "1")
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.finish_run("F", "1", "failed")


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled", "timeout", "crashed"])
def test_every_final_status(metadata: MetadataStore, status: str) -> None:
    run = new_run(metadata)
    metadata.finish_run("F", run.run_id, status)
    assert metadata.get_run("F", run.run_id).status == status


@pytest.mark.parametrize("status", ["running", "success", ""])
def test_finish_run_needs_a_final_status(metadata: MetadataStore, status: str) -> None:
    run = new_run(metadata)
    with pytest.raises(ValueError, match=rf"^'{status}' is not a valid run status; use one of "):
        metadata.finish_run("F", run.run_id, status)
    assert metadata.get_run("F", run.run_id).status == "running"


def test_list_runs_newest_first(metadata: MetadataStore) -> None:
    runs = [new_run(metadata, now=T0 + i) for i in range(5)]
    new_run(metadata, "Other")
    assert metadata.list_runs("F") == runs[::-1]
    assert metadata.list_runs("F", limit=2) == runs[:2:-1]
    assert metadata.list_runs("Unknown") == []


def test_list_runs_by_tags(metadata: MetadataStore) -> None:
    a = new_run(metadata, user_tags=["x", "y"])
    b = new_run(metadata, user_tags=["x"])
    c = new_run(metadata, system_tags=["user:bob", "x"])
    assert metadata.list_runs("F", tags=["x"]) == [c, b, a]
    assert metadata.list_runs("F", tags=["x", "y"]) == [a]
    assert metadata.list_runs("F", tags=["x", "x", "user:alice"]) == [b, a]
    assert metadata.list_runs("F", tags=["user:bob"], limit=5) == [c]
    assert metadata.list_runs("F", tags=["x"], limit=1) == [c]
    assert metadata.list_runs("F", tags=["nope"]) == []
    assert metadata.list_runs("G", tags=["x"]) == []
    with pytest.raises(TagError, match=r"^Tags must be a list of strings, not a single str"):
        metadata.list_runs("F", tags="x")


def test_has_runs(metadata: MetadataStore) -> None:
    """Whether a flow has a run with every tag given (the client's namespace check)."""
    assert not metadata.has_runs("F")
    assert not metadata.has_runs("F", ["user:bob"])
    new_run(metadata, user_tags=["x", "y"])
    new_run(metadata, system_tags=["user:bob"], user_tags=["z"])
    new_run(metadata, "Other", user_tags=["w"])
    assert metadata.has_runs("F")
    assert metadata.has_runs("F", ["user:bob"])
    assert metadata.has_runs("F", ["x", "y"])
    assert metadata.has_runs("F", ["user:bob", "z"])
    assert not metadata.has_runs("F", ["x", "z"])  # on two different runs
    assert not metadata.has_runs("F", ["w"])  # another flow's tag
    assert not metadata.has_runs("G")
    with pytest.raises(TagError, match=r"^Tags must be a list of strings, not a single str"):
        metadata.has_runs("F", "x")


def test_latest_run(metadata: MetadataStore) -> None:
    assert metadata.latest_run("F") is None
    assert metadata.latest_run("F", successful=True) is None
    first, second, third = (new_run(metadata) for _ in range(3))
    metadata.finish_run("F", first.run_id, "succeeded")
    metadata.finish_run("F", second.run_id, "failed")
    assert metadata.latest_run("F") == third
    latest_ok = metadata.latest_run("F", successful=True)
    assert latest_ok is not None
    assert latest_ok.run_id == first.run_id
    assert latest_ok.status == "succeeded"
    assert metadata.latest_run("G") is None


def test_latest_run_by_tags(metadata: MetadataStore) -> None:
    a = new_run(metadata, user_tags=["x", "y"])
    b = new_run(metadata, user_tags=["x"])
    new_run(metadata)
    metadata.finish_run("F", a.run_id, "succeeded")
    assert metadata.latest_run("F", ["x"]) == b
    assert metadata.latest_run("F", ["x", "y"]) == metadata.get_run("F", a.run_id)
    assert metadata.latest_run("F", ["x", "user:alice"]) == b
    assert metadata.latest_run("F", ["x"], successful=True) == metadata.get_run("F", a.run_id)
    assert metadata.latest_run("F", ["y"], successful=True) is not None
    assert metadata.latest_run("F", ["nope"]) is None
    metadata.remove_tags("F", b.run_id, ["x"])
    assert metadata.latest_run("F", ["x"]) == metadata.get_run("F", a.run_id)
    with pytest.raises(TagError, match=r"^A tag cannot be empty\."):
        metadata.latest_run("F", [""])


def test_list_flows_and_when_they_were_created(metadata: MetadataStore) -> None:
    assert metadata.list_flows() == []
    assert metadata.flow_created_at("Zeta") is None
    for i, flow in enumerate(("Zeta", "Alpha", "Zeta", "Mid")):
        new_run(metadata, flow, now=T0 + i)
    assert metadata.list_flows() == ["Alpha", "Mid", "Zeta"]
    assert metadata.flow_created_at("Zeta") == T0
    assert metadata.flow_created_at("Mid") == T0 + 3
    assert metadata.flow_created_at("Nope") is None


# -- leases ----------------------------------------------------------------------------------


def test_mark_stale_runs(metadata: MetadataStore) -> None:
    stale = new_run(metadata, now=T0)
    fresh = new_run(metadata, now=T0)
    metadata.heartbeat("F", fresh.run_id, now=T0 + 50)
    done = new_run(metadata, now=T0)
    metadata.finish_run("F", done.run_id, "succeeded", finished_at=T0 + 1)
    other = new_run(metadata, "G", now=T0)
    task = new_task(metadata, stale)
    new_attempt(metadata, task, 0, started_at=T0 - 5)
    metadata.finish_attempt(*task_key(task), 0, state="failed", finished_at=T0 - 4)
    new_attempt(metadata, task, 1, started_at=T0 - 3)
    late = new_task(metadata, stale, task_id="2")
    new_attempt(metadata, late, 0, started_at=T0 + 10)

    marked = metadata.mark_stale_runs("F", older_than=30, now=T0 + 60)
    assert [(r.run_id, r.status, r.finished_at) for r in marked] == [(stale.run_id, "crashed", T0)]
    assert metadata.get_run("F", stale.run_id) == marked[0]
    assert metadata.get_run("F", fresh.run_id).status == "running"
    assert metadata.get_run("F", done.run_id).status == "succeeded"
    assert metadata.get_run("G", other.run_id).status == "running"
    attempts = metadata.list_attempts(*task_key(task))
    assert [(a.state, a.finished_at) for a in attempts] == [("failed", T0 - 4), ("crashed", T0)]
    [after] = metadata.list_attempts(*task_key(late))
    assert (after.state, after.finished_at) == ("crashed", T0 + 10)  # started after the beat

    again = metadata.mark_stale_runs(older_than=30, now=T0 + 60)
    assert [r.pathspec for r in again] == [other.pathspec]
    assert metadata.mark_stale_runs(older_than=30, now=T0 + 60) == []


def test_a_renewed_lease_is_not_stale(metadata: MetadataStore) -> None:
    run = new_run(metadata, now=T0)
    for beat in range(1, 6):
        metadata.heartbeat("F", run.run_id, now=T0 + 20 * beat)
        assert metadata.mark_stale_runs(older_than=30, now=T0 + 20 * beat + 25) == []
    assert metadata.get_run("F", run.run_id).heartbeat_at == T0 + 100
    assert [r.run_id for r in metadata.mark_stale_runs(older_than=30, now=T0 + 131)] == [
        run.run_id
    ]


# -- tags ------------------------------------------------------------------------------------


def test_add_and_remove_tags(metadata: MetadataStore) -> None:
    run = new_run(metadata, now=T0, user_tags=["a"])
    run = metadata.add_tags("F", run.run_id, ["b", "c", "a"])
    assert run.user_tags == ("a", "b", "c")
    run = metadata.remove_tags("F", run.run_id, ["a", "missing"])
    assert run.user_tags == ("b", "c")
    assert metadata.get_run("F", run.run_id) == run
    assert run.created_at == T0
    assert metadata.list_runs("F", tags=["a"]) == []
    assert metadata.list_runs("F", tags=["b", "c"]) == [run]


def test_adding_a_system_tag_changes_nothing(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    run = metadata.add_tags("F", run.run_id, ["user:alice"])
    assert (run.system_tags, run.user_tags) == (("runtime:dev", "user:alice"), ())


def test_removing_a_system_tag_is_refused(metadata: MetadataStore) -> None:
    run = new_run(metadata, user_tags=["a"])
    with pytest.raises(
        TagError,
        match=(
            rf"^Tag 'user:alice' of run 'F/{run.run_id}' is a system tag and cannot be "
            r"removed\. Only user tags can be removed\.$"
        ),
    ):
        metadata.remove_tags("F", run.run_id, ["a", "user:alice"])
    assert metadata.get_run("F", run.run_id).user_tags == ("a",)


def test_replace_tags_is_atomic(metadata: MetadataStore) -> None:
    run = new_run(metadata, user_tags=["old"])
    run = metadata.replace_tags("F", run.run_id, ["old"], ["new", "old2"])
    assert run.user_tags == ("new", "old2")
    with pytest.raises(TagError, match=r"^Tag 'runtime:dev' of run .* is a system tag"):
        metadata.replace_tags("F", run.run_id, ["new", "runtime:dev"], ["other"])
    with pytest.raises(TagError, match=r"^A tag cannot be empty\. "):
        metadata.replace_tags("F", run.run_id, ["new"], ["fine", ""])
    assert metadata.get_run("F", run.run_id).user_tags == ("new", "old2")
    run = metadata.replace_tags("F", run.run_id, ["new"], ["new"])
    assert run.user_tags == ("new", "old2")


def test_at_most_50_user_tags(metadata: MetadataStore) -> None:
    run = new_run(metadata, user_tags=[f"t{i}" for i in range(49)])
    metadata.add_tags("F", run.run_id, ["t49", "user:alice"])
    message = (
        rf"^Run 'F/{run.run_id}' would have 51 user tags, but a run can have at most 50\. "
        r"Remove some tags first\.$"
    )
    with pytest.raises(TagError, match=message):
        metadata.add_tags("F", run.run_id, ["t50"])
    metadata.replace_tags("F", run.run_id, ["t0"], ["t50"])
    assert len(metadata.get_run("F", run.run_id).user_tags) == 50
    with pytest.raises(
        TagError,
        match=r"^A new run of 'F' would have 51 user tags, but a run can have at most 50\.",
    ):
        new_run(metadata, user_tags=[f"t{i}" for i in range(51)])
    assert len(metadata.list_runs("F")) == 1


def test_tag_length(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    metadata.add_tags("F", run.run_id, ["x" * 500, "ü" * 500])
    assert metadata.list_runs("F", tags=["ü" * 500]) == [metadata.get_run("F", run.run_id)]
    with pytest.raises(
        TagError,
        match=(
            r"^Tag 'x{20}\.\.\.' is 501 characters long\. Tags are non-empty strings of at "
            r"most 500 characters\.$"
        ),
    ):
        metadata.add_tags("F", run.run_id, ["x" * 501])


def test_empty_tag(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    with pytest.raises(
        TagError,
        match=r"^A tag cannot be empty\. Tags are non-empty strings of at most 500 characters\.$",
    ):
        metadata.add_tags("F", run.run_id, [""])
    with pytest.raises(TagError, match=r"^A tag cannot be empty\."):
        new_run(metadata, system_tags=[""])


def test_tag_that_is_not_a_string(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    with pytest.raises(TagError, match=r"^Tag 3 is not a string \(int\)\. Tags are non-empty"):
        metadata.add_tags("F", run.run_id, [3])  # type: ignore[list-item]


def test_tags_given_as_one_string(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    with pytest.raises(
        TagError,
        match=r"^Tags must be a list of strings, not a single str: pass \['abc'\] for one tag\.$",
    ):
        metadata.add_tags("F", run.run_id, "abc")


def test_tags_given_as_a_generator_are_all_added(metadata: MetadataStore) -> None:
    run = metadata.create_run("F", user="u", system_tags=(t for t in ["user:u"]))
    record = metadata.add_tags("F", run.run_id, (t for t in ["a", "b"]))
    assert set(record.user_tags) == {"a", "b"}
    record = metadata.replace_tags("F", run.run_id, (t for t in ["a"]), (t for t in ["c"]))
    assert set(record.user_tags) == {"b", "c"}


def test_tags_of_a_missing_run(metadata: MetadataStore) -> None:
    with pytest.raises(NotFound, match=r"^Run 'F/5' does not exist$"):
        metadata.add_tags("F", "5", ["a"])
    with pytest.raises(NotFound, match=r"^Run 'F/x' does not exist$"):
        metadata.remove_tags("F", "x", ["a"])
    with pytest.raises(NotFound, match=r"^Run 'F/5' does not exist$"):
        metadata.replace_tags("F", "5", [], ["a"])


def test_unicode_names_and_tags(metadata: MetadataStore) -> None:
    run = new_run(metadata, "Flöw_✓", user_tags=["tâg ✓", "日本"])
    assert metadata.list_runs("Flöw_✓", tags=["日本"]) == [run]
    assert metadata.list_flows() == ["Flöw_✓"]


# -- steps, tasks and attempts ---------------------------------------------------------------


def test_steps(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    for i, step in enumerate(["start", "middle", "end"]):
        metadata.add_step(StepRecord(flow="F", run_id=run.run_id, step=step, created_at=T0 + i))
    metadata.add_step(StepRecord(flow="F", run_id=run.run_id, step="start", created_at=T0 + 9))
    steps = metadata.list_steps("F", run.run_id)
    assert [s.step for s in steps] == ["end", "middle", "start"]
    assert steps[-1] == StepRecord(flow="F", run_id=run.run_id, step="start", created_at=T0)
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.add_step(StepRecord(flow="F", run_id="1", step="start", created_at=T0))
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.list_steps("F", "1")
    assert metadata.list_steps("F", new_run(metadata).run_id) == []


def test_tasks(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    first = new_task(
        metadata,
        run,
        "start",
        "1",
        created_at=T0,
        index=3,
        foreach_stack=b"\x92\x01\x02\x00\xff",
        parent_pathspecs=("F/1/a/1", "F/1/b/2"),
        origin_pathspec="F/0/start/1",
    )
    second = new_task(metadata, run, "start", "2", created_at=T0 + 1)
    assert metadata.list_tasks(*task_key(first)[:3]) == [second, first]
    assert metadata.get_task(*task_key(first)) == first
    assert [s.step for s in metadata.list_steps("F", run.run_id)] == ["start"]
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/3' does not exist$"):
        metadata.get_task("F", run.run_id, "start", "3")
    with pytest.raises(NotFound, match=rf"^Step 'F/{run.run_id}/end' does not exist$"):
        metadata.list_tasks("F", run.run_id, "end")
    with pytest.raises(NotFound, match=r"^Step 'F/nope/end' does not exist$"):
        metadata.list_tasks("F", "nope", "end")
    missing = RunRecord(flow="F", run_id="2", user="u", status="running", created_at=0)
    with pytest.raises(NotFound, match=r"^Run 'F/2' does not exist$"):
        new_task(metadata, missing)
    with pytest.raises(
        TideflowInternalError,
        match=rf"^Task 'F/{run.run_id}/start/1' is already recorded\. .*please report it\.$",
    ):
        metadata.add_task(first)
    assert metadata.get_task(*task_key(first)) == first


def test_a_step_with_no_task_yet(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    metadata.add_step(StepRecord(flow="F", run_id=run.run_id, step="join", created_at=T0))
    assert metadata.list_tasks("F", run.run_id, "join") == []
    assert metadata.latest_attempts("F", run.run_id, "join") == []


def test_child_tasks(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    other = new_run(metadata)
    parent = new_task(metadata, run, "start", "1", created_at=T0)
    parent_path = parent.pathspec
    a = new_task(metadata, run, "a", "2", created_at=T0 + 1, parent_pathspecs=(parent_path,))
    b = new_task(
        metadata,
        run,
        "join",
        "3",
        created_at=T0 + 2,
        parent_pathspecs=(f"F/{run.run_id}/x/9", parent_path),
    )
    new_task(metadata, run, "c", "4", created_at=T0 + 3, parent_pathspecs=(parent_path + "0",))
    new_task(metadata, other, "a", "2", created_at=T0 + 4, parent_pathspecs=(parent_path,))
    assert metadata.child_tasks("F", run.run_id, parent_path) == [b, a]
    assert metadata.child_tasks("F", run.run_id, b.pathspec) == []
    assert metadata.child_tasks("F", "999", parent_path) == []


def test_attempts(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    task = new_task(metadata, run)
    key = task_key(task)
    assert metadata.latest_attempt(*key) is None
    assert metadata.list_attempts(*key) == []
    first = new_attempt(metadata, task, 0)
    assert metadata.latest_attempt(*key) == first
    info = ExceptionInfo(type="ValueError", message="bad ✓", traceback="Traceback ...")
    metadata.finish_attempt(*key, 0, state="failed", finished_at=T0, exit_code=1, exception=info)
    second = new_attempt(metadata, task, 1)
    metadata.finish_attempt(*key, 1, state="timeout", finished_at=T0 + 1, signal=9)
    attempts = metadata.list_attempts(*key)
    common = {"flow": "F", "run_id": run.run_id, "step": "start", "task_id": "1", "pid": 1234}
    assert attempts == [
        AttemptRecord(
            **common,  # type: ignore[arg-type]
            attempt=0,
            state="failed",
            started_at=first.started_at,
            finished_at=T0,
            exit_code=1,
            exception=info,
        ),
        AttemptRecord(
            **common,  # type: ignore[arg-type]
            attempt=1,
            state="timeout",
            started_at=second.started_at,
            finished_at=T0 + 1,
            signal=9,
        ),
    ]
    assert metadata.latest_attempt(*key) == attempts[1]
    with pytest.raises(
        TideflowInternalError, match=r"^Attempt 1 of task 'F/.*/start/1' is already"
    ):
        metadata.start_attempt(second)


def test_attempt_errors(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    task = new_task(metadata, run)
    key = task_key(task)
    with pytest.raises(NotFound, match=rf"^Attempt 0 of task 'F/{run.run_id}/start/1' does not"):
        metadata.finish_attempt(*key, 0, state="succeeded")
    new_attempt(metadata, task)
    with pytest.raises(ValueError, match=r"^'running' is not a valid attempt state; use one of"):
        metadata.finish_attempt(*key, 0, state="running")
    with pytest.raises(ValueError, match=r"^'done' is not a valid attempt state; use one of"):
        metadata.finish_attempt(*key, 0, state="done")
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/9' does not exist$"):
        metadata.list_attempts("F", run.run_id, "start", "9")
    with pytest.raises(NotFound, match=rf"^Task 'F/{run.run_id}/start/9' does not exist$"):
        metadata.latest_attempt("F", run.run_id, "start", "9")
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
        metadata.start_attempt(orphan)


def test_latest_attempts(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    tasks = [new_task(metadata, run, "each", str(i)) for i in range(4)]
    for attempt in range(3):
        new_attempt(metadata, tasks[0], attempt)
    new_attempt(metadata, tasks[1], 0)
    metadata.finish_attempt(*task_key(tasks[1]), 0, state="succeeded")
    new_attempt(metadata, tasks[2], 0)
    new_attempt(metadata, tasks[2], 1)
    new_attempt(metadata, new_task(metadata, run, "other", "9"), 5)
    latest = {a.task_id: a for a in metadata.latest_attempts("F", run.run_id, "each")}
    assert {task_id: a.attempt for task_id, a in latest.items()} == {"0": 2, "1": 0, "2": 1}
    assert latest["1"] == metadata.latest_attempt(*task_key(tasks[1]))
    assert latest["1"].state == "succeeded"
    assert metadata.latest_attempts("F", run.run_id, "nope") == []


def test_a_finished_attempt_keeps_its_pid_unless_given_one(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    new_attempt(metadata, task, 0)
    new_attempt(metadata, task, 1)
    fields = {
        "flow": "F",
        "run_id": task.run_id,
        "step": "start",
        "task_id": "1",
        "state": "succeeded",
    }
    metadata.record_task_end(**fields, attempt=0)  # type: ignore[arg-type]
    metadata.record_task_end(**fields, attempt=1, pid=777)  # type: ignore[arg-type]
    assert [a.pid for a in metadata.list_attempts(*task_key(task))] == [1234, 777]


# -- artifacts and metadata ------------------------------------------------------------------


def test_artifacts(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    key = task_key(task)
    metadata.add_artifacts([artifact(task, "zeta"), artifact(task, "alpha")])
    metadata.add_artifacts([artifact(task, "alpha", attempt=1)])
    metadata.add_artifacts([])
    assert metadata.list_artifacts(*key, 0) == [artifact(task, "alpha"), artifact(task, "zeta")]
    assert metadata.list_artifacts(*key, 1) == [artifact(task, "alpha", attempt=1)]
    assert metadata.list_artifacts(*key, 2) == []


def test_an_artifact_record_replaces_the_one_of_the_same_name(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    metadata.add_artifacts([artifact(task, "x")])
    newer = msgspec.structs.replace(artifact(task, "x"), sha="f" * 64, size=9)
    metadata.add_artifacts([newer])
    assert metadata.list_artifacts(*task_key(task), 0) == [newer]


def test_metadata(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    key = task_key(task)
    events = [metadata_event(task, "b", 1), metadata_event(task, "z"), metadata_event(task, "a")]
    metadata.add_metadata(events)
    assert metadata.list_metadata(*key) == [events[1], events[2], events[0]]
    assert metadata.list_metadata(*key, attempt=1) == [events[0]]
    assert metadata.list_metadata(*key, attempt=7) == []
    metadata.add_metadata([metadata_event(task, "z")])
    assert [m.name for m in metadata.list_metadata(*key, attempt=0)] == ["z", "a", "z"]


def test_record_task_end(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    key = task_key(task)
    new_attempt(metadata, task)
    info = ExceptionInfo(type="KeyError", message="'k'", traceback="tb")
    metadata.record_task_end(
        flow=task.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=0,
        state="failed",
        finished_at=T0,
        exit_code=3,
        signal=None,
        exception=info,
        artifacts=[artifact(task, "x"), artifact(task, "y")],
        metadata=[metadata_event(task, "m")],
        pid=4321,
    )
    latest = metadata.latest_attempt(*key)
    assert latest is not None
    assert (latest.state, latest.finished_at, latest.exit_code) == ("failed", T0, 3)
    assert (latest.exception, latest.pid) == (info, 4321)
    assert [a.name for a in metadata.list_artifacts(*key, 0)] == ["x", "y"]
    assert [m.name for m in metadata.list_metadata(*key, 0)] == ["m"]


def _clone(run: RunRecord, step: str, task_id: str, state: str = "succeeded") -> TaskSnapshot:
    task = TaskRecord(
        flow=run.flow,
        run_id=run.run_id,
        step=step,
        task_id=task_id,
        created_at=T0,
        index=int(task_id) if step == "body" else None,
        foreach_stack=b"\x91\x01",
        parent_pathspecs=(f"{run.flow}/{run.run_id}/start/1",) if step == "body" else (),
        origin_pathspec=f"{run.flow}/1/{step}/{task_id}",
    )
    attempt = AttemptRecord(
        flow=run.flow,
        run_id=run.run_id,
        step=step,
        task_id=task_id,
        attempt=0,
        state=state,
        started_at=T0,
        finished_at=T0 + 1,
        exit_code=0,
        exception=ExceptionInfo(type="E", message="m", traceback="tb")
        if state == "failed"
        else None,
    )
    return TaskSnapshot(
        task=task,
        attempt=attempt,
        artifacts=(artifact(task, "x"), artifact(task, "y")),
        metadata=(metadata_event(task, "origin-run-id"),),
    )


def test_clone_tasks(metadata: MetadataStore) -> None:
    """A batch of cloned tasks is recorded in one go: tasks, their steps, their one final
    attempt, artifacts and metadata read back as given."""
    run = new_run(metadata)
    new_task(metadata, run, "start", "1")  # a step that exists already is kept
    clones = [_clone(run, "start", "2"), _clone(run, "body", "3", state="failed")]
    clones += [_clone(run, "body", str(i)) for i in range(4, 204)]
    metadata.clone_tasks(clones)
    assert {s.step for s in metadata.list_steps(run.flow, run.run_id)} == {"start", "body"}
    tasks = metadata.list_tasks(run.flow, run.run_id, "body")
    assert len(tasks) == 201
    for clone in clones:
        key = task_key(clone.task)
        assert metadata.get_task(*key) == clone.task
        assert metadata.list_attempts(*key) == [clone.attempt]
        assert metadata.list_artifacts(*key, 0) == list(clone.artifacts)
        assert metadata.list_metadata(*key) == list(clone.metadata)
    latest = {a.task_id: a.state for a in metadata.latest_attempts(run.flow, run.run_id, "body")}
    assert latest["3"] == "failed"
    assert latest["4"] == "succeeded"
    metadata.clone_tasks([])


def test_clone_tasks_records_nothing_when_one_is_wrong(metadata: MetadataStore) -> None:
    """A batch is one transaction: a task already recorded, a missing run or an attempt
    that is not final records none of the batch."""
    run = new_run(metadata)
    new_task(metadata, run, "body", "5")
    with pytest.raises(TideflowInternalError, match="already recorded"):
        metadata.clone_tasks([_clone(run, "body", "4"), _clone(run, "body", "5")])
    with pytest.raises(NotFound):
        metadata.clone_tasks(
            [_clone(run, "body", "6"), _clone(msgspec.structs.replace(run, run_id="7"), "x", "1")]
        )
    with pytest.raises(ValueError, match="'running' is not a valid attempt state"):
        metadata.clone_tasks([_clone(run, "body", "8"), _clone(run, "body", "9", "running")])
    assert [t.task_id for t in metadata.list_tasks(run.flow, run.run_id, "body")] == ["5"]
    for task_id in ("4", "6", "8"):
        with pytest.raises(NotFound):
            metadata.get_task(run.flow, run.run_id, "body", task_id)
        assert metadata.list_artifacts(run.flow, run.run_id, "body", task_id, 0) == []
        assert metadata.list_metadata(run.flow, run.run_id, "body", task_id) == []


def test_list_task_snapshots(metadata: MetadataStore) -> None:
    """Each task of a run that has an attempt, with its latest attempt and only that
    attempt's artifacts and metadata; a task without an attempt is left out."""
    run = new_run(metadata)
    other = new_run(metadata)
    retried = new_task(metadata, run, "body", "2")
    for attempt in (0, 1):
        new_attempt(metadata, retried, attempt)
        metadata.record_task_end(
            **dict(zip(("flow", "run_id", "step", "task_id"), task_key(retried), strict=True)),
            attempt=attempt,
            state="failed" if attempt == 0 else "succeeded",
            finished_at=T0,
            artifacts=[artifact(retried, f"a{attempt}", attempt)],
            metadata=[metadata_event(retried, f"m{attempt}", attempt)],
        )
    running = new_task(metadata, run, "body", "3")
    new_attempt(metadata, running)
    new_task(metadata, run, "body", "4")  # no attempt yet
    new_attempt(metadata, new_task(metadata, other, "body", "2"))
    found = {s.task.task_id: s for s in metadata.list_task_snapshots(run.flow, run.run_id)}
    assert sorted(found) == ["2", "3"]
    assert found["2"].task == retried
    assert (found["2"].attempt.attempt, found["2"].attempt.state) == (1, "succeeded")
    assert [a.name for a in found["2"].artifacts] == ["a1"]
    assert [m.name for m in found["2"].metadata] == ["m1"]
    assert found["3"].attempt.state == "running"
    assert (found["3"].artifacts, found["3"].metadata) == ((), ())
    assert metadata.list_task_snapshots(run.flow, new_run(metadata).run_id) == []
    with pytest.raises(NotFound):
        metadata.list_task_snapshots(run.flow, "12345")


def test_record_task_end_records_nothing_for_a_missing_attempt(metadata: MetadataStore) -> None:
    task = new_task(metadata, new_run(metadata))
    key = task_key(task)
    with pytest.raises(NotFound, match=r"^Attempt 3 of task 'F/.*/start/1' does not exist$"):
        metadata.record_task_end(
            flow=task.flow,
            run_id=task.run_id,
            step=task.step,
            task_id=task.task_id,
            attempt=3,
            state="failed",
            artifacts=[artifact(task, "x", 3)],
            metadata=[metadata_event(task, "m", 3)],
        )
    assert metadata.list_artifacts(*key, 3) == []
    assert metadata.list_metadata(*key) == []
