"""Every usage example of the reference page on ``Task``, with the flow names adapted."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tideflow import DataArtifact, Run, Step, Task
from tideflow.client import Metadata, TaskException

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientRuns


def train_task(runs: ClientRuns, index: int = 1) -> Task:
    """The ``train_model`` task of the ``train`` run at foreach ``index``."""
    return next(t for t in Run(runs.train)["train_model"] if t.index == index)


def test_access_task_data(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """A successful task prints its finish time and two artifacts."""
    task = Task(train_task(client_runs).pathspec)

    if task.successful:
        print(f"Task finished at: {task.finished_at}")
        print(f"Result: {task.data.result}")
        print(f"Model accuracy: {task.data.accuracy}")
    else:
        if task.exception:
            print(f"Task failed with: {task.exception}")

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Task finished at: 20")
    assert out[1:] == ["Result: 20", "Model accuracy: 0.7"]


def test_access_task_data_of_a_failed_task(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed task prints what it raised."""
    task = Task(f"{client_runs.fail}/start/1")

    if task.successful:
        print(f"Task finished at: {task.finished_at}")
    else:
        if task.exception:
            print(f"Task failed with: {task.exception}")

    assert capsys.readouterr().out == "Task failed with: RuntimeError: boom\n"
    exception = task.exception
    assert isinstance(exception, TaskException)
    assert (exception.type, exception.message) == ("builtins.RuntimeError", "boom")
    assert (exception.exception, exception.stacktrace) == ("boom", exception.traceback)
    assert exception.traceback.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError("boom")' in exception.traceback
    assert task.finished and not task.successful and task.finished_at is not None


