"""The spawn executor on its own: a fresh interpreter per task, its output, its exit.

Each test hands one :class:`TaskSpec` to :class:`SpawnExecutor` and checks the outcome and
what reached the sink; it runs on both anyio backends.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import psutil

from tideflow._datastore._artifacts import loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._messages import TaskSpec
from tideflow._worker._executor import TaskOutcome, describe_exit
from tideflow._worker._spawn import SpawnExecutor

FLOW = Path(__file__).resolve().parent.parent / "flows" / "flow_crash.py"


class Sink:
    def __init__(self) -> None:
        self.pids: list[int] = []
        self.received: list[tuple[str, float, bytes]] = []

    async def started(self, pid: int) -> None:
        self.pids.append(pid)

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self.received.extend((stream, ts, text) for ts, text in lines)


def spec(root: Path, how: str) -> TaskSpec:
    return TaskSpec(
        flow_name="CrashFlow",
        flow_source=str(FLOW),
        flow_class="CrashFlow",
        root=str(root),
        run_id="1",
        step="start",
        task_id="1",
        attempt=0,
        parameters={"how": how},
        parameters_refs=[],
        inputs=[],
    )


async def run(tmp_path: Path, how: str) -> tuple[Sink, TaskOutcome]:
    sink = Sink()
    executor = SpawnExecutor(kill_grace=1.0)
    try:
        outcome = await executor.run_task(
            spec(tmp_path / ".tideflow", how), sink, env=dict(os.environ), cwd=str(tmp_path)
        )
    finally:
        await executor.aclose()
    return sink, outcome


async def test_a_task_that_exits_without_reporting(tmp_path: Path) -> None:
    sink, outcome = await run(tmp_path, "exit")
    assert outcome.done is None
    assert outcome.returncode == 3
    assert describe_exit(3) == "the task process exited with code 3 before reporting a result"
    # What it wrote before it ended is there, with the pid the sink was told about.
    assert [(stream, text) for stream, _, text in sink.received] == [("stdout", b"before the end")]
    assert sink.pids == [outcome.pid]


async def test_a_task_killed_by_a_signal(tmp_path: Path) -> None:
    _, outcome = await run(tmp_path, "kill")
    assert outcome.done is None
    assert outcome.returncode == -9
    assert describe_exit(-9) == (
        "the task process was killed by SIGKILL (killed: possibly the out-of-memory killer)"
    )


async def test_children_left_behind_are_stopped(tmp_path: Path) -> None:
    """When a task ends, nothing it started in its process group is left running."""
    _, outcome = await run(tmp_path, "orphan")
    done = outcome.done
    assert done is not None and done.ok, done
    refs = {ref.name: ref for ref in done.artifacts}
    orphan = loads(LocalBlobStore(tmp_path / ".tideflow").get(refs["orphan_pid"].sha))
    assert isinstance(orphan, int)
    assert await anyio.to_thread.run_sync(is_stopped, orphan)


def is_stopped(pid: int, seconds: float = 5.0) -> bool:
    """Whether ``pid`` is gone, or a zombie until its parent (init) reaps it.

    SIGKILL reaches the process a moment after it is sent, so allow a few seconds.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False
