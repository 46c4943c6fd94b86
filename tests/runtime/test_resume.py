"""Resume: what is cloned, what runs again, and what the new run records.

Each scenario runs a flow of ``tests/flows`` that fails where it is told to (until a marker
file exists), creates the marker, and resumes the run. The scenarios run together in one
module-scoped fixture, once per anyio backend, each in a store of its own.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from stored_runs import StoredRun, metadata_store, read_run
from tideflow import Runner
from tideflow._exceptions import ResumeError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"
LINEAR = "FailLinearFlow"
FOREACH = "FailForeachFlow"


@dataclass
class Resumed:
    """An origin run and the run that resumed it."""

    origin: StoredRun
    origin_status: str
    run: StoredRun | None = None
    status: str = ""
    stdout: str = ""
    error: BaseException | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resumed(self) -> StoredRun:
        assert self.run is not None, self.error
        return self.run


class Scenario:
    """One store, one flow: run it, then resume it."""

    def __init__(self, folder: Path, file: str, flow: str, **env: str) -> None:
        self.root = folder / ".tideflow"
        self.marker = folder / "marker"
        self.file = file
        self.flow = flow
        self.env = {"TIDEFLOW_USER": "tester", "FAIL_MARKER": str(self.marker), **env}

    def runner(self, file: str | None = None) -> Runner:
        return Runner(
            str(FLOWS / (file or self.file)), show_output=False, env=self.env, root=str(self.root)
        )

    async def run(self, **kwargs: Any) -> Resumed:
        executing = await self.runner().async_run(**kwargs)
        await executing.wait()
        origin = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        self.marker.touch()
        return Resumed(origin, executing.status)

    async def resume(self, result: Resumed, file: str | None = None, **kwargs: Any) -> Resumed:
        try:
            executing = await self.runner(file).async_resume(**kwargs)
        except ResumeError as exc:
            result.error = exc
            return result
        await executing.wait()
        result.run = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        result.status, result.stdout = executing.status, executing.stdout
        return result

    async def cli_resume(self, result: Resumed, *args: str) -> Resumed:
        command = [sys.executable, str(FLOWS / self.file), "--root", str(self.root), "resume"]
        done = await anyio.run_process(
            [*command, *args], env={**os.environ, **self.env}, check=False
        )
        result.extra["returncode"] = done.returncode
        result.extra["stderr"] = done.stderr.decode()
        result.status = "successful" if done.returncode == 0 else "failed"
        result.stdout = done.stdout.decode()
        result.run = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        return result


async def _at_start(s: Scenario) -> Resumed:
    return await s.resume(await s.run(alpha=7))


async def _middle(s: Scenario) -> Resumed:
    return await s.resume(await s.run(alpha=3))


async def _plain(s: Scenario) -> Resumed:
    return await s.resume(await s.run())


async def _join_then_end(s: Scenario) -> Resumed:
    result = await s.resume(await s.run())
    again = await s.resume(Resumed(result.resumed, result.status), step_to_rerun="end")
    result.extra["again"] = again
    return result


async def _named_step(s: Scenario) -> Resumed:
    result = await s.run()
    return await s.cli_resume(result, "middle", "--origin-run-id", result.origin.run_id)


async def _changed_graph(s: Scenario) -> Resumed:
    return await s.resume(await s.run(), file="fail_linear_changed_flow.py")


async def _changed_code(s: Scenario) -> Resumed:
    return await s.resume(await s.run(alpha=2), file="fail_linear_v2_flow.py")


SCENARIOS = {
    "at_start": ("fail_linear_flow.py", LINEAR, {"FAIL_STEP": "start"}, _at_start),
    "middle": ("fail_linear_flow.py", LINEAR, {"FAIL_STEP": "middle"}, _middle),
    "foreach": (
        "fail_foreach_flow.py",
        FOREACH,
        {"FAIL_ITEMS": "1,3", "FAIL_AFTER_OTHERS": "1"},
        _plain,
    ),
    "join": ("fail_foreach_flow.py", FOREACH, {"FAIL_STEP": "join"}, _join_then_end),
    "named": ("fail_linear_flow.py", LINEAR, {}, _named_step),
    "changed_graph": ("fail_linear_flow.py", LINEAR, {"FAIL_STEP": "middle"}, _changed_graph),
    "changed_code": ("fail_linear_flow.py", LINEAR, {"FAIL_STEP": "middle"}, _changed_code),
}


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Module-scoped: the scenarios run once per backend, not once per test."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="module")
async def results(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Resumed]]:
    done: dict[str, Resumed] = {}

    async def one(key: str) -> None:
        file, flow, env, play = SCENARIOS[key]
        done[key] = await play(Scenario(tmp_path_factory.mktemp(key), file, flow, **env))

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for key in SCENARIOS:
                tg.start_soon(one, key)
    yield done


def _steps_run(run: StoredRun) -> dict[str, list[str]]:
    """For each step, which of its tasks ran ("ran") and which were cloned ("cloned")."""
    return {
        step: ["cloned" if t.record.origin_pathspec else "ran" for t in tasks]
        for step, tasks in sorted(run.steps.items())
    }


async def test_resume_after_a_failure_at_start(results: dict[str, Resumed]) -> None:
    """Nothing finished: everything runs again, with the origin's parameters."""
    result = results["at_start"]
    assert result.origin_status == "failed"
    assert result.status == "successful"
    run = result.resumed
    assert _steps_run(run) == {"end": ["ran"], "middle": ["ran"], "start": ["ran"]}
    assert run.only("start").artifacts["alpha"] == 7
    assert run.only("middle").artifacts["doubled"] == 14
    assert run.record.origin_run_id == result.origin.run_id


