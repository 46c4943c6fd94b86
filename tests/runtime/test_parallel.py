"""@parallel with num_parallel, and what a step learns from ``current`` (current.run,
current.task, current.parallel), on both executors.

Both flows run at the same time in one module-scoped fixture, once per anyio backend and
per executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from executors import module_anyio_backend, module_executor  # noqa: F401  (fixtures)
from stored_runs import StoredRun, read_run
from tideflow import Runner, Step
from tideflow.client import AsyncStep

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@dataclass
class Outcome:
    status: str
    root: Path
    run: StoredRun


@pytest.fixture(scope="module")
async def outcomes(
    tmp_path_factory: pytest.TempPathFactory, executor: str
) -> AsyncIterator[dict[str, Outcome]]:
    results: dict[str, Outcome] = {}
    runs = {
        "parallel": ("parallel_flow.py", "ParallelFlow", {}, {"nodes": 4}),
        "current": ("current_flow.py", "CurrentFlow", {"TIDEFLOW_RUN_BATCH_SIZE": "32"}, {}),
    }

    async def one(key: str) -> None:
        file, flow, env, parameters = runs[key]
        root = tmp_path_factory.mktemp(key) / ".tideflow"
        runner = Runner(
            str(FLOWS / file),
            show_output=False,
            env={"TIDEFLOW_USER": "tester", **env},
            root=str(root),
            executor=executor,
        )
        executing = await runner.async_run(**parameters)
        await executing.wait()
        run = await anyio.to_thread.run_sync(read_run, root, flow)
        results[key] = Outcome(executing.status, root, run)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for key in runs:
                tg.start_soon(one, key)
    yield results


async def test_num_parallel_starts_n_tasks_and_the_join_gets_them_all(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["parallel"]
    assert outcome.status == "successful"
    train = outcome.run.steps["train"]
    assert len(train) == 4
    control = next(t for t in train if t.metadata.get("internal_task_type") == "control")
    join = outcome.run.only("join").artifacts
    assert join["nodes_seen"] == [(i, 4, "127.0.0.1", control.record.task_id) for i in range(4)]
    assert join["items"] == [0, 1, 2, 3]  # self.input is the node index
    assert len(join["pids"]) == 4  # one process per node
    assert all(t.artifacts["is_parallel"] for t in train)
    assert {t.metadata["parallel-world-size"] for t in train} == {"4"}
    assert control.artifacts["node"][0] == 0


async def test_control_tasks_and_the_steps_around_a_step(outcomes: dict[str, Outcome]) -> None:
    """Step.control_tasks() finds node 0; parent_steps and child_steps follow the graph."""
    outcome = outcomes["parallel"]
    step = await anyio.to_thread.run_sync(
        lambda: Step(
            f"ParallelFlow/{outcome.run.run_id}/train",
            _namespace_check=False,
            _root=str(outcome.root),
        )
    )
    controls = await anyio.to_thread.run_sync(lambda: list(step.control_tasks()))
    assert [t.index for t in controls] == [0]
    parents = await anyio.to_thread.run_sync(lambda: [s.id for s in step.parent_steps])
    children = await anyio.to_thread.run_sync(lambda: [s.id for s in step.child_steps])
    assert (parents, children) == (["start"], ["join"])
    pathspec = f"ParallelFlow/{outcome.run.run_id}/join"
    joined = await AsyncStep(pathspec, _namespace_check=False, _root=str(outcome.root))
    assert [s.id for s in await joined.fetch_parent_steps()] == ["train"]
    assert [s.id for s in await joined.fetch_child_steps()] == ["end"]


async def test_current_run_and_task_are_client_objects(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["current"]
    assert outcome.status == "successful"
    start = outcome.run.only("start")
    run_pathspec = f"CurrentFlow/{outcome.run.run_id}"
    assert start.artifacts["run_pathspec"] == run_pathspec
    assert start.artifacts["task_pathspec"] == start.record.pathspec
    assert outcome.run.only("end").artifacts["start_value"] == run_pathspec


async def test_parameter_defaults(outcomes: dict[str, Outcome]) -> None:
    """A callable default learns its parameter's name; TIDEFLOW_RUN_<NAME> gives a default."""
    artifacts = outcomes["current"].run.only("start").artifacts
    assert artifacts["label"] == "default of label"
    assert artifacts["batch_size"] == 32


async def test_class_constants_are_artifacts_and_read_only(outcomes: dict[str, Outcome]) -> None:
    run = outcomes["current"].run
    for step in ("start", "end"):
        assert run.only(step).artifacts["int_const"] == 123
    start = run.only("start").artifacts
    assert start["seen_const"] == 123
    assert start["assign_error"].startswith(
        "Cannot assign self.int_const in step 'start': int_const is a constant of CurrentFlow"
    )
