"""Fork host processes, started before anyone knows which flow they will import.

A fork host spends most of its start-up on the interpreter and on importing tideflow,
not on the flow. :func:`start_host_process` starts that part (``python -c BOOTSTRAP FD``,
with a socket pair as control channel) and returns at once; the host then waits for its
:class:`~._host_protocol.HostHello`. The fork executor starts every host this way and
sends the hello straight after. A first run starts one as the very first thing it does,
before it loads its flow, imports the supervisor or (for a blocking ``Runner.run()``)
even starts its event loop thread: the host's interpreter and imports then overlap
everything the run does before its first task. The host is offered to the event loop's
runs (:func:`offer_early_host`): the first of them to reach the fork executor takes the
process over (:func:`take_early_host`), as its flow's host when the environment and working
directory match; the run that started it closes it if none did (:func:`withdraw_early_host`).

Starting a process needs no event loop (``subprocess.Popen`` is what the event loops run
too), so :class:`PopenProcess` gives a plain ``Popen`` the :class:`anyio.abc.Process`
interface: waiting for its exit is a wait on a pidfd on Linux, and a worker thread
elsewhere. This module is imported before a first run's supervisor: it must stay light.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import Process
from anyio.lowlevel import RunVar

from ._executor import close_process, kill_group
from ._host_protocol import BOOTSTRAP

if TYPE_CHECKING:
    from collections.abc import Mapping

    from anyio.abc import ByteReceiveStream, ByteSendStream

__all__ = (
    "HostProcess",
    "PopenProcess",
    "claim_early_host",
    "offer_early_host",
    "start_early_host",
    "start_host_process",
    "take_early_host",
    "withdraw_early_host",
)

#: Whether a run of the event loop has started (or passed up) its early host.
_CLAIMED: RunVar[bool] = RunVar("tideflow_early_host", default=False)


def claim_early_host() -> bool:
    """True the first time it is called in the running event loop, then False: the first
    run launched in a loop may start a host early, the runs launched beside it may not."""
    if _CLAIMED.get():
        return False
    _CLAIMED.set(True)
    return True


#: The early host of the loop's first run, until a run takes it over.
_OFFERED: RunVar[HostProcess | None] = RunVar("tideflow_offered_host", default=None)


def offer_early_host(host: HostProcess) -> None:
    """Let the run of this event loop that reaches its executor first take ``host`` over.

    Runs launched together in a new loop load their flows side by side, and the first run
    launched (the one that started ``host``) need not be the first to be ready for it.
    """
    _OFFERED.set(host)


def take_early_host() -> HostProcess | None:
    """The host offered in this event loop, once; ``None`` if there is none (left)."""
    host = _OFFERED.get()
    if host is not None:
        _OFFERED.set(None)
    return host


def withdraw_early_host(host: HostProcess) -> bool:
    """Take back ``host`` if no run took it; true if it was still offered (the caller
    then closes it)."""
    if _OFFERED.get() is not host:
        return False
    _OFFERED.set(None)
    return True


class PopenProcess(Process):
    """A child started with :class:`subprocess.Popen`, awaitable under asyncio and trio."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    def __repr__(self) -> str:
        return f"<PopenProcess pid={self._popen.pid} returncode={self.returncode}>"

    async def wait(self) -> int:
        """Wait until the process exits (reaping it) and return its exit code."""
        while (code := self._popen.poll()) is None:
            try:
                pidfd = os.pidfd_open(self._popen.pid)
            except (AttributeError, OSError):  # not Linux, or an old kernel
                return await anyio.to_thread.run_sync(self._popen.wait, abandon_on_cancel=True)
            try:
                if self._popen.poll() is None:
                    await anyio.wait_readable(pidfd)
            finally:
                os.close(pidfd)
        return code

    def wait_now(self) -> int:
        """Wait for the exit in this thread, blocking it; the exit code."""
        return self._popen.wait()

    def terminate(self) -> None:
        """Send ``SIGTERM`` (unless the process has been reaped)."""
        self._popen.terminate()

    def kill(self) -> None:
        """Send ``SIGKILL`` (unless the process has been reaped)."""
        self._popen.kill()

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` (unless the process has been reaped)."""
        self._popen.send_signal(sig)

    @property
    def pid(self) -> int:
        """The process id."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited (it is reaped then), else ``None``."""
        return self._popen.poll()

    @property
    def stdin(self) -> ByteSendStream | None:
        """Always ``None``: a host's standard streams are ``/dev/null``."""
        return None

    @property
    def stdout(self) -> ByteReceiveStream | None:
        """Always ``None``."""
        return None

    @property
    def stderr(self) -> ByteReceiveStream | None:
        """Always ``None``."""
        return None

    async def aclose(self) -> None:
        """Wait for the process to exit (stop it first)."""
        await self.wait()


@dataclass(eq=False)
class HostProcess:
    """A started host process and the supervisor's end of its control channel."""

    python: str
    env: dict[str, str]
    cwd: str
    process: PopenProcess
    #: The control channel, a plain socket until the fork executor wraps it in a stream.
    control: socket.socket
    #: Set by the fork executor when it takes the process over: from then on it owns
    #: (and closes) it; until then, whoever started it does.
    taken: bool = False
    closed: bool = False

    def matches(self, python: str, env: Mapping[str, str], cwd: str) -> bool:
        """Whether a host for that interpreter, environment and directory can be this one."""
        return (
            self.process.returncode is None
            and (python, cwd) == (self.python, self.cwd)
            and dict(env) == self.env
        )

    async def aclose(self) -> None:
        """Stop the process (once: closing it again does nothing)."""
        if self._closing():
            await close_process(self.process)

    def close(self) -> None:
        """The same without an event loop (waits for the killed process to exit)."""
        if self._closing():
            self.process.wait_now()

    def _closing(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        try:
            self.control.close()
        finally:
            kill_group(self.process.pid, signal.SIGKILL)
        return True


def start_host_process(*, python: str, env: Mapping[str, str], cwd: str) -> HostProcess:
    """Start a host interpreter in ``cwd`` with ``env``; return once it runs.

    The host leads a new session (so killing its process group stops its tasks too) and
    writes nothing: its standard streams are ``/dev/null``. Needs no event loop.

    :raises OSError: if the process cannot start.
    """
    parent, child = socket.socketpair()
    try:
        popen = subprocess.Popen(
            [python, "-c", BOOTSTRAP, str(child.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(child.fileno(),),
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
    return HostProcess(
        python=python, env=dict(env), cwd=cwd, process=PopenProcess(popen), control=parent
    )


def start_early_host(executor: str, env: Mapping[str, str], cwd: str) -> HostProcess | None:
    """For a first run that is about to start: a host process for its fork executor to
    take over, or ``None`` if the run does not use the fork executor or the process
    cannot start (the executor then starts its hosts itself, and reports)."""
    if executor != "fork" or not hasattr(os, "fork"):
        return None
    try:
        return start_host_process(python=sys.executable, env=env, cwd=cwd)
    except OSError:
        return None
