"""Tasks beyond the reference page's examples: attempts, failures, foreach and family."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tideflow import DataArtifact, Run, Step, Task
from tideflow.exception import NotFound

if TYPE_CHECKING:
    from conftest import ClientRuns


def test_attempts_after_a_retry(client_runs: ClientRuns) -> None:
    """@retry: attempt 0 failed and attempt 1 succeeded; each has its own status, logs,
    artifacts and metadata, and the default is the latest attempt."""
    pathspec = f"{client_runs.retry}/start/1"
    first, second, latest = Task(pathspec, attempt=0), Task(pathspec, attempt=1), Task(pathspec)

    assert (first.current_attempt, second.current_attempt, latest.current_attempt) == (0, 1, 1)
    assert latest == Task(pathspec) and latest != second
    assert first.finished and not first.successful
    assert str(first.exception) == "ValueError: the first attempt fails"
    assert second.successful and second.exception is None
    assert latest.successful and latest.data.attempt_seen == 1
    assert first.stdout == "attempt 0\n" and second.stdout == latest.stdout == "attempt 1\n"
    assert "ValueError: the first attempt fails" in first.stderr
    assert list(first.data) == [] and "attempt_seen" not in first
    assert [a.id for a in second] == ["attempt_seen"]
    assert first.metadata_dict["attempt"] == "0" and first.metadata_dict["attempt-ok"] == "False"
    assert latest.metadata_dict["attempt"] == "1" and latest.metadata_dict["attempt-ok"] == "True"
    assert {m.value for m in latest.metadata if m.name == "attempt"} == {"0", "1"}
    assert {m.value for m in first.metadata if m.name == "attempt"} == {"0"}
    assert first.finished_at is not None and second.finished_at is not None
    assert first.finished_at < second.finished_at
    assert DataArtifact(f"{pathspec}/attempt_seen", attempt=1).data == 1
    assert repr(first) == f"Task('{pathspec}', attempt=0)"
    assert Run(client_runs.retry).successful


def test_a_missing_attempt(client_runs: ClientRuns) -> None:
    """An attempt that never started is not found; the message says which exist."""
    pathspec = f"{client_runs.retry}/start/1"
    with pytest.raises(
        NotFound,
        match=rf"^Attempt 2 of task '{re.escape(pathspec)}' does not exist; it has attempts 0 "
        r"to 1$",
    ):
        Task(pathspec, attempt=2)
    with pytest.raises(
        NotFound, match=r"^Artifact '.+/attempt_seen' does not exist at attempt 0$"
    ):
        DataArtifact(f"{pathspec}/attempt_seen", attempt=0)
    with pytest.raises(ValueError, match=r"^attempt must be None or an integer >= 0; got -1\.$"):
        Task(pathspec, attempt=-1)


def test_foreach_index(client_runs: ClientRuns) -> None:
    """Each foreach task has its index; the others have none."""
    run = Run(client_runs.train)
    assert sorted(t.index for t in run["train_model"]) == [0, 1, 2]  # type: ignore[type-var]
    assert {t.data.result: t.index for t in run["train_model"]} == {10: 0, 20: 1, 30: 2}
    for name in ("start", "join", "end"):
        assert run[name].task.index is None  # type: ignore[union-attr]


def test_parents_and_children_across_a_foreach_and_a_join(client_runs: ClientRuns) -> None:
    """start -> 3 x train_model -> join -> end, seen from both sides of each edge."""
    run = Run(client_runs.train)
    start, join, end = (run[name].task for name in ("start", "join", "end"))
    assert start is not None and join is not None and end is not None
    bodies = list(run["train_model"])

    assert list(start.parent_tasks) == []
    assert sorted(t.pathspec for t in start.child_tasks) == sorted(t.pathspec for t in bodies)
    for body in bodies:
        assert list(body.parent_tasks) == [start]
        assert list(body.child_tasks) == [join]
    assert sorted(t.index for t in join.parent_tasks) == [0, 1, 2]  # type: ignore[type-var]
    assert list(join.parent_task_pathspecs) == [
        t.pathspec
        for t in sorted(bodies, key=lambda t: t.index)  # type: ignore[arg-type, return-value]
    ]
    assert list(join.child_tasks) == [end]
    assert list(end.parent_tasks) == [join]
    assert list(end.child_tasks) == [] and list(end.child_task_pathspecs) == []


def test_step_summary(client_runs: ClientRuns) -> None:
    """A failed step is finished but not successful; its task is the one that failed."""
    step = Step(f"{client_runs.fail}/start")
    assert not step.successful
    assert step.finished_at is not None
    assert step.task is not None and step.task.exception is not None
    assert list(Run(client_runs.fail)) == [step]
    assert Step(f"{client_runs.retry}/start").successful


def test_failed_task_keeps_what_it_set(client_runs: ClientRuns) -> None:
    """A task that raised keeps the artifacts it set before, as the reference does."""
    task = Task(f"{client_runs.fail}/start/1")
    assert task.data.before == "set before the failure"
    with pytest.raises(
        AttributeError, match=r"^Task '.+' has no artifact 'after'\. Its artifacts are: before\.$"
    ):
        task.data.after  # noqa: B018


def test_origin_pathspecs_after_a_resume(client_runs: ClientRuns) -> None:
    """A resumed run names its origin; cloned steps, tasks and artifacts name theirs, and
    re-run ones have none."""
    run = Run(client_runs.resumed)
    assert run.origin_pathspec == client_runs.retry
    start, end = run["start"], run["end"]
    assert start.origin_pathspec == f"{client_runs.retry}/start"
    assert end.origin_pathspec is None
    task = start.task
    assert task is not None and task.origin_pathspec == f"{client_runs.retry}/start/1"
    assert task["attempt_seen"].origin_pathspec == f"{client_runs.retry}/start/1/attempt_seen"
    assert task.data.attempt_seen == 1
    assert end.task is not None and end.task.origin_pathspec is None
    assert run.successful and Run(client_runs.retry).origin_pathspec is None
    assert Step(f"{client_runs.retry}/start").origin_pathspec is None


def test_a_bad_log_stream(client_runs: ClientRuns) -> None:
    """Only stdout and stderr exist."""
    task = Task(f"{client_runs.train}/start/1")
    with pytest.raises(
        ValueError, match=r"^Unknown log stream 'stdlog': use 'stdout' or 'stderr'\.$"
    ):
        task.loglines("stdlog")