async def test_resume_in_a_linear_middle_step(results: dict[str, Resumed]) -> None:
    """start is cloned (records, artifacts and logs), middle and end run again."""
    result = results["middle"]
    run, origin = result.resumed, result.origin
    assert result.status == "successful"
    assert _steps_run(run) == {"end": ["ran"], "middle": ["ran"], "start": ["cloned"]}
    start, old_start = run.only("start"), origin.only("start")
    assert start.record.task_id == old_start.record.task_id
    assert start.record.origin_pathspec == old_start.record.pathspec
    assert [a.state for a in start.attempts] == ["succeeded"]
    assert start.artifacts == old_start.artifacts
    assert start.log() == old_start.log() == "start says hello, alpha=3\n"
    assert start.metadata["origin-run-id"] == origin.run_id
    middle = run.only("middle")
    assert int(middle.record.task_id) > max(
        int(t.record.task_id) for tasks in origin.steps.values() for t in tasks
    )
    assert middle.record.parent_pathspecs == (start.record.pathspec,)
    assert middle.artifacts["trail"] == ["start", "middle"]
    assert run.only("end").artifacts["origin_seen"] == origin.run_id  # current.origin_run_id
    assert run.only("start").artifacts["origin_seen"] is None  # cloned from the origin
    assert f"Cloned from {old_start.record.pathspec}." in result.stdout


async def test_resumed_artifacts_are_reused_by_reference(results: dict[str, Resumed]) -> None:
    """A cloned task's artifacts point at the origin's blobs: same content hashes."""
    result = results["middle"]
    with metadata_store(result.resumed.only("start").root) as store:
        old, new = (
            store.list_artifacts(LINEAR, r.run_id, "start", "1", 0)
            for r in (result.origin, result.resumed)
        )
    assert [(a.name, a.sha) for a in old] == [(a.name, a.sha) for a in new]


async def test_resume_inside_a_foreach_reruns_only_failed_branches(
    results: dict[str, Resumed],
) -> None:
    result = results["foreach"]
    run = result.resumed
    assert result.origin_status == "failed"
    assert result.status == "successful"
    assert _steps_run(run) == {
        "body": ["cloned", "ran", "cloned", "ran"],
        "end": ["ran"],
        "join": ["ran"],
        "start": ["cloned"],
    }
    new, old = run.run_id, result.origin.run_id
    assert run.only("join").artifacts["ran_in"] == [old, new, old, new]
    assert run.only("end").artifacts["total"] == 0 + 1 + 4 + 9
    assert [t.record.index for t in run.steps["body"]] == [0, 1, 2, 3]


