"""The ``fork`` executor: a warm host process per flow forks a child per task.

Starting an interpreter and importing tideflow and the flow costs far more than the task
itself for small steps. A host (:mod:`._host`) pays that once per flow file, environment
and working directory; each task is then a ``fork()`` of it. The host is started like a
``spawn`` worker (``anyio.open_process``, a socket pair as control channel) and never runs
an event loop or a thread, so forking it is safe.

For each task the executor creates the stdout and stderr pipes and a task socket pair,
and hands the write ends and the task's socket end to the host with the task's
:class:`~tideflow._messages.TaskSpec` (``SCM_RIGHTS``). It then reads the pipes line by
line exactly as the spawn executor does, learns the child's pid (``Ready``), its report
(``TaskDone``) and how it ended (``Exited``, from the host, which reaps it). The child
leads its own process group, so stopping a task is the same terminate, grace period,
kill of the whole group as with spawn.

Hosts are shared by all runs of the supervisor that use the same flow, environment and
working directory; a flow file whose modification time or size changed gets a new host.
A host stays warm while a run that used it goes on (so the tasks of one run never wait
for a new host), and once no run uses it, for ``idle_timeout`` seconds more (so runs that
follow each other stay warm); then it is stopped. :meth:`watch_hosts`, which the
supervisor runs beside its run actors, keeps that time; without it, a host exits by itself
after ``idle_timeout`` seconds without tasks. :meth:`aclose` stops every host (the
supervisor calls it when its event loop ends). A host whose imports
started threads cannot fork safely: its flow falls back to the spawn executor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import msgspec
from anyio.abc import Process, TaskGroup, UNIXSocketStream

from ._blank import HostProcess, start_host_process
from ._executor import TaskOutcome, TaskSink, close_process, kill_group
from ._fork_task import FdReceiveStream, NotStarted, supervise_task
from ._host_protocol import (
    FrameBuffer,
    HostHello,
    HostReady,
    encode,
    receive_frame,
)
from ._spawn import HANDSHAKE_TIMEOUT, SpawnExecutor

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._messages import TaskSpec

__all__ = ("ForkExecutor", "ForkStatistics")

#: Seconds a host stays warm once no run uses it (``Config.host_idle_timeout``).
HOST_IDLE_TIMEOUT = 2.0
#: How often a task is handed to a new host when its host died before starting it.
_HOST_ATTEMPTS = 3


class ForkStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a :class:`ForkExecutor`: see :meth:`ForkExecutor.statistics`."""

    #: Hosts alive now.
    hosts: int
    #: Tasks running in them now.
    running_tasks: int
    #: Hosts started since the executor was created.
    hosts_started: int


@dataclass(frozen=True)
class _HostKey:
    """What a host is shared by: the flow, its file's version, sys.path, environment, cwd."""

    source: str
    flow_class: str
    #: Modification time (ns) and size of the flow's file.
    version: tuple[int, int]
    sys_path: tuple[str, ...]
    env: frozenset[tuple[str, str]]
    cwd: str

    def same_flow(self, other: _HostKey) -> bool:
        """Whether ``other`` is the same flow in the same place, maybe another version."""
        return dataclasses.replace(other, version=self.version) == self


@dataclass(eq=False)
class _Host:
    """A running host process, seen from the supervisor."""

    key: _HostKey
    process: Process
    control: UNIXSocketStream
    pid: int
    send_lock: anyio.Lock = field(default_factory=lambda: anyio.Lock(fast_acquire=True))
    active: int = 0
    #: The runs (``flow/run_id``) that used the host and have not ended.
    runs: set[str] = field(default_factory=set)
    #: Set when a newer version of the flow file has its own host.
    stale: bool = False
    #: Set (and replaced) when the host is no longer in use, or the process exits.
    changed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @property
    def in_use(self) -> bool:
        """Whether a task runs in the host, or a run that used it goes on."""
        return self.active > 0 or bool(self.runs)

    def touch(self) -> None:
        """Wake whoever waits for a change of the host."""
        event, self.changed = self.changed, anyio.Event()
        event.set()

    async def aclose(self, grace: float) -> None:
        """Close the channel (the host exits), wait ``grace`` seconds, then kill. Shielded.

        Even when a native asyncio cancellation gets through the shield (a loop shutting
        down cancels all its tasks), the host is killed and its process closed.
        """
        try:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(OSError, anyio.BrokenResourceError):
                    await self.control.aclose()
                if self.process.returncode is None:
                    with anyio.move_on_after(grace):
                        await self.process.wait()
        finally:
            kill_group(self.process.pid, signal.SIGKILL)
            await close_process(self.process)


