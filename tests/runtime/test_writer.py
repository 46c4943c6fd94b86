"""The store writer: the batches of several runs' recorders written together, each whole."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from tideflow._config import load_config
from tideflow._exceptions import NotFound
from tideflow._metadata._records import AttemptRecord, TaskRecord
from tideflow._metadata._writes import AddTask, EndAttempt, StartAttempt
from tideflow._runtime._events import AttemptFinished, AttemptStarted, TaskStarted
from tideflow._runtime._recorder import Recorder
from tideflow._runtime._writer import StoreWriter
from tideflow._stores._bundle import open_stores

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from tideflow._metadata._records import RunRecord
    from tideflow._metadata._writes import Write
    from tideflow._stores._bundle import Stores


class Console:
    """Keeps the lines written to it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def write(self, stream: str, lines: list[str]) -> None:
        self.lines.extend(lines)


@pytest.fixture
def stores(tideflow_root: Path) -> Iterator[Stores]:
    with open_stores(load_config(), root=tideflow_root) as bundle:
        yield bundle


def _run(stores: Stores) -> RunRecord:
    return stores.metadata.create_run("F", user="tester", system_tags=["user:tester"])


def _task_writes(run: RunRecord, task_id: str, *, orphan: bool = False) -> list[Write]:
    """A task's writes; an ``orphan`` attempt names a task that is never recorded."""
    now = time.time()
    key = {"flow": "F", "run_id": run.run_id, "step": "s", "task_id": task_id, "attempt": 0}
    task = TaskRecord(flow="F", run_id=run.run_id, step="s", task_id=task_id, created_at=now)
    attempt = AttemptRecord(**key, state="running", started_at=now)  # type: ignore[arg-type]
    return [
        *([] if orphan else [AddTask(record=task)]),
        StartAttempt(record=attempt),
        EndAttempt(**key, state="succeeded", finished_at=now),  # type: ignore[arg-type]
    ]


def _states(stores: Stores, run: RunRecord) -> list[tuple[str, str]]:
    attempts = stores.metadata.latest_attempts("F", run.run_id, "s")
    return sorted((a.task_id, a.state) for a in attempts)


class Held:
    """A first batch whose preparation waits in its worker thread until released, so
    that the batches sent meanwhile queue up behind it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def prepare(self) -> Sequence[Write]:
        self.release.wait(timeout=30)
        return []


async def test_the_batches_of_several_runs_go_in_one_call(stores: Stores) -> None:
    """Invariant: batches queued while a group is written are written together next, in
    one worker-thread call, each run's records complete."""
    writer = StoreWriter(stores.metadata)
    runs = [await anyio.to_thread.run_sync(_run, stores) for _ in range(4)]
    finished: list[str] = []
    held = Held()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.write, held.prepare, lambda: None)
        await wait_all_tasks_blocked()
        for run in runs:
            tg.start_soon(
                writer.write,
                lambda run=run: _task_writes(run, "1"),
                lambda run=run: finished.append(run.run_id),
            )
        await wait_all_tasks_blocked()
        assert writer.statistics().waiting == len(runs)
        held.release.set()
    assert writer.statistics() == type(writer.statistics())(batches=5, groups=2, waiting=0)
    assert sorted(finished) == sorted(run.run_id for run in runs)
    for run in runs:
        assert _states(stores, run) == [("1", "succeeded")]


async def test_a_refused_batch_fails_alone(stores: Stores) -> None:
    """Invariant: when the store refuses one batch of a group, the others are written
    (each alone) and only the refused one raises; nothing of it is recorded."""
    writer = StoreWriter(stores.metadata)
    good, bad = [await anyio.to_thread.run_sync(_run, stores) for _ in range(2)]
    errors: dict[str, BaseException] = {}
    held = Held()

    async def write(run: RunRecord, *, orphan: bool) -> None:
        try:
            await writer.write(lambda: _task_writes(run, "1", orphan=orphan), lambda: None)
        except NotFound as exc:
            errors[run.run_id] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.write, held.prepare, lambda: None)
        await wait_all_tasks_blocked()
        tg.start_soon(lambda: write(good, orphan=False))
        tg.start_soon(lambda: write(bad, orphan=True))
        await wait_all_tasks_blocked()
        held.release.set()
    assert list(errors) == [bad.run_id]
    assert _states(stores, good) == [("1", "succeeded")]
    assert _states(stores, bad) == []


async def test_a_cancelled_waiter_leaves_the_writer_working(stores: Stores) -> None:
    """Invariant: a batch whose sender is cancelled while it waits is not written, and
    the batches after it still are."""
    writer = StoreWriter(stores.metadata)
    dropped, kept = [await anyio.to_thread.run_sync(_run, stores) for _ in range(2)]
    held = Held()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.write, held.prepare, lambda: None)
        await wait_all_tasks_blocked()
        scope = anyio.CancelScope()
        tg.start_soon(lambda: _cancellable(writer, dropped, scope))
        await wait_all_tasks_blocked()
        assert writer.statistics().waiting == 1
        scope.cancel()
        await wait_all_tasks_blocked()
        assert writer.statistics().waiting == 0
        held.release.set()
    await writer.write(lambda: _task_writes(kept, "1"), lambda: None)
    assert _states(stores, dropped) == []
    assert _states(stores, kept) == [("1", "succeeded")]
    assert writer.statistics().waiting == 0


async def _cancellable(writer: StoreWriter, run: RunRecord, scope: anyio.CancelScope) -> None:
    with scope:
        await writer.write(lambda: _task_writes(run, "1"), lambda: None)


async def test_recorders_sharing_a_writer_record_every_run(stores: Stores) -> None:
    """Invariant: runs whose recorders share a writer each get all their records, and
    their batches were grouped (fewer calls than batches)."""
    writer = StoreWriter(stores.metadata)
    runs = [await anyio.to_thread.run_sync(_run, stores) for _ in range(5)]
    recorders = [Recorder(stores, Console(), writer=writer) for _ in runs]
    async with anyio.create_task_group() as tg:
        for recorder in recorders:
            await tg.start(recorder.run)
        for run, recorder in zip(runs, recorders, strict=True):
            now = time.time()
            key = {"flow": "F", "run_id": run.run_id, "step": "s", "task_id": "1", "attempt": 0}
            task = TaskRecord(flow="F", run_id=run.run_id, step="s", task_id="1", created_at=now)
            await recorder.record(TaskStarted(record=task))
            await recorder.record(
                AttemptStarted(record=AttemptRecord(**key, state="running", started_at=now))  # type: ignore[arg-type]
            )
            await recorder.record(
                AttemptFinished(end=EndAttempt(**key, state="succeeded", finished_at=now))  # type: ignore[arg-type]
            )
        for recorder in recorders:
            await recorder.aclose()
    assert all(recorder.error is None for recorder in recorders)
    for run in runs:
        assert _states(stores, run) == [("1", "succeeded")]
    statistics = writer.statistics()
    assert statistics.batches == len(runs)
    assert statistics.groups < statistics.batches
