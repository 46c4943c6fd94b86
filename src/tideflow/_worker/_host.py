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
from ._task import execute, load_flow_class, rehearse

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._flow._spec import FlowSpec

__all__ = ("main", "serve")

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
        #: The child forked ahead of the next task, and the host's end of its channel.
        self._spare: tuple[int, socket.socket] | None = None
        #: The last task received (a spare rehearses it), and the steps rehearsed here.
        self._last: TaskSpec | None = None
        self._rehearsed: set[str] = set()
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
                if self._spare is None:
                    self._fork_spare()
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
                self._last = message
                if message.step not in self._rehearsed:
                    # Once per step, after its first task has started: later children
                    # inherit what the rehearsal warmed up.
                    self._rehearsed.add(message.step)
                    self._rehearse(message)
                    gc.freeze()
        return True

    def _rehearse(self, spec: TaskSpec) -> None:
        done = rehearse(spec, self._cls)
        if done is not None:
            encode(done)

    # -- children ----------------------------------------------------------------------

    def _start(self, spec: TaskSpec, out: int, err: int, task: socket.socket) -> None:
        """Hand the task to the spare child, or fork one for it if there is no spare."""
        pid = self._hand_to_spare(spec, out, err, task)
        try:
            if pid is None:
                pid = self._fork(lambda: self._child(spec, out, err, task, detach=True))
        except OSError as exc:
            self._report(task, Exited(pid=0, returncode=None, problem=f"cannot fork: {exc}"))
        else:
            self._running[pid] = task
        finally:
            os.close(out)
            os.close(err)

    @staticmethod
    def _fork(child: Callable[[], NoReturn]) -> int:
        """Fork a child that runs ``child``; its pid. :raises OSError: if forking fails."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child()
        return pid

    def _fork_spare(self) -> None:
        """Fork the child that runs the next task, ahead of it: forking a process and
        making it a task's own session is then off the task's way."""
        mine, theirs = socket.socketpair()
        try:
            self._spare = (self._fork(lambda: self._spare_child(mine, theirs)), mine)
        except OSError:  # no spare: the next task is forked when it comes
            mine.close()
        finally:
            theirs.close()

    def _hand_to_spare(
        self, spec: TaskSpec, out: int, err: int, task: socket.socket
    ) -> int | None:
        """Send the task and its descriptors to the spare child; its pid, or ``None``."""
        if self._spare is None:
            return None
        (pid, channel), self._spare = self._spare, None
        with channel:
            try:
                socket.send_fds(channel, [encode(spec)], [out, err, task.fileno()])
            except OSError:  # the spare died: it is reaped like any child
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                return None
        return pid

    def _spare_child(self, mine: socket.socket, channel: socket.socket) -> NoReturn:
        """In the spare: wait for a task from the host, then run it (exit if none comes)."""
        try:
            mine.close()
            self._become_task()
            if self._last is not None:
                self._rehearse(self._last)
            frames = FrameBuffer()
            fds: list[int] = []
            while (spec := frames.next()) is None:
                data, received, _, _ = socket.recv_fds(channel, 1 << 16, FDS_PER_TASK)
                fds.extend(received)
                if not data:  # the host is gone or stopped the spare
                    os._exit(0)
                frames.feed(data)
            channel.close()
            if not isinstance(spec, TaskSpec) or len(fds) != FDS_PER_TASK:
                os._exit(70)
            out, err, task = fds
            self._child(spec, out, err, socket.socket(fileno=task), detach=False)
        finally:
            os._exit(70)  # only if the spare failed before the task's own code took over

    def _child(
        self, spec: TaskSpec, out: int, err: int, task: socket.socket, *, detach: bool
    ) -> NoReturn:
        """In a task's child (``detach``: just forked, not a spare): run the step with
        ``out`` and ``err`` as its stdout and stderr, and report it. The output is closed
        before the report, so that the supervisor has every line once it has the report."""
        code = 70
        try:
            if detach:
                self._become_task()
            _redirect(out, err)
            task.sendall(encode(Ready(os.getpid())))
            done = execute(spec, self._cls)
            atexit._run_exitfuncs()
            _end_output()
            task.sendall(encode(done))
            task.close()
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

    def _become_task(self) -> None:
        """In a new child: own session, no host state, stdin from ``/dev/null``."""
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
        self._forget_spare()
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)

    def _reap(self) -> None:
        """Collect every child that ended, report how it ended and stop what it left."""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self._wake_r, 4096):
                pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self._spare is not None and self._spare[0] == pid:
                self._forget_spare()
            task = self._running.pop(pid, None)
            if task is not None:
                self._report(task, Exited(pid=pid, returncode=os.waitstatus_to_exitcode(status)))
                # Whatever the step started in its session goes with it.
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)

    def _forget_spare(self) -> int | None:
        """Close the channel to the spare child and forget it; its pid, if there was one."""
        if self._spare is None:
            return None
        (pid, channel), self._spare = self._spare, None
        channel.close()
        return pid

    @staticmethod
    def _report(task: socket.socket, message: Exited) -> None:
        """Send ``message`` without blocking, then close; a gone reader is no problem."""
        with task:
            task.setblocking(False)
            with contextlib.suppress(OSError):
                task.send(encode(message))

    def _stop_all(self) -> None:
        """Kill what still runs (the supervisor is gone or stopping us), and reap it."""
        spare = self._forget_spare()
        if spare is not None:
            with contextlib.suppress(OSError):
                os.kill(spare, signal.SIGKILL)
                os.waitpid(spare, 0)
        for pid in self._running:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)
        for pid, task in list(self._running.items()):
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(pid, 0)
                self._report(task, Exited(pid=pid, returncode=os.waitstatus_to_exitcode(status)))
        self._running.clear()


def _redirect(out: int, err: int) -> None:
    """Make ``out`` and ``err`` the process's stdout and stderr (fds 1 and 2)."""
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)


def _end_output() -> None:
    """Flush the task's stdout and stderr, then point fds 1 and 2 at ``/dev/null``: the
    pipes close, the supervisor sees their ends, and so has every line the step wrote."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


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


def serve(argv: list[str]) -> NoReturn:
    """Run :func:`main`, then leave at once: the exit handlers run, but the interpreter's
    teardown (collecting and freeing every object the imports made) would only delay
    the supervisor, which waits for the host to exit. The host writes nothing: there is
    no output to flush."""
    code = 70
    try:
        code = main(argv)
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        os._exit(code)


if __name__ == "__main__":
    serve(sys.argv[1:])
