"""The supervisor: one per event loop, started on first use, ended with its loop."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio
import pytest

from executors import host_processes
from tideflow import Runner
from tideflow._supervisor._supervisor import (
    Supervisor,
    SupervisorStatistics,
    current_supervisor,
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
    with pytest.raises(ValueError, match=r"^Unknown executor 'thread': use 'spawn' or 'fork'"):
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