class ForkExecutor:
    """Runs each task attempt in a child forked from a warm host; see the module docstring.

    :param python: the interpreter of the hosts (default: this one).
    :param kill_grace: seconds between SIGTERM and SIGKILL when a task is stopped.
    :param idle_timeout: seconds a host stays warm once no run uses it (default 2).
    """

    name = "fork"

    def __init__(
        self,
        *,
        python: str | None = None,
        kill_grace: float = 2.0,
        idle_timeout: float | None = None,
    ) -> None:
        self._python = python or sys.executable
        self._grace = kill_grace
        #: Seconds a host stays warm once no run uses it; change it for all hosts at will.
        self.idle_timeout = HOST_IDLE_TIMEOUT if idle_timeout is None else idle_timeout
        self._watchers: TaskGroup | None = None
        self._hosts: dict[_HostKey, _Host] = {}
        #: Every host whose process is not closed yet, whether or not it is in ``_hosts``
        #: (a watcher forgets its host before it closes it): :meth:`aclose` closes them.
        self._open: set[_Host] = set()
        self._locks: dict[_HostKey, anyio.Lock] = {}
        self._no_fork: set[_HostKey] = set()
        #: Hosts being started ahead of their first task (:meth:`warm_up`), and those of
        #: them whose process runs but whose handshake nobody has taken yet.
        self._warming: set[_HostKey] = set()
        self._spawned: dict[_HostKey, _Host] = {}
        self._origins: dict[str, str | None] = {}
        #: The environment of the last key made, and its frozen items (see :meth:`_key`).
        self._last_env: tuple[Mapping[str, str] | None, frozenset[tuple[str, str]]] = (
            None,
            frozenset(),
        )
        self._spawn = SpawnExecutor(python=self._python, kill_grace=kill_grace)
        self._closed = False
        self._hosts_started = 0

    def __repr__(self) -> str:
        return f"<ForkExecutor hosts={len(self._hosts)}>"

    def host_pids(self) -> list[int]:
        """The pids of the hosts that are running now (for tests and introspection)."""
        return [host.pid for host in self._hosts.values() if host.alive]

    def run_ended(self, flow: str, run_id: str) -> None:
        """The run no longer needs its hosts: each one it used may go once idle."""
        run = f"{flow}/{run_id}"
        for host in list(self._hosts.values()):
            if run in host.runs:
                host.runs.discard(run)
                if not host.in_use:
                    host.touch()

    async def watch_hosts(self) -> None:
        """Stop each host once no run has used it for ``idle_timeout`` seconds, and reap the
        hosts that exit; run until cancelled (the supervisor runs it in its task group)."""
        try:
            async with anyio.create_task_group() as tg:
                self._watchers = tg
                for host in self._hosts.values():
                    tg.start_soon(self._watch, host)
                for key in self._warming:
                    tg.start_soon(self._warm, key)
                await anyio.sleep_forever()
        finally:
            self._watchers = None

    async def _watch(self, host: _Host) -> None:
        """Wait until ``host`` is unused for ``idle_timeout`` seconds, or exits; then stop
        it and forget it. When the supervisor ends, the host is left to :meth:`aclose`."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._wait_exit, host)
            while host.alive:
                changed = host.changed
                if host.in_use:
                    await changed.wait()
                    continue
                with anyio.move_on_after(self.idle_timeout) as idle:
                    await changed.wait()
                if idle.cancelled_caught and not host.in_use:
                    break
            tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            if self._hosts.get(host.key) is host:
                del self._hosts[host.key]  # no new task may pick it from now on
            await self._close(host, self._grace)

    @staticmethod
    async def _wait_exit(host: _Host) -> None:
        await host.process.wait()
        host.touch()

    async def aclose(self) -> None:
        """Stop every host (and so any task still running in one). Shielded."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            self._hosts, self._spawned = {}, {}
            interrupted: BaseException | None = None
            while self._open:
                try:
                    await self._close(next(iter(self._open)), self._grace)
                except anyio.get_cancelled_exc_class() as exc:
                    interrupted = exc  # the host is closed all the same: go on
            await self._spawn.aclose()
        if interrupted is not None:
            raise interrupted

    async def _close(self, host: _Host, grace: float) -> None:
        """Stop ``host`` and close its process; forget it even if that is interrupted."""
        try:
            await host.aclose(grace)
        finally:
            self._open.discard(host)

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        """Fork a child for ``spec`` from the flow's host, stream its output, wait for it."""
        key = self._key(spec.flow_source, spec.flow_class, spec.sys_path, env, cwd)
        if key in self._no_fork:
            return await self._spawn.run_task(spec, sink, env=env, cwd=cwd)
        problem = "the fork host could not start the task"
        for _ in range(_HOST_ATTEMPTS):
            try:
                host = await self._host(key)
            except (OSError, anyio.BrokenResourceError) as exc:
                return TaskOutcome(done=None, returncode=None, problem=f"cannot start: {exc}")
            if host is None:
                return await self._spawn.run_task(spec, sink, env=env, cwd=cwd)
            host.runs.add(f"{spec.flow_name}/{spec.run_id}")
            try:
                return await self._run_on(host, spec, sink)
            except NotStarted as exc:
                problem = str(exc)
                await self._drop(host)
        return TaskOutcome(done=None, returncode=None, problem=problem)

    # -- hosts -------------------------------------------------------------------------

    def _origin(self, source: str) -> str | None:
        """The file whose changes make a new host: the flow file, or the flow's module."""
        if source.endswith(".py") or os.sep in source:
            return source
        if source not in self._origins:
            module = source.partition(":")[0]
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                found = None
            self._origins[source] = found.origin if found is not None else None
        return self._origins[source]

    def _key(
        self,
        flow_source: str,
        flow_class: str,
        sys_path: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
    ) -> _HostKey:
        origin = self._origin(flow_source)
        version: tuple[int, int] = (0, 0)
        if origin is not None:
            with contextlib.suppress(OSError):
                stat = os.stat(origin)
                version = (stat.st_mtime_ns, stat.st_size)
        # A run gives each of its tasks the same environment mapping: it is frozen once
        # (an environment has a hundred variables; the keys of the hosts share it).
        if env is not self._last_env[0]:
            self._last_env = (env, frozenset(env.items()))
        return _HostKey(
            source=flow_source,
            flow_class=flow_class,
            version=version,
            sys_path=tuple(sys_path),
            env=self._last_env[1],
            cwd=cwd,
        )

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
        """Start the host of a flow now, unless it has one; return once its process runs.

        A run calls it as soon as its flow is loaded: the host's interpreter starts and
        imports the flow while the run is still being created, and its first task then
        finds the host ready. The handshake completes in the background (or in the first
        task, without :meth:`watch_hosts` running). A host that cannot start is left to
        that first task to report.

        :param started: a host process started before the flow was known (by a first
            run); the executor takes it over, as this flow's host if it fits, and
            closes it otherwise.
        """
        if started is not None:
            started.taken = True  # the executor uses or closes it from now on
        try:
            if self._closed:
                return
            key = self._key(flow_source, flow_class, sys_path, env, cwd)
            if key in self._hosts or key in self._no_fork or key in self._warming:
                return
            self._warming.add(key)
            try:
                # Under the key's lock, so that a task (or the background handshake)
                # that comes meanwhile takes this host rather than starting its own.
                async with self._locks.setdefault(key, anyio.Lock()):
                    given, started = started, None
                    self._spawned[key] = await self._spawn_host(key, given)
            except OSError:
                self._warming.discard(key)  # the first task starts the host and reports
                return
            except BaseException:
                self._warming.discard(key)
                raise
            if self._watchers is not None:
                self._watchers.start_soon(self._warm, key)
        finally:
            if started is not None:
                await started.aclose()

    async def _warm(self, key: _HostKey) -> None:
        try:
            # Errors are the first task's to report: it starts the host again.
            with contextlib.suppress(OSError, anyio.BrokenResourceError):
                await self._host(key)
        finally:
            self._warming.discard(key)

    async def _host(self, key: _HostKey) -> _Host | None:
        """The live host for ``key``, started if needed; ``None`` when it cannot fork."""
        if self._closed:
            raise anyio.ClosedResourceError
        host = self._hosts.get(key)
        if host is not None and host.alive:
            return host
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            host = self._hosts.get(key)
            if host is not None and host.alive:
                return host
            if host is not None:
                await self._drop(host)
            if key in self._no_fork:
                return None
            host = await self._start_host(key)
            if host is None:
                self._no_fork.add(key)
                return None
            self._hosts[key] = host
            if self._watchers is not None:
                self._watchers.start_soon(self._watch, host)
        await self._retire_older(host)
        return host

    async def _start_host(self, key: _HostKey) -> _Host | None:
        """A new host for ``key`` (the one a warm-up spawned, if any), once it has imported
        the flow; ``None`` if it cannot fork. :raises OSError: if it does not start."""
        host = self._spawned.pop(key, None)
        if host is None or not host.alive:
            if host is not None:
                await self._close(host, 0)
            host = await self._spawn_host(key)
        try:
            ready = None
            with anyio.move_on_after(HANDSHAKE_TIMEOUT):
                ready = await receive_frame(host.control, FrameBuffer())
        except BaseException:
            await self._close(host, 0)
            raise
        if not isinstance(ready, HostReady):
            await self._close(host, 0)
            raise OSError(f"the fork host for {key.source} did not start (no handshake)")
        self._hosts_started += 1
        if not ready.forkable:
            await self._close(host, self._grace)
            return None
        return host

    async def _spawn_host(self, key: _HostKey, started: HostProcess | None = None) -> _Host:
        """Start a host process for ``key`` and send it the flow to import; return without
        waiting for it. ``started`` is a process started before the flow was known: it
        becomes the host if it fits (same interpreter, environment and directory), else
        it is closed.

        :raises OSError: if the process cannot start.
        """
        env = dict(key.env)
        if started is not None and not started.matches(self._python, env, key.cwd):
            await started.aclose()
            started = None
        if started is None:
            started = start_host_process(python=self._python, env=env, cwd=key.cwd)
        try:
            control = await UNIXSocketStream.from_socket(started.control)
        except BaseException:
            await started.aclose()
            raise
        host = _Host(key=key, process=started.process, control=control, pid=started.process.pid)
        self._open.add(host)
        hello = HostHello(
            flow_source=key.source,
            flow_class=key.flow_class,
            sys_path=list(key.sys_path),
            # With a watcher, the supervisor says when the host goes.
            idle_timeout=None if self._watchers is not None else self.idle_timeout,
        )
        try:
            with anyio.move_on_after(HANDSHAKE_TIMEOUT):
                await host.control.send(encode(hello))
                return host
        except BaseException:
            await self._close(host, 0)
            raise
        await self._close(host, 0)
        raise OSError(f"the fork host for {key.source} did not take its flow")

    async def _retire_older(self, current: _Host) -> None:
        """Stop the idle hosts of older versions of the same flow (and mark busy ones)."""
        for key, host in list(self._hosts.items()):
            if host is not current and current.key.same_flow(key):
                host.stale = True
                if host.active == 0:
                    await self._drop(host)

    async def _drop(self, host: _Host) -> None:
        if self._hosts.get(host.key) is host:
            del self._hosts[host.key]
        await self._close(host, self._grace)

    # -- one task ----------------------------------------------------------------------

    async def _run_on(self, host: _Host, spec: TaskSpec, sink: TaskSink) -> TaskOutcome:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        mine, theirs = socket.socketpair()
        readers = [FdReceiveStream(out_r), FdReceiveStream(err_r), FdReceiveStream(mine.detach())]
        host.active += 1
        try:
            try:
                async with host.send_lock:
                    await host.control.send_fds(encode(spec), [out_w, err_w, theirs.fileno()])
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise NotStarted(f"the fork host is gone ({exc!r})") from exc
            finally:
                os.close(out_w)
                os.close(err_w)
                theirs.close()
            return await supervise_task(sink, *readers, grace=self._grace)
        finally:
            host.active -= 1
            if not host.in_use:
                host.touch()  # its watcher waits for that (or for the process to exit)
            with anyio.CancelScope(shield=True):
                for reader in readers:
                    await reader.aclose()
            if host.stale and host.active == 0:
                await self._drop(host)

    def statistics(self) -> ForkStatistics:
        """How many hosts run, how many tasks they run, and how many were ever started."""
        return ForkStatistics(
            hosts=sum(host.alive for host in self._hosts.values()),
            running_tasks=sum(host.active for host in self._hosts.values()),
            hosts_started=self._hosts_started,
        )
