"""The executor interface: how the scheduler runs one task attempt in a process.

The scheduler does not know how processes are started; it hands a :class:`TaskSpec` and a
:class:`TaskSink` to an executor and gets a :class:`TaskOutcome` back.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio
import msgspec

from .._messages import TaskDone, TaskSpec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from anyio.abc import Process

    from ._blank import HostProcess

__all__ = (
    "EXECUTOR_NAMES",
    "Executor",
    "TaskOutcome",
    "TaskSink",
    "WarmsUp",
    "close_process",
    "describe_exit",
    "kill_group",
)


#: The executors there are: ``spawn`` (:mod:`._spawn`), ``fork`` (:mod:`._fork`) and
#: ``dask`` (:mod:`._dask`). Another one (Kubernetes, a batch queue) is one more class with
#: :class:`Executor`'s methods, and one more name here and in the supervisor's
#: :meth:`~tideflow._supervisor._supervisor.Supervisor.executor`.
EXECUTOR_NAMES = ("spawn", "fork", "dask")


class TaskSink(Protocol):
    """Receives what a task process does while it runs."""

    async def started(self, pid: int) -> None:
        """The task process runs, with this pid."""

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        """Complete lines written to ``stream`` (stdout or stderr), with their UTC times."""


@runtime_checkable
class WarmsUp(Protocol):
    """An executor that can get a flow's processes ready before its first task."""

    async def warm_up(
        self,
        *,
        flow_source: str,
        flow_class: str,
        sys_path: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        started: HostProcess | None = None,
    ) -> None:
        """Start preparing; return as soon as the rest can go on in the background.

        :param started: a fork host process started before the flow was known; the
            executor takes it over (``started.taken``) and uses or closes it.
        """
        ...


class TaskOutcome(msgspec.Struct, kw_only=True):
    """What became of a task process: its report (if any) and how it exited."""

    done: TaskDone | None
    returncode: int | None
    pid: int | None = None
    #: Set when the process broke the protocol or could not start.
    problem: str | None = None


class Executor(Protocol):
    """Starts task processes.

    An executor that runs tasks on other machines also has ``remote = True``: the run is
    then not held to this machine's resources for ``@resources`` (the executor places
    the tasks where there is room).
    """

    name: str

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        """Run one attempt and return its outcome. Cancellation stops the process tree."""
        ...

    def run_ended(self, flow: str, run_id: str) -> None:
        """The run ``flow/run_id`` has ended: what it kept warm may go."""
        ...

    async def aclose(self) -> None:
        """Release the executor's resources (warm processes, ...)."""
        ...


def kill_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid``, if any of it is still there."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


#: How often :func:`close_process` starts the close again after it was interrupted.
_CLOSE_ATTEMPTS = 3


async def close_process(process: Process) -> None:
    """``await process.aclose()`` to its end, whatever cancels the caller meanwhile.

    A shielded cancel scope does not hold off a native asyncio cancellation
    (``Task.cancel()``, as when a loop shuts down and cancels all its tasks): it interrupts
    the close, which would leave the process's transport open and the ``Process`` to the
    garbage collector. The close is then started again and finished (the process has
    been killed, so this is quick) before the cancellation goes on.
    """
    interrupted: BaseException | None = None
    for _ in range(_CLOSE_ATTEMPTS):
        try:
            with anyio.CancelScope(shield=True):
                await process.aclose()
        except anyio.get_cancelled_exc_class() as exc:
            interrupted = exc
        else:
            break
    if interrupted is not None:
        raise interrupted


def describe_exit(returncode: int | None) -> str:
    """Say in plain words how a process ended."""
    if returncode is None:
        return "the task process did not exit"
    if returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hints: dict[int, str] = {
            signal.SIGSEGV: " (a segmentation fault: a crash in native code)",
            signal.SIGKILL: " (killed: possibly the out-of-memory killer)",
            signal.SIGABRT: " (aborted)",
        }
        return f"the task process was killed by {name}{hints.get(sig, '')}"
    return f"the task process exited with code {returncode} before reporting a result"
