"""The ``spawn`` executor: a fresh interpreter per task attempt.

The child gets one end of a socket pair as its control channel; its standard output and
error are pipes read line by line here, so everything the task writes (Python, C code,
child processes) becomes its log. Each task leads its own process group, so stopping a
task stops everything it started.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ByteReceiveStream, Process, UNIXSocketStream

from .._messages import Ready, TaskDone, TaskSpec
from ._executor import TaskOutcome, TaskSink, kill_group
from ._framing import FrameReader, send_frame

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("MAX_LINE", "SpawnExecutor", "pump_lines", "stop_process")

#: Seconds a new worker has to say it is ready.
HANDSHAKE_TIMEOUT = 60.0
#: The longest log line, in bytes: a longer one is stored (and shown) in pieces this long.
MAX_LINE = 1 << 20


async def pump_lines(
    stream: ByteReceiveStream, name: str, sink: TaskSink, max_line: int = MAX_LINE
) -> None:
    """Forward complete lines from ``stream`` to ``sink`` until end of stream.

    A line longer than ``max_line`` bytes is forwarded in pieces of ``max_line`` bytes
    (the last one with what remains when its newline comes), so memory stays bounded and
    the time linear in the output, however long a line is.
    """
    pending = bytearray()
    #: Whether pieces of the pending line went out already (then its end may be empty).
    cut = False
    async for chunk in stream:
        now = time.time()
        lines: list[bytes] = []
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if pending or not cut or end > start:
                pending += chunk[start:end]
                lines.extend(_pieces(pending, max_line))
                pending.clear()
            cut = False
            start = end + 1
        pending += chunk[start:]
        if len(pending) >= max_line:
            whole = len(pending) - len(pending) % max_line
            lines.extend(_pieces(pending[:whole], max_line))
            del pending[:whole]
            cut = True
        if lines:
            await sink.lines(name, [(now, line) for line in lines])
    if pending:
        await sink.lines(name, [(time.time(), bytes(pending))])


def _pieces(data: bytes | bytearray, size: int) -> list[bytes]:
    """``data`` (one line without its newline) cut in pieces of at most ``size`` bytes."""
    if len(data) <= size:
        return [bytes(data)]
    return [bytes(data[i : i + size]) for i in range(0, len(data), size)]


async def stop_process(process: Process, grace: float) -> None:
    """Terminate a task's process group, wait ``grace`` seconds, then kill it. Shielded."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            kill_group(process.pid, signal.SIGTERM)
            with anyio.move_on_after(grace):
                await process.wait()
        kill_group(process.pid, signal.SIGKILL)
        await process.aclose()


class SpawnExecutor:
    """Runs each task attempt in a new ``python -m tideflow._worker`` process."""

    name = "spawn"

    def __init__(self, *, python: str | None = None, kill_grace: float = 2.0) -> None:
        self._python = python or sys.executable
        self._grace = kill_grace

    def run_ended(self, flow: str, run_id: str) -> None:
        """Nothing to do: no process outlives its task."""

    async def aclose(self) -> None:
        """Nothing to release: every process ends with its task."""

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        """Start a worker, hand it ``spec``, stream its output, and wait for its report."""
        parent, child = socket.socketpair()
        try:
            process = await anyio.open_process(
                [self._python, "-m", "tideflow._worker", str(child.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
                env={**env, "PYTHONUNBUFFERED": "1"},
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            parent.close()
            return TaskOutcome(done=None, returncode=None, problem=f"cannot start: {exc}")
        finally:
            child.close()
        try:
            return await self._supervise(process, parent, spec, sink)
        finally:
            await stop_process(process, self._grace)

    async def _supervise(
        self, process: Process, sock: socket.socket, spec: TaskSpec, sink: TaskSink
    ) -> TaskOutcome:
        assert process.stdout is not None and process.stderr is not None
        await sink.started(process.pid)
        done: TaskDone | None = None
        problem = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_lines, process.stdout, "stdout", sink)
            tg.start_soon(pump_lines, process.stderr, "stderr", sink)
            stream = await UNIXSocketStream.from_socket(sock)
            async with stream:
                reader = FrameReader(stream)
                with anyio.move_on_after(HANDSHAKE_TIMEOUT) as handshake:
                    hello = await reader.receive()
                if handshake.cancelled_caught or not isinstance(hello, Ready):
                    problem = "the worker did not start (no handshake)"
                else:
                    try:
                        await send_frame(stream, spec)
                    except (anyio.BrokenResourceError, OSError):
                        problem = "the worker closed its control channel"
                    else:
                        message = await reader.receive()
                        if isinstance(message, TaskDone):
                            done = message
            returncode = await process.wait()
            # Anything the step left running in its process group goes too.
            kill_group(process.pid, signal.SIGKILL)
        return TaskOutcome(done=done, returncode=returncode, pid=process.pid, problem=problem)
