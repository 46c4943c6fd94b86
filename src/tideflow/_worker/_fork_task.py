"""One task of the fork executor, seen from the supervisor: its sockets, pipes and end.

The executor (:mod:`._fork`) hands a task to a host with the write ends of the task's
stdout and stderr pipes and one end of a task socket pair; :func:`supervise_task` then
reads the other ends. The child says ``Ready`` (its pid), streams its output on the pipes,
closes them, and reports ``TaskDone``; the host adds ``Exited`` once it has reaped it. The
report is the task's end as soon as the output has ended too: the child is leaving, and
its host kills what the step left in its session. Interrupted, the task's process group
is terminated, given the grace period, then killed.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
from anyio.abc import ByteReceiveStream

from .._messages import Ready, TaskDone
from ._executor import TaskOutcome, kill_group
from ._host_protocol import Exited, FrameBuffer, receive_frame
from ._spawn import pump_lines

if TYPE_CHECKING:
    from ._executor import TaskSink

__all__ = ("FdReceiveStream", "NotStarted", "supervise_task")

#: Seconds to wait, after a task's report, for its output to end before waiting for its
#: exit instead (a process the step started may hold the output open).
_DRAIN_WAIT = 0.5


class FdReceiveStream(ByteReceiveStream):
    """Reads a non-blocking pipe or socket file descriptor; closes it on :meth:`aclose`."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        #: Whether a task waits for the descriptor to be readable (then closing wakes it).
        self._waiting = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                self._waiting = True
                try:
                    await anyio.wait_readable(self._fd)
                finally:
                    self._waiting = False
                continue
            if not data:
                raise anyio.EndOfStream
            return data

    async def aclose(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            if self._waiting:
                anyio.notify_closing(fd)
            os.close(fd)


class NotStarted(Exception):
    """The host went away before it forked the task: the task can go to another host."""


async def supervise_task(
    sink: TaskSink,
    out: FdReceiveStream,
    err: FdReceiveStream,
    task: FdReceiveStream,
    *,
    grace: float,
) -> TaskOutcome:
    """Follow one forked task on its sockets and pipes until it has reported and its output
    has ended (or it exited); stop it if interrupted. See the module docstring.

    :raises NotStarted: if the host went away before it forked the task.
    """
    frames = FrameBuffer()
    pid: int | None = None
    done: TaskDone | None = None
    exited: Exited | None = None
    leaving = False
    try:
        first = await receive_frame(task, frames)
        if isinstance(first, Exited):
            exited = first
            return TaskOutcome(done=None, returncode=first.returncode, problem=first.problem)
        if not isinstance(first, Ready):
            raise NotStarted("the fork host went away before it started the task")
        pid = first.pid
        await sink.started(pid)
        async with anyio.create_task_group() as tg:
            output = _Output(sink)
            tg.start_soon(output.pump, out, "stdout")
            tg.start_soon(output.pump, err, "stderr")
            while exited is None:
                message = await receive_frame(task, frames)
                if message is None:
                    break
                if isinstance(message, TaskDone):
                    done = message
                    # The child closed its output, then reported: once the output
                    # has ended it is leaving, and its host stops what it left in its
                    # session. If a process the step started holds the output, wait
                    # for the exit and stop the group below.
                    if not output.drained.is_set():
                        with anyio.move_on_after(_DRAIN_WAIT):
                            await output.drained.wait()
                    if output.drained.is_set():
                        leaving = True
                        return TaskOutcome(done=done, returncode=0, pid=pid)
                elif isinstance(message, Exited):
                    exited = message
            # Anything the step left running in its process group goes too.
            kill_group(pid, signal.SIGKILL)
    finally:
        if exited is None and not leaving:
            exited = await _stop(pid, task, frames, grace)
    if exited is None:
        return TaskOutcome(done=done, returncode=None, pid=pid, problem="the fork host went away")
    return TaskOutcome(done=done, returncode=exited.returncode, pid=pid)


async def _stop(
    pid: int | None, task: FdReceiveStream, frames: FrameBuffer, grace: float
) -> Exited | None:
    """Terminate the task's group, wait for the grace period, kill it; wait until reaped.

    Without a pid yet (stopped while the host was forking), wait for the child to say
    who it is first: it does so before it runs any code of the step.
    """
    exited: Exited | None = None
    with anyio.CancelScope(shield=True):
        if pid is None:
            first = None
            with anyio.move_on_after(5):
                first = await receive_frame(task, frames)
            if not isinstance(first, Ready):
                return first if isinstance(first, Exited) else None
            pid = first.pid
        kill_group(pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            exited = await _wait_exited(task, frames)
        kill_group(pid, signal.SIGKILL)
        if exited is None:
            with anyio.move_on_after(5):
                exited = await _wait_exited(task, frames)
    return exited


class _Output:
    """Forwards a task's stdout and stderr lines; ``drained`` is set once both ended."""

    def __init__(self, sink: TaskSink) -> None:
        self._sink = sink
        self._open = 2
        self.drained = anyio.Event()

    async def pump(self, stream: FdReceiveStream, name: str) -> None:
        """Forward the lines of one stream until it ends."""
        await pump_lines(stream, name, self._sink)
        self._open -= 1
        if not self._open:
            self.drained.set()


async def _wait_exited(task: FdReceiveStream, frames: FrameBuffer) -> Exited | None:
    while (message := await receive_frame(task, frames)) is not None:
        if isinstance(message, Exited):
            return message
    return None
