"""Run.status and Task.status expose the stored state; a run whose supervisor vanished
reads as crashed, never as running forever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stored_runs import metadata_store
from tideflow import AsyncRun, Run, Runner, Task, default_namespace, namespace
from tideflow._metadata._records import AttemptRecord, TaskRecord


def test_status_of_a_finished_run(tideflow_root: Path, flows_dir: Path) -> None:
    """A successful run and its tasks read as succeeded."""
    running = Runner(str(flows_dir / "hello_flow.py"), show_output=False).run()
    run = Run(running.run.pathspec)
    assert run.status == "succeeded"
    assert Task(f"{run.pathspec}/end/{run['end'].task.id}").status == "succeeded"


def test_run_with_an_expired_lease_reads_as_crashed(
    tideflow_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run left 'running' by a supervisor that died is recorded as crashed when read."""
    monkeypatch.setenv("TIDEFLOW_HEARTBEAT_TIMEOUT", "5")
    stale = time.time() - 60
    with metadata_store(tideflow_root) as store:
        record = store.create_run(
            "GhostFlow", user="tester", system_tags=("user:tester",), now=stale
        )
        store.add_task(
            TaskRecord(
                flow="GhostFlow",
                run_id=record.run_id,
                step="start",
                task_id="1",
                created_at=stale,
            )
        )
        store.start_attempt(
            AttemptRecord(
                flow="GhostFlow",
                run_id=record.run_id,
                step="start",
                task_id="1",
                attempt=0,
                state="running",
                started_at=stale,
            )
        )
    namespace(None)
    try:
        run = Run(f"GhostFlow/{record.run_id}")
        assert run.status == "crashed"
        assert not run.finished and not run.successful and run.finished_at is None
        assert Task(f"GhostFlow/{record.run_id}/start/1").status == "crashed"
    finally:
        namespace(default_namespace())


async def test_async_status(tideflow_root: Path, flows_dir: Path) -> None:
    """The async client reads the same state."""
    running = await Runner(str(flows_dir / "hello_flow.py")).async_run()
    await running.wait()
    run = await AsyncRun(running.run.pathspec)
    assert await run.fetch_status() == "succeeded"


async def test_a_cancelled_run_is_not_finished(tideflow_root: Path, flows_dir: Path) -> None:
    """Invariant: a run cancelled before ``end`` reads as cancelled, not finished, with no
    ``finished_at``, in both clients."""
    runner = Runner(str(flows_dir / "client_wait_flow.py"), show_output=False)
    running = await runner.async_run(gate=str(tideflow_root / "never"))
    async with running:
        async for _position, line in running.stream_log("stdout"):
            if line.endswith("before gate"):
                break
    run = await AsyncRun(running.run.pathspec)
    assert await run.fetch_status() == "cancelled"
    assert not await run.fetch_finished() and await run.fetch_finished_at() is None
    sync = Run(running.run.pathspec)
    assert not sync.finished and sync.finished_at is None


async def test_a_failed_run_is_not_finished_async(tideflow_root: Path, flows_dir: Path) -> None:
    """A run whose ``start`` failed never reached ``end``: not finished, no finish time."""
    running = await Runner(str(flows_dir / "client_fail_flow.py"), show_output=False).async_run()
    async with running:
        await running.wait()
    run = await AsyncRun(running.run.pathspec)
    assert await run.fetch_status() == "failed"
    assert not await run.fetch_finished() and await run.fetch_finished_at() is None
