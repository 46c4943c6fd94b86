"""Every usage example of the reference page on ``Run``, with the flow names adapted.

Each test runs the example as written (``print`` included) and checks what it printed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tideflow import Flow, Run, Step

if TYPE_CHECKING:
    import pytest

    from conftest import ClientRuns


def test_access_run_data(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """A successful run prints when it finished and its ``end`` task's ``result``."""
    run = Run(client_runs.train)

    if run.successful:
        print(f"Run finished at: {run.finished_at}")
        print(f"Result: {run.data.result}")
    else:
        print("Run failed or is still running")

    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Run finished at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00", out[0])
    assert out[1] == "Result: 60"


def test_access_run_data_of_a_failed_run(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed run takes the ``else`` branch."""
    run = Run(client_runs.fail)

    if run.successful:
        print(f"Run finished at: {run.finished_at}")
        print(f"Result: {run.data.result}")
    else:
        print("Run failed or is still running")

    assert capsys.readouterr().out == "Run failed or is still running\n"


def test_iterate_over_steps(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """Iterating a run gives its steps, newest first, each with its finish time."""
    run = Run(client_runs.train)

    for step in run:
        print(f"Step: {step.id}")
        print(f"  Finished: {step.finished_at}")

    out = capsys.readouterr().out.splitlines()
    assert out[::2] == ["Step: end", "Step: join", "Step: train_model", "Step: start"]
    assert all(line.startswith("  Finished: 20") for line in out[1::2])


def test_access_specific_step(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """``run['start']`` is the start step; it finished before the end step."""
    run = Run(client_runs.train)
    start_step = run["start"]
    print(f"Start step finished at: {start_step.finished_at}")

    assert isinstance(start_step, Step)
    assert capsys.readouterr().out.startswith("Start step finished at: 20")
    assert start_step.finished_at is not None and run["end"].finished_at is not None
    assert start_step.finished_at < run["end"].finished_at <= run.finished_at  # type: ignore[operator]


def test_tag_management(
    tag_run: Run, client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adding, removing and replacing tags, as the page does it."""
    run = Run(client_runs.hello)

    # Add tags
    run.add_tag("production")
    run.add_tags(["v2", "verified"])

    # Remove tags
    run.remove_tag("staging")

    # Replace tags atomically
    run.replace_tag("old_version", "new_version")

    print(f"Current tags: {run.user_tags}")

    expected = {"production", "v2", "verified", "new_version"}
    assert run.user_tags == expected
    assert capsys.readouterr().out.startswith("Current tags: frozenset({")
    assert Run(client_runs.hello).user_tags == expected


def test_access_code_package(client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]) -> None:
    """Local runs have no code package, so the example prints nothing."""
    run = Run(client_runs.train)

    if run.code:
        print(f"Code path: {run.code.path}")

    assert run.code is None
    assert capsys.readouterr().out == ""


def test_check_trigger_information(
    client_runs: ClientRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run started by hand was not triggered by events."""
    run = Run(client_runs.train)

    if run.trigger:
        print(f"Run was triggered by events: {run.trigger}")
    else:
        print("Run was not triggered by events")

    assert capsys.readouterr().out == "Run was not triggered by events\n"


def test_properties(client_runs: ClientRuns) -> None:
    """The properties the page lists, on a finished run."""
    run = Run(client_runs.train)
    flow_name, run_id = client_runs.train.split("/")
    assert run.id == run_id
    assert run.pathspec == client_runs.train
    assert run.path_components == [flow_name, run_id]
    assert run.parent == Flow(flow_name)
    assert run.successful and run.finished
    assert run.end_task is not None and run.end_task.pathspec.startswith(
        f"{client_runs.train}/end/"
    )
    assert run.created_at.tzinfo is UTC and run.created_at < datetime.now(UTC)
    assert run.finished_at is not None and run.created_at < run.finished_at
    assert run.origin_pathspec is None
    assert run.user_tags == {"prod", "v1"}
    assert "user:tester" in run.system_tags and "runtime:dev" in run.system_tags
    assert run.tags == run.user_tags | run.system_tags
    assert run.is_in_namespace()
    assert [step.id for step in run.steps()] == [step.id for step in run]
    assert "start" in run and "nope" not in run


def test_system_tags(client_runs: ClientRuns) -> None:
    """Every run records who ran it, where, with which Python and tideflow, and when."""
    import platform

    import tideflow

    run = Run(client_runs.train)
    date = run.created_at.strftime("%Y-%m-%d")
    assert run.system_tags == {
        "user:tester",
        "runtime:dev",
        f"python_version:{platform.python_version()}",
        f"tideflow_version:{tideflow.__version__}",
        f"date:{date}",
    }


def test_data_of_a_failed_run_is_none(client_runs: ClientRuns) -> None:
    """A run whose ``end`` step never ran has no data and no end task."""
    run = Run(client_runs.fail)
    assert run.data is None
    assert run.end_task is None
    assert run.status == "failed"
    assert not run.finished and not run.successful
    assert run.finished_at is None


def test_finished_at_is_the_end_tasks(client_runs: ClientRuns) -> None:
    """A run finished when its ``end`` task did: the very same value."""
    run = Run(client_runs.train)
    assert run.end_task is not None
    assert run.finished and run.finished_at == run.end_task.finished_at
