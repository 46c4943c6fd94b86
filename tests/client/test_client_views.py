"""How the client reads ``run.data``: a listing's runs together, an ended run once.

The runs are written straight into the test's own stores (``tideflow_root``), the way a
supervisor writes them, so that a test can leave a run running and finish it later. To
show that a read needs no round trip to the metadata store, a test closes that store (a
closed store refuses every call) and reads on.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import TYPE_CHECKING, Any

import pytest

from forking import run_forked
from stored_runs import blob_store, metadata_store
from tideflow import AsyncFlow, Flow, Run, namespace
from tideflow._client._views import EndedRuns
from tideflow._datastore._artifacts import dumps
from tideflow._metadata import ArtifactRecord, AttemptRecord, RunRecord, TaskRecord
from tideflow._metadata._records import RunView, StepRecord, TaskView
from tideflow.exception import NamespaceMismatch

if TYPE_CHECKING:
    from pathlib import Path

    from tideflow._stores._interfaces import BlobStore, MetadataStore

FLOW = "ViewFlow"


def _end_key(run: RunRecord) -> dict[str, Any]:
    return {"flow": FLOW, "run_id": run.run_id, "step": "end", "task_id": "1"}


def start_end(store: MetadataStore, run: RunRecord) -> None:
    """Record that the run's ``end`` task started its first attempt."""
    now = time.time()
    store.add_task(TaskRecord(**_end_key(run), created_at=now))
    store.start_attempt(AttemptRecord(**_end_key(run), attempt=0, state="running", started_at=now))


def finish_end(store: MetadataStore, blobs: BlobStore, run: RunRecord, x: object) -> None:
    """Record that the run's ``end`` task stored ``x`` and succeeded, then the run."""
    data = dumps(x, "x")
    artifact = ArtifactRecord(
        **_end_key(run), attempt=0, name="x", sha=blobs.put(data), size=len(data), created_at=0
    )
    store.record_task_end(**_end_key(run), attempt=0, state="succeeded", artifacts=[artifact])
    store.finish_run(FLOW, run.run_id, "succeeded")


def new_run(store: MetadataStore) -> RunRecord:
    return store.create_run(FLOW, user="tester", system_tags=["user:tester"])


def finished_run(store: MetadataStore, blobs: BlobStore, x: object) -> RunRecord:
    run = new_run(store)
    start_end(store, run)
    finish_end(store, blobs, run, x)
    return run


def test_a_listing_reads_the_end_tasks_of_its_runs_together(tideflow_root: Path) -> None:
    """The first ``run.data`` of a listing reads the end tasks of the next 100 runs with
    it; each run of those then gives its own values (or none) without a metadata read."""
    blobs = blob_store(tideflow_root)
    with metadata_store(tideflow_root) as store:
        failed = new_run(store)  # failed before its end step
        store.finish_run(FLOW, failed.run_id, "failed")
        written = [finished_run(store, blobs, number) for number in range(120)]
    runs = list(Flow(FLOW))
    assert [run.id for run in runs] == [r.run_id for r in reversed(written)] + [failed.run_id]
    assert runs[0].data.x == 119  # type: ignore[union-attr]
    runs[0]._node.handle.metadata.close()
    assert [run.data.x for run in runs[1:100]] == list(range(118, 19, -1))  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match=r"is closed"):
        runs[100].data  # noqa: B018 - the next window is read when it is needed


def test_each_run_of_a_listing_gives_what_it_alone_would(tideflow_root: Path) -> None:
    """Beyond the first window, and with runs that failed, are running, or ended without
    an end task, each run's data, end task and finished state are what ``Run`` reads."""
    blobs = blob_store(tideflow_root)
    with metadata_store(tideflow_root) as store:
        for number in range(150):
            if number % 50 == 7:
                store.finish_run(FLOW, new_run(store).run_id, "failed")
            elif number % 50 == 9:
                start_end(store, new_run(store))  # still running, in its end step
            else:
                finished_run(store, blobs, number)
    listed = [(run.data, run.end_task, run.finished, run.successful) for run in Flow(FLOW)]
    for run, (data, end, finished, successful) in zip(Flow(FLOW), listed, strict=True):
        alone = Run(run.pathspec)
        assert (finished, successful) == (alone.finished, alone.successful)
        assert (end is None) == (alone.end_task is None)
        assert (data is None) == (alone.data is None)
        if data is not None:
            assert dict(vars(data)) == dict(vars(alone.data))


def test_a_running_run_of_a_listing_is_read_again(tideflow_root: Path) -> None:
    """A run that was running when its listing read its end task shows the end task's
    artifacts once it has stored them: the listing's view of it is not kept."""
    blobs = blob_store(tideflow_root)
    with metadata_store(tideflow_root) as store:
        before = finished_run(store, blobs, "before")
        running = new_run(store)
        start_end(store, running)
        [first, second] = Flow(FLOW)
        assert first.id == running.run_id
        assert second.data.x == "before"  # type: ignore[union-attr]
        assert first.data is not None and "x" not in first.data
        assert not first.finished and first.status == "running"
        handle = first._node.handle
        assert (FLOW, running.run_id) not in handle.ended
        assert (FLOW, before.run_id) in handle.ended

        finish_end(store, blobs, running, "after")
        assert first.data is not None and first.data.x == "after"
        assert first.finished and first.successful
        assert Run(first.pathspec).data.x == "after"  # type: ignore[union-attr]
        assert (FLOW, running.run_id) in handle.ended


