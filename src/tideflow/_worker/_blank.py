"""Fork host processes started before anyone knows which flow they will import.

A fork host spends most of its start-up on the interpreter and on importing tideflow,
not on the flow. :func:`start_host_process` starts that part (``python -c BOOTSTRAP FD``,
with a socket pair as control channel) and returns at once; the host then waits for its
:class:`~._host_protocol.HostHello`. The fork executor starts every host this way and
sends the hello straight after. A first run also starts one as the very first thing it
does, before it loads its flow and imports the supervisor (see
``Runner._launch``): the host's interpreter and imports then overlap everything the
run does before its first task, and the fork executor takes the process over
(:class:`HostProcess`) when the environment and working directory match.

This module is imported before a first run's supervisor: it must stay light.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import Process, UNIXSocketStream

from ._executor import close_process, kill_group
from ._host_protocol import BOOTSTRAP

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("HostProcess", "start_host_process")


@dataclass(eq=False)
class HostProcess:
    """A started host process and the supervisor's end of its control channel."""

    python: str
    env: dict[str, str]
    cwd: str
    process: Process
    control: UNIXSocketStream
    #: Set by the fork executor when it takes the process over: from then on it owns
    #: (and closes) it; until then, whoever started it does.
    taken: bool = False

    def matches(self, python: str, env: Mapping[str, str], cwd: str) -> bool:
        """Whether a host for that interpreter, environment and directory can be this one."""
        return (
            self.process.returncode is None
            and (python, cwd) == (self.python, self.cwd)
            and dict(env) == dict(self.env)
        )

    async def aclose(self) -> None:
        """Stop the process (it has not become a flow's host)."""
        try:
            await self.control.aclose()
        finally:
            kill_group(self.process.pid, signal.SIGKILL)
            await close_process(self.process)


async def start_host_process(*, python: str, env: Mapping[str, str], cwd: str) -> HostProcess:
    """Start a host interpreter in ``cwd`` with ``env``; return once it runs.

    The host leads a new session (so killing its process group stops its tasks too) and
    writes nothing: its standard streams are ``/dev/null``.

    :raises OSError: if the process cannot start.
    """
    parent, child = socket.socketpair()
    try:
        process = await anyio.open_process(
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
    try:
        control = await UNIXSocketStream.from_socket(parent)
    except BaseException:
        parent.close()
        try:
            kill_group(process.pid, signal.SIGKILL)
        finally:
            await close_process(process)
        raise
    return HostProcess(python=python, env=dict(env), cwd=cwd, process=process, control=control)