async def test_resume_at_the_join(results: dict[str, Resumed]) -> None:
    result = results["join"]
    run = result.resumed
    assert result.status == "successful"
    assert _steps_run(run) == {
        "body": ["cloned"] * 4,
        "end": ["ran"],
        "join": ["ran"],
        "start": ["cloned"],
    }
    join = run.only("join")
    assert join.record.parent_pathspecs == tuple(t.record.pathspec for t in run.steps["body"])
    assert join.artifacts["squares"] == [0, 1, 4, 9]


async def test_resume_of_a_resumed_run_from_a_named_step(results: dict[str, Resumed]) -> None:
    """Clones of clones name the run they were copied from; only the named step runs."""
    first, again = results["join"], results["join"].extra["again"]
    assert again.status == "successful"
    run = again.resumed
    assert _steps_run(run) == {
        "body": ["cloned"] * 4,
        "end": ["ran"],
        "join": ["cloned"],
        "start": ["cloned"],
    }
    assert run.only("join").record.origin_pathspec == first.resumed.only("join").record.pathspec
    assert run.record.origin_run_id == first.resumed.run_id


async def test_resume_from_a_named_step_on_the_command_line(results: dict[str, Resumed]) -> None:
    """``resume middle --origin-run-id ID`` re-runs middle and what follows."""
    result = results["named"]
    assert result.origin_status == "successful"
    assert result.extra["returncode"] == 0, result.extra["stderr"]
    run = result.resumed
    assert run.run_id != result.origin.run_id
    assert run.record.origin_run_id == result.origin.run_id
    assert _steps_run(run) == {"end": ["ran"], "middle": ["ran"], "start": ["cloned"]}
    assert "resuming FailLinearFlow" in result.stdout


async def test_a_changed_graph_cannot_be_resumed(results: dict[str, Resumed]) -> None:
    result = results["changed_graph"]
    assert result.run is None
    assert isinstance(result.error, ResumeError)
    assert str(result.error).startswith(
        f"Cannot resume {LINEAR}/{result.origin.run_id}: the flow's graph changed before the "
        "rerun point (step 'start' was a linear step going to middle; now it is a linear "
        "step going to extra). Resume works when every step it reuses is unchanged"
    )


async def test_changed_code_with_the_same_graph_resumes(results: dict[str, Resumed]) -> None:
    result = results["changed_code"]
    assert result.status == "successful"
    run = result.resumed
    assert run.only("start").artifacts["trail"] == ["start"]  # cloned: the old code's value
    assert run.only("middle").artifacts["trail"] == ["start", "middle v2"]
    assert run.only("middle").artifacts["doubled"] == 4
    assert run.only("middle").log() == "middle v2 runs\n"


# -- mistakes, found before a run starts --------------------------------------------------


def test_resume_without_any_run(tideflow_root: Path) -> None:
    runner = Runner(str(FLOWS / "fail_linear_flow.py"))
    with pytest.raises(ResumeError, match=r"^FailLinearFlow has no run to resume in .*run$"):
        runner.resume()


def test_resume_of_an_unknown_run(tideflow_root: Path) -> None:
    runner = Runner(str(FLOWS / "fail_linear_flow.py"))
    with pytest.raises(
        ResumeError,
        match=r"^Cannot resume run 'FailLinearFlow/42': it does not exist in .*tideflow runs",
    ):
        runner.resume(origin_run_id="42")


def test_resume_from_an_unknown_step(tideflow_root: Path) -> None:
    runner = Runner(str(FLOWS / "fail_linear_flow.py"), env={"FAIL_STEP": "middle"})
    origin = runner.run()
    assert origin.status == "failed"
    with pytest.raises(
        ResumeError,
        match=r"from step 'nope': FailLinearFlow has no such step\. Its steps are: start, "
        r"middle, end\.$",
    ):
        runner.resume(step_to_rerun="nope")
