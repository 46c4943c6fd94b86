"""The spawn executor on its own: a fresh interpreter per task, its output, its exit.

Each test hands one :class:`TaskSpec` to :class:`SpawnExecutor` and checks the outcome and
what reached the sink; it runs on both anyio backends.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import anyio
import anyio.lowlevel
import psutil
import pytest
from anyio.abc import ByteReceiveStream

from tideflow._datastore._artifacts import loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._messages import TaskSpec
from tideflow._worker._executor import TaskOutcome, describe_exit
from tideflow._worker._spawn import MAX_LINE, SpawnExecutor, pump_lines

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


class _Chunks(ByteReceiveStream):
    """A byte stream that yields ``count`` times the same chunk, without copying it."""

    def __init__(self, chunks: list[bytes] | None = None, chunk: bytes = b"", count: int = 0):
        self._chunks = list(chunks or [])
        self._chunk = chunk
        self._count = count

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint()
        if self._chunks:
            return self._chunks.pop(0)
        if self._count:
            self._count -= 1
            return self._chunk
        raise anyio.EndOfStream

    async def aclose(self) -> None:
        pass


class _Lines:
    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.seen: list[bytes] = []
        self.count = 0
        self.longest = 0

    async def started(self, pid: int) -> None:
        pass

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self.count += len(lines)
        self.longest = max([self.longest, *(len(line) for _, line in lines)])
        if self.keep:
            self.seen.extend(line for _, line in lines)


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"a\nb", b"c\n", b"\n", b"tail"], [b"a", b"bc", b"", b"tail"]),
        ([b"0123456789\n"], [b"0123", b"4567", b"89"]),
        ([b"01", b"23", b"45", b"67", b"\nx\n"], [b"0123", b"4567", b"x"]),  # no empty piece
        ([b"0123", b"\n", b"\n"], [b"0123", b""]),
        ([b"012", b"3456789abcdef"], [b"0123", b"4567", b"89ab", b"cdef"]),
    ],
)
async def test_pump_lines_splits_lines_and_cuts_long_ones(
    chunks: list[bytes], expected: list[bytes]
) -> None:
    """Lines come out whole; a line longer than ``max_line`` comes out in pieces of that
    size, and a line that is an exact number of pieces gets no empty piece after them."""
    sink = _Lines()
    await pump_lines(_Chunks(chunks), "stdout", sink, max_line=4)
    assert sink.seen == expected


async def test_a_long_line_without_newline_takes_bounded_memory() -> None:
    """A 50 MB line without a newline goes out in MAX_LINE pieces, holding at most about one
    piece at a time (the time it takes is measured in benchmarks/bench_long_lines.py)."""
    chunk = b"x" * 65536
    sink = _Lines(keep=False)
    tracemalloc.start()
    try:
        await pump_lines(_Chunks(chunk=chunk, count=800), "stdout", sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.longest == MAX_LINE
    assert sink.count == -(-800 * 65536 // MAX_LINE)
    assert peak < 4 * MAX_LINE