def test_iterate_over_artifacts(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """Iterating a task gives its artifacts (parameters included), by name."""
    task = Task(train_task(client_runs).pathspec)

    for artifact in task:
        print(f"Artifact: {artifact.id}")
        print(f"  Size: {artifact.size} bytes")
        print(f"  SHA: {artifact.sha}")

    out = capsys.readouterr().out.splitlines()
    assert out[::3] == [
        f"Artifact: {name}" for name in ("accuracy", "alpha", "model", "params", "result")
    ]
    assert all(re.fullmatch(r"  Size: \d+ bytes", line) for line in out[1::3])
    assert all(re.fullmatch(r"  SHA: [0-9a-f]{64}", line) for line in out[2::3])


def test_access_specific_artifact(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """``task['model']`` is a DataArtifact with a sha and a value."""
    task = Task(train_task(client_runs).pathspec)
    model_artifact = task["model"]

    print(f"Model SHA: {model_artifact.sha}")
    model = model_artifact.data

    assert isinstance(model_artifact, DataArtifact)
    assert re.fullmatch(r"Model SHA: [0-9a-f]{64}\n", capsys.readouterr().out)
    assert model == {"weight": 1.0}
    assert model_artifact.pathspec == f"{task.pathspec}/model"
    assert model_artifact.id == "model"
    assert model_artifact.parent == task
    assert model_artifact.created_at == model_artifact.finished_at
    assert model_artifact.size > 0
    assert model_artifact.tags == task.tags
    assert DataArtifact(model_artifact.pathspec).data == model


def test_view_task_logs(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """stdout, stderr and timestamped log lines of a task."""
    task = Task(train_task(client_runs).pathspec)

    # Print stdout
    print("STDOUT:")
    print(task.stdout)

    # Print stderr
    print("STDERR:")
    print(task.stderr)

    # Iterate over log lines with timestamps
    for timestamp, line in task.loglines("stdout"):
        print(f"[{timestamp}] {line}")

    out = capsys.readouterr().out.splitlines()
    assert out[:6] == ["STDOUT:", "training 2", "", "STDERR:", "warning 2", ""]
    assert re.fullmatch(r"\[20\d\d-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00\] training 2", out[6])
    assert len(out) == 7
    assert task.stdout_size == len(b"training 2\n")
    assert task.stderr_size == len(b"warning 2\n")
    ((stamp, raw),) = task.loglines("stderr", as_unicode=False, meta_dict={})
    assert raw == b"warning 2"
    assert stamp.tzinfo is UTC and task.created_at < stamp < datetime.now(UTC)


def test_access_specific_attempt(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """attempt=0 gives the failed first attempt's stdout; without it, the latest attempt."""
    pathspec = f"{client_runs.retry}/start/1"

    # Access first attempt
    task_attempt_0 = Task(pathspec, attempt=0)
    print(f"First attempt stdout: {task_attempt_0.stdout}")

    # Access latest attempt (default)
    task_latest = Task(pathspec)
    print(f"Latest attempt: {task_latest.current_attempt}")

    assert capsys.readouterr().out == "First attempt stdout: attempt 0\n\nLatest attempt: 1\n"


def test_parent_and_child_tasks_of_a_join(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """A join's parents are the foreach tasks (with their index); its child is ``end``."""
    task = Task(Run(client_runs.train)["join"].task.pathspec)  # type: ignore[union-attr]

    print("Parent tasks:")
    for parent in task.parent_tasks:
        print(f"  {parent.pathspec}")
        print(f"    Index: {parent.index}")

    print("Child tasks:")
    for child in task.child_tasks:
        print(f"  {child.pathspec}")

    out = capsys.readouterr().out.splitlines()
    prefix = f"  {client_runs.train}/train_model/"
    assert out[0] == "Parent tasks:"
    assert [line.startswith(prefix) for line in out[1:7:2]] == [True] * 3
    assert out[2:7:2] == ["    Index: 0", "    Index: 1", "    Index: 2"]
    assert out[7] == "Child tasks:"
    assert re.fullmatch(rf"  {client_runs.train}/end/\d+", out[8])
    assert len(out) == 9


def test_access_code_and_environment(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """No code package; the environment names the runtime, Python and executor."""
    task = Task(train_task(client_runs).pathspec)

    if task.code:
        print(f"Code package: {task.code.path}")

    if task.environment_info:
        print(f"Environment: {task.environment_info}")

    print(f"Runtime: {task.runtime_name}")

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Environment: {")
    assert out[1] == "Runtime: dev"
    assert task.code is None
    info = task.environment_info
    assert info["runtime"] == "dev"
    assert info["python_version"] == platform.python_version()
    assert info["executor"]
    assert Step(task.parent.pathspec).environment_info == info


def test_access_metadata(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """Metadata events name-value pairs; ``ds-root`` is the store folder."""
    task = Task(train_task(client_runs).pathspec)

    # Get all metadata
    for meta in task.metadata:
        print(f"{meta.name}: {meta.value}")

    # Get condensed metadata dict
    ds_root = task.metadata_dict.get("ds-root")
    print(f"Datastore root: {ds_root}")

    out = capsys.readouterr().out.splitlines()
    assert "attempt: 0" in out and "runtime: dev" in out
    assert out[-1] == f"Datastore root: {client_runs.root}"
    assert task.metadata_dict["python_version"] == platform.python_version()
    assert "python-version" not in task.metadata_dict, "the reference's name only"
    meta = task.metadata[0]
    assert isinstance(meta, Metadata) and meta.task == task
    assert meta.created_at.tzinfo is UTC


def test_check_foreach_index(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """A foreach task has an index; a task outside a foreach has none."""
    for pathspec in (train_task(client_runs, 2).pathspec, f"{client_runs.train}/start/1"):
        task = Task(pathspec)

        if task.index is not None:
            print(f"Task is in a foreach with index: {task.index}")
        else:
            print("Task is not in a foreach")

    assert capsys.readouterr().out == (
        "Task is in a foreach with index: 2\nTask is not in a foreach\n"
    )


def test_properties(client_runs: ClientRuns) -> None:
    """The properties the page lists, on a finished task."""
    task = train_task(client_runs)
    flow, run_id = client_runs.train.split("/")
    assert task.path_components == [flow, run_id, "train_model", task.id]
    assert task.parent == Step(f"{client_runs.train}/train_model")
    assert task.current_attempt == 0 == task.attempt
    assert task.finished and task.successful and task.exception is None
    assert task.tags == Run(client_runs.train).tags
    assert task.user_tags == {"prod", "v1"}
    assert task.origin_pathspec is None
    assert task.runtime_name == "dev"
    assert list(task.parent_task_pathspecs) == [f"{client_runs.train}/start/1"]
    assert [t.pathspec for t in task.child_tasks] == list(task.child_task_pathspecs)
    assert "model" in task and "nope" not in task
    assert task.artifacts.model.data == {"weight": 1.0}
    assert [a.id for a in task.artifacts] == [a.id for a in task]
    assert "model" in task.artifacts and len(task.artifacts) == 5


def test_data(client_runs: ClientRuns) -> None:
    """``task.data`` reads values by attribute; a missing name raises AttributeError."""
    data = Task(train_task(client_runs).pathspec).data
    assert (data.result, data.alpha, data.params) == (20, 0.5, [1, 2, 3])
    assert "result" in data and "nope" not in data
    assert list(data) == ["accuracy", "alpha", "model", "params", "result"]
    assert vars(data)["model"] == {"weight": 1.0}
    assert "result" in dir(data)
    with pytest.raises(
        AttributeError,
        match=r"^Task '[^']+/train_model/\d+' has no artifact 'nope'\. Its artifacts are: "
        r"accuracy, alpha, model, params, result\.$",
    ):
        data.nope  # noqa: B018


def test_an_older_run_named_the_python_version_otherwise(tideflow_root: Path) -> None:
    """Runs written before the metadata name followed the reference stored
    ``python-version``: the client still gives it, under both names."""
    import time

    from stored_runs import metadata_store
    from tideflow._metadata._records import AttemptRecord, MetadataRecord, TaskRecord

    now = time.time()
    with metadata_store(tideflow_root) as store:
        run = store.create_run("OldFlow", user="tester", system_tags=["user:tester"])
        key = {"flow": "OldFlow", "run_id": run.run_id, "step": "start", "task_id": "1"}
        store.add_task(TaskRecord(**key, created_at=now))
        store.start_attempt(AttemptRecord(**key, attempt=0, state="running", started_at=now))
        store.add_metadata(
            [
                MetadataRecord(**key, attempt=0, name=name, value=value, type=name, created_at=now)
                for name, value in (("python-version", "3.11.2"), ("executor", "fork"))
            ]
        )
        store.finish_run("OldFlow", run.run_id, "succeeded")
    task = Task(f"OldFlow/{run.run_id}/start/1")
    assert task.metadata_dict["python_version"] == "3.11.2"
    assert task.metadata_dict["python-version"] == "3.11.2"
    assert task.environment_info["python_version"] == "3.11.2"
