"""The recorder: a run's events written in batches to real stores, then to the console."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from tideflow._config import load_config
from tideflow._exceptions import NotFound
from tideflow._metadata._records import AttemptRecord, TaskRecord
from tideflow._metadata._writes import EndAttempt
from tideflow._runtime._events import (
    AttemptFinished,
    AttemptStarted,
    ConsoleLines,
    LogLines,
    TaskStarted,
)
from tideflow._runtime._recorder import BATCH, BUFFER, Recorder
from tideflow._stores._bundle import open_stores
from tideflow._stores._interfaces import LogKey

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tideflow._metadata._records import RunRecord
    from tideflow._stores._bundle import Stores


class Console:
    """Keeps its lines; while ``gate`` is set, a write waits for it."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.gate: anyio.Event | None = None

    async def write(self, stream: str, lines: list[str]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        await checkpoint()
        self.lines.extend((stream, line) for line in lines)


@pytest.fixture
def stores(tideflow_root: Path) -> Iterator[Stores]:
    with open_stores(load_config(), root=tideflow_root) as bundle:
        yield bundle


def _run(stores: Stores) -> RunRecord:
    return stores.metadata.create_run("F", user="tester", system_tags=["user:tester"])


def _task_events(run: RunRecord, task_id: str) -> list[object]:
    now = time.time()
    task = TaskRecord(flow="F", run_id=run.run_id, step="s", task_id=task_id, created_at=now)
    key = {"flow": "F", "run_id": run.run_id, "step": "s", "task_id": task_id, "attempt": 0}
    log = LogKey(**key, stream="stdout")  # type: ignore[arg-type]
    return [
        TaskStarted(record=task),
        AttemptStarted(record=AttemptRecord(**key, state="running", started_at=now)),  # type: ignore[arg-type]
        LogLines(key=log, lines=[(now, b"hello " + task_id.encode())], prefix=f"[{task_id}]"),
        AttemptFinished(end=EndAttempt(**key, state="succeeded", finished_at=now)),  # type: ignore[arg-type]
        ConsoleLines(stream="stdout", lines=[f"done {task_id}"]),
    ]


async def test_events_reach_the_store_the_logs_and_the_console_in_order(
    stores: Stores,
) -> None:
    run = await anyio.to_thread.run_sync(_run, stores)
    console = Console()
    recorder = Recorder(stores, console)
    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        for task_id in ("1", "2", "3"):
            for event in _task_events(run, task_id):
                await recorder.record(event)  # type: ignore[arg-type]
        await recorder.aclose()
    assert recorder.error is None
    attempts = stores.metadata.latest_attempts("F", run.run_id, "s")
    assert sorted((a.task_id, a.state) for a in attempts) == [
        ("1", "succeeded"),
        ("2", "succeeded"),
        ("3", "succeeded"),
    ]
    key = LogKey(flow="F", run_id=run.run_id, step="s", task_id="2", attempt=0, stream="stdout")
    assert stores.logs.read_text(key) == "hello 2\n"
    # Task output gets a timestamp and the task's prefix; tideflow's own lines come as sent.
    texts = [
        line.split(" ", 2)[-1] if line.startswith("20") else line for _, line in console.lines
    ]
    assert texts == ["[1] hello 1", "done 1", "[2] hello 2", "done 2", "[3] hello 3", "done 3"]


async def test_a_write_that_fails_stops_the_records_not_the_console(stores: Stores) -> None:
    """An attempt of a task that does not exist: the store refuses the batch; the recorder
    keeps the error, says it, tells its owner once, and keeps writing the console."""
    run = await anyio.to_thread.run_sync(_run, stores)
    console = Console()
    errors: list[BaseException] = []
    recorder = Recorder(stores, console, on_error=errors.append)
    orphan = _task_events(run, "9")[1:]
    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        for event in orphan:
            await recorder.record(event)  # type: ignore[arg-type]
        await recorder.flush()
        for event in _task_events(run, "1"):
            await recorder.record(event)  # type: ignore[arg-type]
        await recorder.aclose()
    assert isinstance(recorder.error, NotFound)
    assert errors == [recorder.error]
    assert any("could not be recorded" in line for _, line in console.lines)
    assert ("stdout", "done 1") in console.lines
    assert stores.metadata.list_steps("F", run.run_id) == []


async def test_a_sender_waits_while_the_recorder_is_behind(stores: Stores) -> None:
    """Backpressure: the stream holds BUFFER events (and the recorder one batch)."""
    console = Console()
    console.gate = anyio.Event()
    recorder = Recorder(stores, console)
    sent = 0

    async def send_all() -> None:
        nonlocal sent
        for n in range(BUFFER + BATCH + 10):
            await recorder.record(ConsoleLines(stream="stdout", lines=[str(n)]))
            sent += 1

    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        try:
            async with anyio.create_task_group() as senders:
                senders.start_soon(send_all)
                await wait_all_tasks_blocked()
                # The sender is blocked: the stream is full, the recorder holds one batch.
                assert BUFFER <= sent <= BUFFER + BATCH
                console.gate.set()
                console.gate = None
            assert sent == BUFFER + BATCH + 10
        finally:
            await recorder.aclose()
    assert [line for _, line in console.lines] == [str(n) for n in range(BUFFER + BATCH + 10)]


async def test_recording_before_the_recorder_runs_is_refused(stores: Stores) -> None:
    recorder = Recorder(stores, Console())
    with pytest.raises(RuntimeError, match="has not started"):
        await recorder.record(ConsoleLines(stream="stdout", lines=["x"]))
    await recorder.aclose()
