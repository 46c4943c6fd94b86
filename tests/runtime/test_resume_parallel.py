"""Resuming a run whose @parallel group failed in one node, or failed after the group, on
both executors and both backends.

The tasks of a @parallel group work together (a distributed job needs all of its nodes at
once), so a resume never runs one node alone: a group with a node that did not finish runs
again whole, with a new control task; a group that finished is cloned whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from executors import module_anyio_backend, module_executor  # noqa: F401  (fixtures)
from stored_runs import StoredRun, read_run
from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FLOW = "ParallelResumeFlow"


@dataclass
class Resumed:
    origin: StoredRun
    origin_status: str
    run: StoredRun
    status: str
    stdout: str


@pytest.fixture(scope="module")
async def resumed(
    tmp_path_factory: pytest.TempPathFactory, executor: str
) -> AsyncIterator[dict[str, Resumed]]:
    """For each place of the failure (a node of the group, the join after it): the failed
    run and its resume, after the fix."""
    results: dict[str, Resumed] = {}

    async def one(where: str) -> None:
        folder = tmp_path_factory.mktemp(f"parallel-{where}")
        root, fixed = folder / ".tideflow", folder / "fixed"
        env = {"TIDEFLOW_USER": "tester", "PARALLEL_FAIL": where, "PARALLEL_FIXED": str(fixed)}
        runner = Runner(
            str(FLOWS / "parallel_resume_flow.py"),
            show_output=False,
            env=env,
            root=str(root),
            executor=executor,
        )
        failed = await runner.async_run()
        await failed.wait()
        origin = await anyio.to_thread.run_sync(read_run, root, FLOW)
        fixed.touch()
        again = await runner.async_resume()
        await again.wait()
        run = await anyio.to_thread.run_sync(read_run, root, FLOW)
        results[where] = Resumed(origin, failed.status, run, again.status, again.stdout)

    with anyio.fail_after(180):
        async with anyio.create_task_group() as tg:
            for where in ("train", "join"):
                tg.start_soon(one, where)
    yield results


def _control(run: StoredRun) -> str:
    [control] = [
        t for t in run.steps["train"] if t.metadata.get("internal_task_type") == "control"
    ]
    return control.record.task_id


async def test_a_group_with_a_failed_node_runs_again_whole(resumed: dict[str, Resumed]) -> None:
    result = resumed["train"]
    assert result.origin_status == "failed"
    assert result.status == "successful", result.stdout
    train = result.run.steps["train"]
    assert len(train) == 3
    assert all(t.record.origin_pathspec is None for t in train), "no node of it is cloned"
    assert "running again from step(s) 'train'" in result.stdout
    control = _control(result.run)
    assert control not in {t.record.task_id for t in result.origin.steps["train"]}
    join = result.run.only("join").artifacts
    assert join["nodes"] == [(i, 3, "127.0.0.1", control) for i in range(3)]
    assert join["values"] == [10, 11, 12]
    assert len(set(join["pids"])) == 3, "the whole group ran again, one process per node"
    assert {t.metadata["parallel-world-size"] for t in train} == {"3"}
    assert sorted(t.metadata["parallel-node-index"] for t in train) == ["0", "1", "2"]
    assert result.run.only("start").record.origin_pathspec is not None, "start is cloned"


async def test_a_finished_group_is_cloned_whole(resumed: dict[str, Resumed]) -> None:
    result = resumed["join"]
    assert result.origin_status == "failed"
    assert result.status == "successful", result.stdout
    train = result.run.steps["train"]
    assert len(train) == 3 and all(t.record.origin_pathspec for t in train)
    assert {t.record.task_id for t in train} == {
        t.record.task_id for t in result.origin.steps["train"]
    }
    assert _control(result.run) == _control(result.origin), "the control task stays node 0"
    join = result.run.only("join")
    assert join.record.origin_pathspec is None
    assert join.artifacts["values"] == [10, 11, 12]
    control = _control(result.run)
    assert join.artifacts["nodes"] == [(i, 3, "127.0.0.1", control) for i in range(3)]
