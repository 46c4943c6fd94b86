"""The supervisor: one per event loop, started on first use, ended with its loop."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio
import pytest

import tideflow
from executors import host_processes
from stored_runs import metadata_store
from tideflow import Runner
from tideflow._runtime._loader import load_flow
from tideflow._runtime._request import build_request
from tideflow._states import RunState
from tideflow._supervisor._supervisor import (
    Supervisor,
    SupervisorStatistics,
    current_supervisor,
    default_task_cap,
)

if TYPE_CHECKING:
    from pathlib import Path


async def test_one_supervisor_per_event_loop() -> None:
    supervisor = await current_supervisor()
    assert await current_supervisor() is supervisor

    async def other_loop() -> Supervisor:
        return await current_supervisor()

    other = await anyio.to_thread.run_sync(anyio.run, other_loop)
    assert other is not supervisor
    assert other.closed  # its loop has ended
    assert not supervisor.closed


async def test_statistics(tideflow_root: Path, flows_dir: Path) -> None:
    supervisor = await current_supervisor()
    assert supervisor.statistics() == SupervisorStatistics(
        runs=0, tasks=0, task_cap=int(supervisor.limiter.total_tokens), executors=()
    )
    async with await Runner(str(flows_dir / "runner_slowflow.py"), executor="spawn").async_run(
        seconds=1
    ) as running:
        stats = supervisor.statistics()
        assert (stats.runs, stats.executors) == (1, ("spawn",))
        await running.wait()
    assert supervisor.statistics().runs == 0
    assert repr(supervisor).startswith("<Supervisor open runs=0 ")


async def test_unknown_executor() -> None:
    supervisor = await current_supervisor()
    with pytest.raises(
        ValueError, match=r"^Unknown executor 'thread': use 'spawn', 'fork' or 'dask'"
    ):
        supervisor.executor("thread", 1.0)


def test_the_loop_end_closes_the_executors(
    tideflow_root: Path, flows_dir: Path, anyio_backend: str
) -> None:
    """Invariant: when the loop ends, the supervisor closes, and its fork hosts go."""
    if os.name != "posix":
        pytest.skip("fork needs POSIX")

    # Hosts of the blocking API's loop (other tests' run() calls) stay warm: not ours.
    before = {p.pid for p in host_processes()}

    async def main() -> Supervisor:
        runner = Runner(str(flows_dir / "hello_flow.py"), executor="fork")
        await (await runner.async_run()).wait()
        assert host_processes(before) != []
        return await current_supervisor()

    supervisor = anyio.run(main, backend=anyio_backend)
    assert supervisor.closed
    assert host_processes(before) == []


async def test_the_first_run_sets_the_task_cap_and_later_runs_keep_it(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """The cap belongs to the loop: a later run never changes it for the others."""
    flow = str(flows_dir / "hello_flow.py")
    async with await Runner(flow, show_output=False, task_limit=2).async_run() as running:
        await running.wait()
    supervisor = await current_supervisor()
    assert supervisor.statistics().task_cap == 2
    with pytest.raises(
        ValueError,
        match=r"^task_limit=3 is not the cap of 2 running tasks that every run of this event "
        r"loop shares \(blocking calls share one loop per process\); the cap is set by the "
        r"loop's first run\. Leave task_limit out, or give it \(or TIDEFLOW_TASK_LIMIT\) to "
        r"the first run\.$",
    ):
        await Runner(flow, show_output=False, task_limit=3).async_run()
    for options in ({}, {"task_limit": 2}):
        async with await Runner(flow, show_output=False, **options).async_run() as running:
            await running.wait()
            assert running.status == "successful"
    assert supervisor.statistics().task_cap == 2
    assert len(list(tideflow.Flow("HelloFlow").runs())) == 3


async def test_without_a_task_limit_the_cap_comes_from_the_cores() -> None:
    supervisor = await current_supervisor()
    assert supervisor.statistics().task_cap == default_task_cap()


async def test_start_run_returns_once_the_run_exists(tideflow_root: Path, flows_dir: Path) -> None:
    """Invariant: start_run() gives the actor of a run that is in the store, using the
    supervisor's shared executor and cap; the run then goes on to its end."""

    request = build_request(
        load_flow(str(flows_dir / "hello_flow.py")),
        top_level={"executor": "spawn"},
        options={},
        cwd=os.getcwd(),
    )
    supervisor = await current_supervisor(request.config)
    actor = await supervisor.start_run(request)
    assert actor.run_id is not None
    with metadata_store(tideflow_root) as store:
        flow, run_id = actor.pathspec.split("/")
        assert store.get_run(flow, run_id).run_id == run_id
    assert "spawn" in supervisor.statistics().executors
    await actor.wait()
    assert actor.state == RunState.SUCCEEDED == "succeeded"
    assert not actor.output.display  # not echoed: no status block


async def test_start_run_refuses_a_conflicting_task_cap(
    tideflow_root: Path, flows_dir: Path
) -> None:

    supervisor = await current_supervisor()
    cap = supervisor.statistics().task_cap
    request = build_request(
        load_flow(str(flows_dir / "hello_flow.py")),
        top_level={"task_limit": cap + 1},
        options={},
        cwd=os.getcwd(),
    )
    with pytest.raises(ValueError, match=f"task_limit={cap + 1} is not the cap"):
        await supervisor.start_run(request)
    assert supervisor.statistics().runs == 0
