"""The run actor: cancellation, crashes kept to one run, and the order in which a run ends.

Fake executors stand in for task processes where the test is about the actor itself:
one whose task never ends, one that breaks.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import pytest

from stored_runs import metadata_store
from tideflow._runtime._loader import load_flow
from tideflow._runtime._request import RunRequest, build_request
from tideflow._runtime._state import RunState
from tideflow._supervisor._output import RunOutput
from tideflow._supervisor._run_actor import RunActor
from tideflow._supervisor._supervisor import current_supervisor

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from tideflow._messages import TaskSpec
    from tideflow._worker._executor import TaskOutcome, TaskSink


class HangingExecutor:
    """A task that starts and never ends; records that it was stopped."""

    name = "hanging"

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.stopped = False

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        await sink.started(os.getpid())
        self.started.set()
        try:
            await anyio.sleep_forever()
        finally:
            self.stopped = True
        raise AssertionError("unreachable")

    def run_ended(self, flow: str, run_id: str) -> None:
        pass

    async def aclose(self) -> None:
        pass


@pytest.fixture
def request_for(tideflow_root: Path, flows_dir: Path) -> Any:
    def make(flow: str = "hello_flow.py", **options: Any) -> RunRequest:
        return build_request(
            load_flow(str(flows_dir / flow)), top_level={}, options=options, cwd=os.getcwd()
        )

    return make


def stored(root: Path, actor: RunActor) -> tuple[str, list[str]]:
    """The run's stored status and the states of its start task's attempts."""
    with metadata_store(root) as store:
        flow, run_id = actor.pathspec.split("/")
        attempts = store.list_attempts(flow, run_id, "start", "1")
        return store.get_run(flow, run_id).status, [a.state for a in attempts]


async def test_cancelled_while_a_task_runs(request_for: Any, tideflow_root: Path) -> None:
    """Invariant: a stop mid-task stops the task, records ``cancelled`` for the run and
    the attempt, and closes the console, before stop() returns."""
    executor = HangingExecutor()
    actor = RunActor(request_for(), executor=executor, output=RunOutput())
    supervisor = await current_supervisor()
    await supervisor.start(actor.run)
    assert repr(actor) == f"<RunActor {actor.pathspec} state=RUNNING>"
    await executor.started.wait()
    with anyio.move_on_after(0.01):
        await anyio.sleep_forever()
    await actor.stop()
    assert executor.stopped
    assert actor.state is RunState.CANCELLED
    assert actor.output.closed
    assert stored(tideflow_root, actor) == ("cancelled", ["cancelled"])
    assert actor.output.text("stderr").endswith("Workflow cancelled: its tasks were stopped.\n")


async def test_first_reason_wins(request_for: Any, tideflow_root: Path) -> None:
    executor = HangingExecutor()
    actor = RunActor(request_for(), executor=executor, output=RunOutput())
    await (await current_supervisor()).start(actor.run)
    await executor.started.wait()
    actor.cancel(RunState.TIMEOUT)
    actor.cancel(RunState.CANCELLED)
    await actor.wait()
    assert actor.state is RunState.TIMEOUT
    assert stored(tideflow_root, actor)[0] == "timeout"


async def test_a_crash_stays_in_its_run(
    request_for: Any, tideflow_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: an unexpected error in one actor ends that run as ``crashed``, with a
    report-this message; the supervisor and the other runs go on."""
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", "fork")
    supervisor = await current_supervisor()
    executor = supervisor.executor("fork", 2.0)
    broken = RunActor(request_for(), executor=executor, output=RunOutput())

    def fail() -> NoReturn:
        raise OSError("the disk is gone")

    broken._store_parameters = fail  # type: ignore[method-assign]
    healthy = RunActor(request_for(), executor=executor, output=RunOutput())
    await supervisor.start(broken.run)
    await supervisor.start(healthy.run)
    with anyio.fail_after(30):
        await broken.wait()
        await healthy.wait()
    assert broken.state is RunState.CRASHED
    assert broken.state.status == "failed"
    stderr = broken.output.text("stderr")
    assert "Workflow crashed: this is a bug in tideflow, please report it." in stderr
    assert "OSError: the disk is gone" in stderr
    with metadata_store(tideflow_root) as store:
        assert store.get_run(*broken.pathspec.split("/")).status == "crashed"
    assert healthy.state is RunState.SUCCEEDED
    assert not supervisor.closed


class BrokenExecutor:
    """Starts a task, then fails as a bug in tideflow would."""

    name = "broken"

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        await sink.started(os.getpid())
        raise RuntimeError("a bug below the scheduler")

    def run_ended(self, flow: str, run_id: str) -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_an_internal_error_leaves_no_attempt_running(
    request_for: Any, tideflow_root: Path
) -> None:
    """Invariant: when the supervisor fails while a task attempt runs, the run is recorded
    as crashed and so is the attempt: no attempt stays ``running``."""
    actor = RunActor(request_for(), executor=BrokenExecutor(), output=RunOutput())
    await (await current_supervisor()).start(actor.run)
    with anyio.fail_after(30):
        await actor.wait()
    assert actor.state is RunState.CRASHED
    assert "RuntimeError: a bug below the scheduler" in actor.output.text("stderr")
    assert stored(tideflow_root, actor) == ("crashed", ["crashed"])


async def test_errors_before_the_run_starts_reach_the_caller(
    request_for: Any, tideflow_root: Path
) -> None:
    """A run id file that cannot be written: start() raises; the run is recorded failed.

    (The request refuses such a path before any run exists; here it goes missing after.)"""
    request = dataclasses.replace(request_for(), run_id_file="no/such/folder/run-id")
    actor = RunActor(request, executor=HangingExecutor(), output=RunOutput())
    with pytest.raises(FileNotFoundError):
        await (await current_supervisor()).start(actor.run)
    assert actor.state is RunState.FAILED
    assert actor.output.closed
    with metadata_store(tideflow_root) as store:
        assert store.get_run(*actor.pathspec.split("/")).status == "failed"


async def test_the_state_changes_last(request_for: Any) -> None:
    """Whoever sees the final state sees the whole console and the stored end."""
    supervisor = await current_supervisor()
    actor = RunActor(request_for(), executor=supervisor.executor("fork", 2.0), output=RunOutput())
    seen: list[tuple[RunState, bool, bool]] = []
    original = actor._finalize

    def finalize(final: RunState) -> None:
        seen.append((actor.state, actor.output.closed, "Done!" in actor.output.text("stdout")))
        original(final)
        seen.append((actor.state, actor.output.closed, actor._finished.is_set()))

    actor._finalize = finalize  # type: ignore[method-assign]
    await supervisor.start(actor.run)
    await actor.wait()
    assert seen == [(RunState.RUNNING, False, True), (RunState.SUCCEEDED, True, True)]