def test_a_running_run_read_on_its_own_is_read_again(tideflow_root: Path) -> None:
    blobs = blob_store(tideflow_root)
    with metadata_store(tideflow_root) as store:
        run = new_run(store)
        start_end(store, run)
        pathspec = f"{FLOW}/{run.run_id}"
        seen = Run(pathspec)
        assert seen.data is not None and "x" not in seen.data
        assert Run(pathspec).data is not None and "x" not in Run(pathspec).data
        finish_end(store, blobs, run, 3)
        assert seen.data is not None and seen.data.x == 3
        assert Run(pathspec).data.x == 3  # type: ignore[union-attr]


def test_an_ended_run_read_again_needs_no_metadata_read(tideflow_root: Path) -> None:
    """A second ``Run(pathspec)`` of an ended run has its data without reading the
    metadata store (in a namespace that is one of its system tags)."""
    with metadata_store(tideflow_root) as store:
        run = finished_run(store, blob_store(tideflow_root), 5)
    pathspec = f"{FLOW}/{run.run_id}"
    first = Run(pathspec)
    assert first.data.x == 5  # type: ignore[union-attr]
    first._node.handle.metadata.close()
    again = Run(pathspec)
    assert again.data.x == 5  # type: ignore[union-attr]
    assert again.successful and again.finished and again.system_tags == first.system_tags
    with pytest.raises(RuntimeError, match=r"is closed"):
        again.user_tags  # noqa: B018 - the user tags are read when asked for


def test_an_ended_run_read_again_has_its_tags_as_they_are_now(tideflow_root: Path) -> None:
    """User tags are what changes in an ended run: a later ``Run`` sees another
    client's edits, and its namespace check too."""
    with metadata_store(tideflow_root) as store:
        run = finished_run(store, blob_store(tideflow_root), 5)
        pathspec = f"{FLOW}/{run.run_id}"
        assert Run(pathspec).data.x == 5  # type: ignore[union-attr]
        assert Run(pathspec).user_tags == frozenset()
        store.add_tags(FLOW, run.run_id, ["blue"])  # another client, as another process
        assert Run(pathspec).user_tags == frozenset({"blue"})
        assert "blue" in Run(pathspec).tags
        namespace("blue")
        assert Run(pathspec).data.x == 5  # type: ignore[union-attr]
        store.remove_tags(FLOW, run.run_id, ["blue"])
        with pytest.raises(NamespaceMismatch, match=r"^Run '.*' is not in the current namespace"):
            Run(pathspec)
        namespace(None)
        assert Run(pathspec).user_tags == frozenset()


async def test_the_async_client_reads_a_listing_together(tideflow_root: Path) -> None:
    blobs = blob_store(tideflow_root)
    with metadata_store(tideflow_root) as store:
        for number in range(30):
            finished_run(store, blobs, number)
    flow = await AsyncFlow(FLOW)
    values = [(await run.fetch_data()).x async for run in flow.runs()]
    assert values == list(range(29, -1, -1))


def _view(run_id: str, status: str = "failed", artifacts: int = 0) -> RunView:
    run = RunRecord(flow="F", run_id=run_id, user="u", status=status, created_at=0)
    if not artifacts:
        return RunView(run=run, newest=None)
    key = {"flow": "F", "run_id": run_id, "step": "end", "task_id": "1"}
    files = tuple(
        ArtifactRecord(**key, attempt=0, name=f"a{n}", sha="0" * 64, size=1, created_at=0)
        for n in range(artifacts)
    )
    task = TaskRecord(**key, created_at=0)
    step = StepRecord(flow="F", run_id=run_id, step="end", created_at=0)
    return RunView(run=run, newest=TaskView(step=step, task=task, attempt=None, artifacts=files))


def test_ended_runs_keeps_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EndedRuns, "LIMIT", 2)
    ended = EndedRuns()
    views = [_view(str(n)) for n in range(3)]
    ended.keep(views[0])
    ended.keep(views[1])
    assert ended.get("F", "0") is views[0]  # now the most recently used
    ended.keep(views[2])
    assert (len(ended), ("F", "0") in ended, ("F", "1") in ended) == (2, True, False)
    with pytest.raises(ValueError, match=r"^Run 'F/9' is running: its view may change\.$"):
        ended.keep(_view("9", status="running"))
    assert ("F", "9") not in ended


def test_ended_runs_keeps_a_bounded_number_of_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Views holding many artifacts are forgotten sooner; one view is kept however big."""
    monkeypatch.setattr(EndedRuns, "ARTIFACT_LIMIT", 10)
    ended = EndedRuns()
    ended.keep(_view("1", artifacts=4))
    ended.keep(_view("2", artifacts=4))
    ended.keep(_view("2", artifacts=4))  # the same run again counts once
    assert len(ended) == 2
    ended.keep(_view("3", artifacts=4))
    assert (("F", "1") in ended, len(ended)) == (False, 2)
    ended.keep(_view("4", artifacts=30))
    assert (("F", "4") in ended, len(ended)) == (True, 1)
    ended.keep(_view("5"))
    assert (("F", "4") in ended, ("F", "5") in ended) == (False, True)


def _keep_in_child(ended: EndedRuns) -> None:
    ended.keep(_view("2"))
    os._exit(0 if ended.get("F", "2") is not None and ("F", "1") in ended else 1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_ended_runs_work_in_a_child_forked_while_their_lock_was_held() -> None:
    """Another thread of the parent may hold the lock at the moment of the fork: the
    child, which has no such thread, uses a lock of its own."""
    ended = EndedRuns()
    ended.keep(_view("1"))
    with ended._lock:
        assert run_forked([(_keep_in_child, (ended,))]) == [0]
