"""A run seen while it runs: partial logs, then the same objects once it ended."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from tideflow import AsyncTask, Runner

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ClientRuns

FLOWS = Path(__file__).resolve().parent.parent / "flows"


async def until(check: Callable[[], bool]) -> None:
    """Ask the client (in a worker thread) until ``check()`` is true, as a dashboard would.

    The task runs in another process, so there is no event to wait for; the client is
    what this test is about, so it asks the client.
    """
    with anyio.fail_after(60):
        while not await anyio.to_thread.run_sync(check):  # noqa: ASYNC110 - another process
            await anyio.sleep(0.01)


async def test_partial_stdout_of_a_running_task(client_runs: ClientRuns, tmp_path: Path) -> None:
    """While ``start`` waits, the client shows its first line and an unfinished task and
    run; the same objects show everything once the run ended."""
    gate = tmp_path / "gate"
    runner = Runner(str(FLOWS / "client_wait_flow.py"), show_output=False)
    running = await runner.async_run(gate=str(gate))
    async with running:
        run = running.run
        # The step is recorded before its task: wait for both, then for the first line.
        await until(
            lambda: (
                "start" in run and run["start"].task is not None and run["start"].task.stdout != ""
            )  # type: ignore[union-attr]
        )

        task = run["start"].task
        assert task is not None
        assert task.stdout == "before gate\n"
        assert task.stdout_size == len("before gate\n")
        assert [line for _, line in task.loglines("stdout")] == ["before gate"]
        assert not task.finished and not task.successful
        assert task.finished_at is None and task.exception is None
        assert task.current_attempt == 0
        assert not run.finished and not run.successful and run.finished_at is None
        assert run.data is None and run.end_task is None
        assert run["start"].finished_at is None
        assert "start" in run and "end" not in run
        async_task = await AsyncTask(task.pathspec)
        assert await async_task.fetch_stdout() == "before gate\n"
        assert not await async_task.fetch_finished()

        gate.touch()
        await running.wait()

        assert task.stdout == "before gate\nafter gate\n"
        assert task.finished and task.successful and task.finished_at is not None
        assert run.finished and run.successful and run.finished_at is not None
        assert run.data is not None and run.data.gate == str(gate)
        assert run.end_task is not None
        assert await async_task.fetch_stdout() == "before gate\nafter gate\n"
        assert await async_task.fetch_finished()
