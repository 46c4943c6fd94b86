"""The fork host: ``python -c BOOTSTRAP FD`` (or ``python -m tideflow._worker._host FD``).

``BOOTSTRAP`` (in :mod:`._host_protocol`) keeps the garbage collector off until the flow is
imported: imports make many objects and few cycles, and a host is ready sooner.

A host imports one flow module (and so tideflow and everything the flow imports) once,
then forks a child per task. It runs no event loop and starts no threads: its only loop
is a :mod:`selectors` wait on its control channel (``FD``) and on the wake-up pipe of
``SIGCHLD``. Each child leads a new session (so killing its process group stops the task
and whatever it started), writes to the stdout and stderr pipes it was given, runs the
step with :func:`~._task.execute`, reports on its task socket and leaves with
``os._exit``. The host reaps every child and reports how it ended on the same socket.

The host exits when its control channel closes (the supervisor stopped it, or died: then
it kills its running tasks first), and, when its supervisor asks for it, by itself after
``idle_timeout`` seconds without tasks. Children die with the host (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, NoReturn

from .._messages import Ready, TaskSpec
from ._host_protocol import (
    FDS_PER_TASK,
    Exited,
    FrameBuffer,
    HostHello,
    HostReady,
    HostShutdown,
    encode,
)
from ._task import execute, load_flow_class

if TYPE_CHECKING:
    from .._flow._spec import FlowSpec

__all__ = ("main",)

_PR_SET_PDEATHSIG = 1


def _pdeathsig_setter() -> object | None:
    """``prctl`` from the C library on Linux (loaded before forking), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _preload_datastore() -> None:
    """Import the datastore backend the host's environment selects (``TIDEFLOW_DATASTORE_URL``,
    by default the local folders), so that its children do not each import it (an
    object-store client takes a while; even the local store is a dozen modules).
    """
    from urllib.parse import urlsplit

    from .._stores._bundle import DATASTORE_SCHEMES

    scheme = urlsplit(os.environ.get("TIDEFLOW_DATASTORE_URL", "")).scheme or "file"
    backend = DATASTORE_SCHEMES.get(scheme)
    if backend is not None:
        with contextlib.suppress(ImportError):  # each task reports a missing extra
            importlib.import_module(backend.module)


def _preload(hello: HostHello) -> tuple[type[FlowSpec] | None, str]:
    """Import the flow once; on failure each task imports it again and reports the error."""
    _preload_datastore()
    try:
        cls = load_flow_class(hello.flow_source, hello.flow_class, hello.sys_path)
        cls._tf_graph()
    except BaseException as exc:  # noqa: BLE001 - the tasks report it, with the traceback
        return None, f"{type(exc).__name__}: {exc}"
    return cls, ""


