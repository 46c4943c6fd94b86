"""What every metadata backend does on the reads the client makes most: one query each,
and reads of a store with no tables yet, which create nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from test_metadata_store import T0, artifact, new_attempt, new_run, new_task, task_key

from tideflow._exceptions import NotFound
from tideflow._metadata._lookups import VIEWS_PER_STATEMENT
from tideflow._metadata._records import StepRecord

if TYPE_CHECKING:
    from tideflow._metadata._records import RunRecord
    from tideflow._stores._interfaces import MetadataStore


def test_newest_task_answers_with_its_latest_attempt_and_artifacts(
    metadata: MetadataStore,
) -> None:
    run = new_run(metadata)
    assert metadata.newest_task("F", run.run_id, "end") is None
    older = new_task(metadata, run, step="end", task_id="1", created_at=T0)
    view = metadata.newest_task("F", run.run_id, "end")
    assert view is not None
    assert (view.task, view.attempt, view.artifacts) == (older, None, ())
    assert view.step.pathspec == f"F/{run.run_id}/end"
    assert view.step == metadata.list_steps("F", run.run_id)[0]

    task = new_task(metadata, run, step="end", task_id="2", created_at=T0 + 1)
    new_attempt(metadata, task, attempt=0)
    metadata.add_artifacts([artifact(task, "stale", attempt=0)])
    new_attempt(metadata, task, attempt=1)
    metadata.record_task_end(
        **dict(zip(("flow", "run_id", "step", "task_id"), task_key(task), strict=True)),
        attempt=1,
        state="succeeded",
        artifacts=[artifact(task, "x", attempt=1), artifact(task, "b", attempt=1)],
    )
    view = metadata.newest_task("F", run.run_id, "end")
    assert view is not None
    assert view.task == task
    assert view.attempt == metadata.latest_attempt(*task_key(task))
    assert view.attempt is not None and view.attempt.state == "succeeded"
    assert view.artifacts == tuple(metadata.list_artifacts(*task_key(task), 1))
    assert [a.name for a in view.artifacts] == ["b", "x"]


def test_newest_task_of_what_does_not_exist_is_none(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    new_task(metadata, run)
    assert metadata.newest_task("F", run.run_id, "nope") is None
    assert metadata.newest_task("F", str(int(run.run_id) + 1), "start") is None
    assert metadata.newest_task("G", run.run_id, "start") is None
    with pytest.raises(NotFound):
        metadata.newest_task("F", "not-a-run", "start")


def test_get_run_view_answers_the_run_and_its_newest_task_together(
    metadata: MetadataStore,
) -> None:
    run = new_run(metadata)
    view = metadata.get_run_view("F", run.run_id, "end")
    assert (view.run, view.newest) == (metadata.get_run("F", run.run_id), None)
    metadata.add_step(StepRecord(flow="F", run_id=run.run_id, step="end", created_at=T0))
    assert metadata.get_run_view("F", run.run_id, "end").newest is None
    task = new_task(metadata, run, step="end", task_id="1", created_at=T0)
    new_attempt(metadata, task, attempt=0)
    metadata.record_task_end(
        **dict(zip(("flow", "run_id", "step", "task_id"), task_key(task), strict=True)),
        attempt=0,
        state="succeeded",
        artifacts=[artifact(task, "x", attempt=0), artifact(task, "b", attempt=0)],
    )
    metadata.add_tags("F", run.run_id, ["mine"])
    view = metadata.get_run_view("F", run.run_id, "end")
    assert view.run == metadata.get_run("F", run.run_id)
    assert view.run.user_tags == ("mine",)
    assert view.newest == metadata.newest_task("F", run.run_id, "end")
    assert view.newest is not None and [a.name for a in view.newest.artifacts] == ["b", "x"]
    assert metadata.get_run_view("F", run.run_id, "start").newest is None


def test_get_run_view_of_a_missing_run_is_not_found(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    for flow, run_id in (("F", str(int(run.run_id) + 1)), ("G", run.run_id), ("F", "x")):
        with pytest.raises(NotFound, match=rf"^Run '{flow}/{run_id}' does not exist$"):
            metadata.get_run_view(flow, run_id, "end")


def _end_task(metadata: MetadataStore, run: RunRecord, names: list[str]) -> None:
    """Give ``run`` a finished ``end`` task whose one attempt stored ``names``."""
    task = new_task(metadata, run, step="end", task_id="1", created_at=T0)
    new_attempt(metadata, task, attempt=0)
    metadata.record_task_end(
        **dict(zip(("flow", "run_id", "step", "task_id"), task_key(task), strict=True)),
        attempt=0,
        state="succeeded",
        artifacts=[artifact(task, name, attempt=0) for name in names],
    )


def test_get_run_views_answers_each_run_as_get_run_view_does(metadata: MetadataStore) -> None:
    """Runs with no end step, an end step without a task, a task without an attempt and
    a finished end task with several artifacts, in one call, in the order asked."""
    bare, stepped, unstarted, done, other = (new_run(metadata) for _ in range(5))
    metadata.add_step(StepRecord(flow="F", run_id=stepped.run_id, step="end", created_at=T0))
    new_task(metadata, unstarted, step="end", task_id="1", created_at=T0)
    _end_task(metadata, done, ["x", "b", "c"])
    _end_task(metadata, other, ["y"])
    metadata.add_tags("F", done.run_id, ["mine"])
    asked = [done.run_id, bare.run_id, unstarted.run_id, stepped.run_id, other.run_id]
    views = metadata.get_run_views("F", asked, "end")
    assert views == [metadata.get_run_view("F", run_id, "end") for run_id in asked]
    assert [v.run.run_id for v in views] == asked
    assert views[0].run.user_tags == ("mine",)
    assert views[0].newest is not None
    assert [a.name for a in views[0].newest.artifacts] == ["b", "c", "x"]
    assert views[2].newest is not None and views[2].newest.attempt is None
    assert (views[1].newest, views[3].newest) == (None, None)
    assert metadata.get_run_views("F", asked, "start") == [
        metadata.get_run_view("F", run_id, "start") for run_id in asked
    ]


def test_get_run_views_leaves_out_what_is_not_a_run(metadata: MetadataStore) -> None:
    one, two = new_run(metadata), new_run(metadata)
    missing = str(int(two.run_id) + 1)
    asked = [two.run_id, missing, "x", "", "0" + one.run_id, one.run_id, two.run_id]
    views = metadata.get_run_views("F", asked, "end")
    assert [v.run for v in views] == [metadata.get_run("F", r) for r in (two.run_id, one.run_id)]
    assert metadata.get_run_views("G", [one.run_id], "end") == []
    assert metadata.get_run_views("F", [], "end") == []


def test_get_run_views_reads_more_runs_than_one_statement_holds(
    metadata: MetadataStore,
) -> None:
    runs = [new_run(metadata, now=T0 + i) for i in range(VIEWS_PER_STATEMENT + 5)]
    _end_task(metadata, runs[-1], ["x"])
    asked = [run.run_id for run in reversed(runs)]
    views = metadata.get_run_views("F", asked, "end")
    assert [v.run.run_id for v in views] == asked
    assert views[0].newest is not None and [a.name for a in views[0].newest.artifacts] == ["x"]
    assert all(v.newest is None for v in views[1:])


def test_reads_of_a_new_store_find_nothing_and_create_nothing(metadata: MetadataStore) -> None:
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.get_run("F", "1")
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.get_run_view("F", "1", "end")
    with pytest.raises(NotFound, match=r"^Run 'F/1' does not exist$"):
        metadata.list_steps("F", "1")
    with pytest.raises(NotFound, match=r"^Step 'F/1/start' does not exist$"):
        metadata.list_tasks("F", "1", "start")
    with pytest.raises(NotFound):
        metadata.list_attempts("F", "1", "start", "1")
    assert metadata.newest_task("F", "1", "end") is None
    assert metadata.get_run_views("F", ["1"], "end") == []
    assert metadata.list_artifacts("F", "1", "start", "1", 0) == []
    assert metadata.list_metadata("F", "1", "start", "1") == []
    assert metadata.latest_run("F", ["user:alice"], successful=True) is None
    assert metadata.child_tasks("F", "1", "F/1/start/1") == []
    assert metadata.latest_attempts("F", "1", "start") == []
    assert metadata.flow_created_at("F") is None
    assert metadata.mark_runs_crashed(None, lambda run: True) == []
    assert not metadata.exists()


def test_names_with_a_lone_surrogate_cannot_be_written(metadata: MetadataStore) -> None:
    """A write of a name that is not valid text is refused the same way by every backend,
    and leaves nothing behind."""
    bad = "x\udcff"
    with pytest.raises(ValueError, match=r"is not valid text \(it holds a lone surrogate\)"):
        new_run(metadata, flow=bad)
    run = new_run(metadata)
    with pytest.raises(ValueError, match=r"lone surrogate"):
        metadata.add_tags("F", run.run_id, [bad])
    with pytest.raises(ValueError, match=r"lone surrogate"):
        new_task(metadata, run, step=bad)
    assert metadata.list_flows() == ["F"]
    assert metadata.get_run("F", run.run_id).user_tags == ()
    assert metadata.list_steps("F", run.run_id) == []
