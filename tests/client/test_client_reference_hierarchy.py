"""The examples of the reference page on the object hierarchy, with the flow names adapted.

``MyFlow`` and ``GridSearchFlow`` become ``ClientTrainFlow`` (its ``train_model`` step is a
foreach); ``DebugFlow`` becomes ``HelloFlow``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from tideflow import Flow, Run, Step, Task

if TYPE_CHECKING:
    from conftest import ClientRuns


def test_flow(client_runs: ClientRuns) -> None:
    """``Flow('MyFlow')``: its latest run, its runs and its name."""
    flow = Flow("ClientTrainFlow")
    assert flow.latest_run == Run(client_runs.train)
    assert list(flow.runs) == [Run(client_runs.train)]
    assert flow.name == "ClientTrainFlow" == flow.id == flow.pathspec
    assert flow.parent is None
    assert flow.tags == frozenset() and flow.origin_pathspec is None
    assert isinstance(flow.created_at, datetime)


def test_run(client_runs: ClientRuns) -> None:
    """``Flow('MyFlow').latest_run``: id, steps, successful, created_at, tags."""
    run = Flow("ClientTrainFlow").latest_run
    assert run is not None
    assert run.id == client_runs.train.split("/")[1]
    assert run.steps["start"] == run["start"]
    assert [step.id for step in run.steps] == ["end", "join", "train_model", "start"]
    assert run.successful
    assert isinstance(run.created_at, datetime)
    assert run.user_tags == {"prod", "v1"} and "user:tester" in run.system_tags


def test_loop_through_runs(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """``for run in Flow('MyFlow').runs(): print(run.id, run.successful)``."""
    for run in Flow("ClientTrainFlow").runs():
        print(run.id, run.successful)

    assert capsys.readouterr().out == f"{client_runs.train.split('/')[1]} True\n"


def test_step(client_runs: ClientRuns) -> None:
    """``run['train']``: name, tasks (several for a foreach), successful."""
    run = Flow("ClientTrainFlow").latest_run
    assert run is not None
    step = run["train_model"]
    assert step.name == "train_model"
    assert len(step.tasks) == 3
    assert sorted(task.index for task in step.tasks()) == [0, 1, 2]
    assert step.successful


def test_task(client_runs: ClientRuns) -> None:
    """``step.task`` (or ``step.tasks[0]``): attempt, finished, logs, tags, metadata."""
    run = Flow("ClientTrainFlow").latest_run
    assert run is not None
    step = run["train_model"]
    task = step.task
    assert task == step.tasks[0]
    assert task.attempt == 0
    assert task.finished
    assert task.stdout == f"training {task.index + 1}\n"  # type: ignore[operator]
    assert task.stderr == f"warning {task.index + 1}\n"  # type: ignore[operator]
    assert task.tags == run.tags
    assert task.metadata
    assert task.data.result == (task.index + 1) * 10  # type: ignore[operator]


def test_artifact(client_runs: ClientRuns) -> None:
    """``acc = task.data.accuracy``."""
    task = Flow("ClientTrainFlow").latest_run["train_model"].task  # type: ignore[index]
    acc = task.data.accuracy  # type: ignore[union-attr]
    assert acc == pytest.approx(0.5 + (task.index + 1) / 10)  # type: ignore[union-attr, operator]


def test_traversing_the_object_tree(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """The traversal example, as written: ``for task in step.tasks``."""
    flow = Flow("ClientTrainFlow")
    run = flow.latest_run
    step = run["train_model"]  # type: ignore[index]  # Step where training occurred
    for task in step.tasks:
        result = task.data.result
        print(result)

    assert sorted(capsys.readouterr().out.split()) == ["10", "20", "30"]


def test_common_properties(client_runs: ClientRuns) -> None:
    """pathspec and path_components agree on every level; parents go one level up."""
    task = Run(client_runs.train)["start"].task
    assert task is not None
    objects = [task, task.parent, task.parent.parent, task.parent.parent.parent]
    assert [type(o).__name__ for o in objects] == ["Task", "Step", "Run", "Flow"]
    for obj in objects:
        assert obj.path_components == obj.pathspec.split("/")
    assert objects[0].parent.pathspec == "/".join(task.path_components[:3])


def test_flow_level(client_runs: ClientRuns) -> None:
    """latest_run is the newest run; latest_successful_run the newest successful one."""
    assert Flow("ClientFailFlow").latest_run == Run(client_runs.fail)
    assert Flow("ClientFailFlow").latest_successful_run is None
    assert Flow("ClientTrainFlow").latest_successful_run == Run(client_runs.train)


def test_run_level(client_runs: ClientRuns) -> None:
    """``run.data`` is the end task's data, so ``run.data.x == run.end_task.data.x``."""
    run = Run(client_runs.train)
    assert run.end_task is not None
    assert run.data.result == run.end_task.data.result == 60  # type: ignore[union-attr]
    assert run.data.results == [10, 20, 30]  # type: ignore[union-attr]
    assert run.finished and run.finished_at is not None


def test_step_level(client_runs: ClientRuns) -> None:
    """A step finished when its last task did."""
    step = Run(client_runs.train)["train_model"]
    assert step.finished_at == max(task.finished_at for task in step)  # type: ignore[type-var]
    assert step.environment_info["runtime"] == "dev"


def test_minimal_working_example(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's example, on the HelloFlow run (``DebugFlow/2/start`` there)."""
    step = Step(f"{client_runs.hello}/start")  # format: FlowName/RunID/StepName
    if step.task.successful:  # type: ignore[union-attr]
        print("Finished at:", step.task.finished_at)  # type: ignore[union-attr]
        print("Stdout:")
        print(step.task.stdout)  # type: ignore[union-attr]
        print("Artifacts:", list(step.task.data.__dict__.keys()))  # type: ignore[union-attr]

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Finished at: 20")
    assert out[1:] == ["Stdout:", "", "Artifacts: ['message']"]


def test_pathspec_fetches_any_object(client_runs: ClientRuns) -> None:
    """Any object can be fetched directly from its pathspec."""
    task = Run(client_runs.train)["start"].task
    assert task is not None
    assert Task(task.pathspec) == task
    assert Step(task.parent.pathspec) == task.parent
    assert Run(client_runs.train)["start"]["1"] == Task(f"{client_runs.train}/start/1")