class _Host:
    """The host's state: its control channel, its running children, and its flow."""

    def __init__(
        self, control: socket.socket, cls: type[FlowSpec] | None, idle: float | None
    ) -> None:
        self._control = control
        self._cls = cls
        self._idle = idle
        self._frames = FrameBuffer()
        self._fds: deque[int] = deque()
        #: The task socket of each running child, by pid.
        self._running: dict[int, socket.socket] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._selector = selectors.DefaultSelector()
        self._prctl = _pdeathsig_setter()
        self._pid = os.getpid()

    def serve(self) -> None:
        """Fork a child per task until the channel closes or the host has been idle."""
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._selector.register(self._control, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        idle_since = time.monotonic()
        try:
            while True:
                timeout = None
                if not self._running and self._idle is not None:
                    timeout = idle_since + self._idle - time.monotonic()
                if timeout is not None and timeout <= 0:
                    return
                events = self._selector.select(timeout)
                for key, _ in events:
                    if key.fileobj is self._control:
                        if not self._read_control():
                            return
                    else:
                        self._reap()
                if events and not self._running:
                    idle_since = time.monotonic()
        finally:
            self._stop_all()

    # -- control channel ---------------------------------------------------------------

    def _read_control(self) -> bool:
        """Take what the supervisor sent; False when the channel is closed."""
        try:
            data, fds, _, _ = socket.recv_fds(self._control, 1 << 16, 4 * FDS_PER_TASK)
        except (ConnectionError, OSError):
            return False
        self._fds.extend(fds)
        if not data:
            return False
        self._frames.feed(data)
        while (message := self._frames.next()) is not None:
            if isinstance(message, HostShutdown):
                return False
            if isinstance(message, TaskSpec):
                out, err, task = (self._fds.popleft() for _ in range(FDS_PER_TASK))
                self._start(message, out, err, socket.socket(fileno=task))
        return True

    # -- children ----------------------------------------------------------------------

    def _start(self, spec: TaskSpec, out: int, err: int, task: socket.socket) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(out)
            os.close(err)
            self._report(task, Exited(pid=0, returncode=None, problem=f"cannot fork: {exc}"))
            return
        if pid == 0:
            self._child(spec, out, err, task)
        os.close(out)
        os.close(err)
        self._running[pid] = task

    def _child(self, spec: TaskSpec, out: int, err: int, task: socket.socket) -> NoReturn:
        code = 70
        try:
            self._become_task(out, err, task)
            task.sendall(encode(Ready(os.getpid())))
            done = execute(spec, self._cls)
            sys.stdout.flush()
            sys.stderr.flush()
            task.sendall(encode(done))
            task.close()
            atexit._run_exitfuncs()
            code = 0
        except KeyboardInterrupt:
            traceback.print_exc()
            code = 128 + signal.SIGINT
        except BaseException:  # noqa: BLE001 - nothing may return into the host's loop
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _become_task(self, out: int, err: int, task: socket.socket) -> None:
        """In a new child: own session, the task's pipes as fds 1 and 2, no host state."""
        os.setsid()
        if self._prctl is not None:
            self._prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # type: ignore[operator]
            if os.getppid() != self._pid:
                os._exit(70)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._control.close()
        for other in self._running.values():
            other.close()
        self._running.clear()
        for fd in self._fds:
            os.close(fd)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)

    def _reap(self) -> None:
        """Collect every child that ended and report how it ended."""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self._wake_r, 4096):
                pass
        while self._running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            task = self._running.pop(pid, None)
            if task is not None:
                self._report(task, Exited(pid=pid, returncode=os.waitstatus_to_exitcode(status)))

    @staticmethod
    def _report(task: socket.socket, message: Exited) -> None:
        """Send ``message`` without blocking, then close; a gone reader is no problem."""
        with task:
            task.setblocking(False)
            with contextlib.suppress(OSError):
                task.send(encode(message))

    def _stop_all(self) -> None:
        """Kill what still runs (the supervisor is gone or stopping us), and reap it."""
        for pid in self._running:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)
        for pid, task in list(self._running.items()):
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(pid, 0)
                self._report(task, Exited(pid=pid, returncode=os.waitstatus_to_exitcode(status)))
        self._running.clear()


def main(argv: list[str]) -> int:
    """Import the flow, say ready, and serve tasks until stopped."""
    control = socket.socket(fileno=int(argv[0]))
    frames = FrameBuffer()
    while (hello := frames.next()) is None:
        data = control.recv(1 << 16)
        if not data:
            return 0
        frames.feed(data)
    if not isinstance(hello, HostHello):
        return 2
    cls, problem = _preload(hello)
    threads = threading.active_count()
    reason = f"importing the flow started {threads - 1} thread(s)" if threads > 1 else ""
    # Objects that exist now are shared by every child: keep the collector off them, so
    # children do not copy the pages just to look at them. (The bootstrap turned the
    # collector off while the imports ran: they make few cycles and many objects.)
    gc.freeze()
    gc.enable()
    control.sendall(
        encode(HostReady(pid=os.getpid(), forkable=not reason, reason=reason or problem))
    )
    if reason:
        return 0
    _Host(control, cls, hello.idle_timeout).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
