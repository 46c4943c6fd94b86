"""A task process dies with the process that supervises it.

Task processes lead their own process group (so that stopping a task stops everything it
started), which also means that nothing kills them when their supervisor is killed with
SIGKILL. Two mechanisms close that gap, both set up in the task process:

- on Linux, ``prctl(PR_SET_PDEATHSIG, sig)`` with a real-time signal that tideflow owns:
  the kernel sends it when the parent dies, and its handler kills the whole process
  group, the step's own child processes included (a plain SIGKILL would kill the task
  process alone and leave its children running);
- everywhere, a watchdog thread that notices the control socket closing (the parent's
  end is closed by the kernel when the parent dies) or the parent process changing, and
  then kills the whole process group, the step's own child processes included.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

__all__ = ("Lifeline", "die_with_parent")

_PR_SET_PDEATHSIG = 1

#: Seconds between checks that the parent process is still the same.
POLL_INTERVAL = 0.5


def parent_death_signal() -> int:
    """The signal the kernel sends a task process when its supervisor dies."""
    return int(signal.SIGRTMIN) + 4


def die_with_parent() -> bool:
    """Kill this process group when the parent dies (Linux only).

    Returns whether the request was made. If the parent died before the call, the group
    is killed at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    sig = parent_death_signal()
    try:
        signal.signal(sig, lambda signum, frame: _kill_group())
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError, ValueError):
        return False
    if os.getppid() != parent:  # the parent died before the request was made
        _kill_group()
    return True


def _kill_group() -> None:
    """Kill this process's group (when it leads one), then this process."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


class Lifeline:
    """A daemon thread that kills this process group when the supervisor goes away.

    The supervisor sends nothing on the control socket after the task spec, so the socket
    becoming readable means it was closed. Call :meth:`release` before reporting the
    result: from then on the supervisor may close its end normally.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._parent = os.getppid()
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tideflow-lifeline", daemon=True)

    def start(self) -> Lifeline:
        """Start watching."""
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop watching: the task is reporting its result."""
        self._released.set()

    def _watch(self) -> None:
        while not self._released.is_set():
            try:
                readable, _, _ = select.select([self._sock], [], [], POLL_INTERVAL)
            except (OSError, ValueError):
                return  # the socket was closed here: the task is over
            if self._released.is_set():
                return
            if readable:
                try:
                    data = self._sock.recv(4096)  # readable: this does not block
                except OSError:
                    data = b""
                if not data:
                    _kill_group()
            elif os.getppid() != self._parent:
                _kill_group()
