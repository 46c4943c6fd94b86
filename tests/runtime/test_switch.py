"""Switch transitions at run time: only the chosen case runs, joins wait for the branch
taken, loops get a new task per pass, and resume clones what the origin finished.

The flows of ``tests/flows/switch_*.py`` are written as a user of the reference writes
them. Every scenario runs at the same time in one module-scoped fixture, once per anyio
backend and per executor; the tests read what the runs stored.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from executors import module_anyio_backend, module_executor  # noqa: F401  (fixtures)
from stored_runs import StoredRun, read_run
from tideflow import Runner
from tideflow._states import AttemptState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@dataclass
class Outcome:
    """A run (and, for resume scenarios, the origin run before it)."""

    status: str
    run: StoredRun
    stdout: str = ""
    origin: StoredRun | None = None
    origin_status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Scenario:
    def __init__(self, folder: Path, file: str, flow: str, executor: str) -> None:
        self.root = folder / ".tideflow"
        self.marker = folder / "marker"
        self.file = file
        self.flow = flow
        self.executor = executor

    def runner(self) -> Runner:
        return Runner(
            str(FLOWS / self.file),
            show_output=False,
            env={"TIDEFLOW_USER": "tester", "FAIL_MARKER": str(self.marker)},
            root=str(self.root),
            executor=self.executor,
        )

    async def run(self, **parameters: Any) -> Outcome:
        self.marker.touch()
        executing = await self.runner().async_run(**parameters)
        await executing.wait()
        run = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        return Outcome(executing.status, run, executing.stdout)

    async def fail_then_resume(self, **parameters: Any) -> Outcome:
        executing = await self.runner().async_run(**parameters)
        await executing.wait()
        origin = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        self.marker.touch()
        resumed = await self.runner().async_resume()
        await resumed.wait()
        run = await anyio.to_thread.run_sync(read_run, self.root, self.flow)
        return Outcome(resumed.status, run, resumed.stdout, origin, executing.status)


Play = Callable[[Scenario], Awaitable[Outcome]]

SCENARIOS: dict[str, tuple[str, str, Play]] = {
    "low": ("switch_basic_flow.py", "SwitchBasicFlow", lambda s: s.run()),
    "high": ("switch_basic_flow.py", "SwitchBasicFlow", lambda s: s.run(value=80)),
    "skip": ("switch_skip_flow.py", "SwitchSkipFlow", lambda s: s.run()),
    "in_branch": ("switch_in_branch_flow.py", "SwitchInBranchFlow", lambda s: s.run()),
    "branches_inside": ("switch_blocks_flow.py", "SwitchBlocksFlow", lambda s: s.run()),
    "foreach_inside": (
        "switch_blocks_flow.py",
        "SwitchBlocksFlow",
        lambda s: s.run(mode="items"),
    ),
    "nested": (
        "switch_blocks_flow.py",
        "SwitchBlocksFlow",
        lambda s: s.run(mode="nested", inner="y"),
    ),
    "loop": ("switch_loop_flow.py", "SwitchLoopFlow", lambda s: s.run()),
    "loop_back": ("switch_loop_back_flow.py", "SwitchLoopBackFlow", lambda s: s.run()),
    "resume_loop": ("switch_loop_flow.py", "SwitchLoopFlow", lambda s: s.fail_then_resume()),
    "resume_foreach": (
        "switch_in_foreach_flow.py",
        "SwitchInForeachFlow",
        lambda s: s.fail_then_resume(),
    ),
}


@pytest.fixture(scope="module")
async def outcomes(
    tmp_path_factory: pytest.TempPathFactory, executor: str
) -> AsyncIterator[dict[str, Outcome]]:
    results: dict[str, Outcome] = {}

    async def one(key: str) -> None:
        file, flow, play = SCENARIOS[key]
        folder = tmp_path_factory.mktemp(key)
        results[key] = await play(Scenario(folder, file, flow, executor))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for key in SCENARIOS:
                tg.start_soon(one, key)
    yield results


def _steps(run: StoredRun) -> set[str]:
    return set(run.steps)


async def test_only_the_chosen_case_runs(outcomes: dict[str, Outcome]) -> None:
    """The switch goes on to one step; the step where the cases meet runs once."""
    low, high = outcomes["low"], outcomes["high"]
    assert (low.status, high.status) == ("successful", "successful")
    assert _steps(low.run) == {"start", "low_branch", "join", "end"}
    assert _steps(high.run) == {"start", "high_branch", "join", "end"}
    assert low.run.only("end").artifacts["final"] == "LOW: 42"
    assert high.run.only("end").artifacts["final"] == "HIGH: 80"
    assert low.run.only("start").metadata["switch-step"] == "low_branch"


async def test_a_parameter_as_condition_and_a_case_that_goes_to_end(
    outcomes: dict[str, Outcome],
) -> None:
    skip = outcomes["skip"]
    assert skip.status == "successful"
    assert _steps(skip.run) == {"start", "end"}
    assert skip.run.only("end").artifacts["test_value"] == "start"


async def test_a_switch_in_a_branch_joins_with_one_input_per_branch(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["in_branch"]
    assert outcome.status == "successful"
    assert "c" not in outcome.run.steps
    assert outcome.run.only("join").artifacts["seen"] == ["b", "d"]


async def test_branches_and_foreach_inside_a_switch(outcomes: dict[str, Outcome]) -> None:
    branches, items = outcomes["branches_inside"], outcomes["foreach_inside"]
    assert (branches.status, items.status) == ("successful", "successful")
    assert _steps(branches.run) == {"start", "process_branch", "p1", "p2", "process_join", "end"}
    assert branches.run.only("end").artifacts["result"] == 3
    assert _steps(items.run) == {"start", "process_items", "do_work", "join_work", "end"}
    assert items.run.only("end").artifacts["result"] == ["ITEM_1", "ITEM_2", "ITEM_3"]


async def test_nested_switches(outcomes: dict[str, Outcome]) -> None:
    nested = outcomes["nested"]
    assert nested.status == "successful"
    assert _steps(nested.run) == {"start", "switch2", "d", "end"}
    assert nested.run.only("end").artifacts["result"] == "d"


async def test_a_recursive_switch_runs_a_new_task_per_pass(outcomes: dict[str, Outcome]) -> None:
    loop = outcomes["loop"]
    assert loop.status == "successful"
    passes = loop.run.steps["loop_step"]
    assert [t.artifacts["count"] for t in passes] == [1, 2, 3, 4, 5]
    assert len({t.record.task_id for t in passes}) == 5
    # Each pass reads the one before it.
    for before, after in itertools.pairwise(passes):
        assert after.record.parent_pathspecs == (before.record.pathspec,)
    assert loop.run.only("end").artifacts["count"] == 5


async def test_a_switch_back_to_an_earlier_step_and_a_loop_in_a_foreach(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["loop_back"]
    assert outcome.status == "successful"
    assert [t.artifacts["total"] for t in outcome.run.steps["add"]] == [10, 20, 30]
    assert len(outcome.run.steps["loop_body"]) == 4  # 3 passes for A, 1 for B
    assert outcome.run.only("join").artifacts["results"] == ["A:3", "B:1"]


async def test_resume_of_a_recursive_switch(outcomes: dict[str, Outcome]) -> None:
    """The passes before the failed one are cloned; the failed pass and after run again."""
    outcome = outcomes["resume_loop"]
    assert outcome.origin is not None
    assert outcome.origin_status == "failed"
    assert outcome.status == "successful"
    passes = outcome.run.steps["loop_step"]
    assert [t.artifacts["count"] for t in passes] == [1, 2, 3, 4, 5]
    cloned = [t.artifacts["count"] for t in passes if "origin-task-id" in t.metadata]
    assert cloned == [1, 2, 3]
    assert "origin-run-id" in outcome.run.only("start").metadata
    assert outcome.run.only("end").artifacts["count"] == 5


async def test_resume_of_a_switch_inside_a_foreach(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["resume_foreach"]
    assert (outcome.origin_status, outcome.status) == ("failed", "successful")
    cloned = {t.record.step for t in outcome.run.steps["handle_a"] if t.record.origin_pathspec}
    assert cloned == {"handle_a"}
    # Item 4 failed and runs again; item 2 is cloned if the first run finished it before
    # it stopped (it may not have got that far: the items run concurrently).
    assert outcome.origin is not None
    first = outcome.origin.steps.get("handle_b", [])
    finished = {t.artifacts["number"] for t in first if t.state == AttemptState.SUCCEEDED}
    handle_b = outcome.run.steps["handle_b"]
    cloned = {t.artifacts["number"]: bool(t.record.origin_pathspec) for t in handle_b}
    assert cloned == {2: 2 in finished, 4: False}
    assert outcome.run.only("join").artifacts["results"] == ["A1", "B2", "A3", "B4"]


def test_show_and_check_describe_a_switch() -> None:
    flow = str(FLOWS / "switch_loop_flow.py")
    shown = subprocess.run(
        [sys.executable, flow, "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "=> one of {'continue': loop_step, 'exit': exit_loop} (switch on 'loop_status')" in (
        shown
    )
    checked = subprocess.run(
        [sys.executable, flow, "check"], capture_output=True, text=True, check=True
    )
    assert "looks good" in checked.stdout
