"""The Dask side of the ``dask`` executor: what a Dask worker runs for one task attempt.

:func:`run_attempt` is the only function submitted to the cluster (pickled by reference:
it is part of tideflow, which every worker has installed). Its argument is a
msgspec-encoded :class:`DaskTask`, its result a msgspec-encoded :class:`RemoteOutcome`;
no user code is pickled. It fetches the run's code package, then runs the attempt as a
fork of the flow's warm host on this worker (:mod:`._dask_warm`), or, where the worker
cannot fork or has no warm-host plugin, in a child process exactly as the ``spawn``
executor does (``python -m tideflow._worker FD``, the task spec over a socket pair, its
own process group). Either way it publishes the task's output lines as Dask worker events
while it runs, then the outcome behind them: an attempt's events are one ``started``, its
line batches and one ``outcome`` (an ``end`` instead, if the function failed before it had
an outcome). Every 50 ms it checks that Dask still wants the task: a cancelled future (a
timeout, a stopped run, a supervisor that went away) stops the task's whole process
group.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
import msgspec

from .._messages import Ready, TaskDone, TaskSpec
from .._version import __version__
from ._codepack import CodePackage, cache_dir
from ._executor import kill_group
from ._framing import recv_frame_blocking, send_frame_blocking

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._dask_warm import WarmHosts

__all__ = ("DaskTask", "RemoteOutcome", "run_attempt", "versions")

#: Seconds between checks that Dask still wants the task.
POLL_INTERVAL = 0.05
#: Seconds the child has to say it is ready.
HANDSHAKE_TIMEOUT = 60.0
#: The longest log line sent in one piece, in bytes.
MAX_LINE = 1 << 20
#: Variables of the supervisor's environment that describe its machine, not the run:
#: the worker's own values are kept.
MACHINE_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONEXECUTABLE",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "HOSTNAME",
        "TERM",
        "DISPLAY",
        "TIDEFLOW_CODE_CACHE",
    }
)


class DaskTask(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt as sent to the cluster."""

    #: The msgspec-encoded :class:`TaskSpec`.
    spec: bytes
    attempt_id: str
    #: The attempt's Dask key (a coroutine task cannot ask the worker for it).
    key: str = ""
    #: The Dask event topic the lines go to.
    topic: str
    env: dict[str, str]
    cwd: str
    package: CodePackage | None = None
    #: tideflow and Python (major.minor) versions of the supervisor.
    tideflow_version: str = __version__
    python_version: str = ""
    kill_grace: float = 2.0
    #: Run the attempt as a fork of the flow's warm host, where the worker can.
    fork: bool = True


class RemoteOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of the attempt on the worker."""

    done: TaskDone | None = None
    returncode: int | None = None
    pid: int | None = None
    problem: str | None = None
    #: How many line events were published (the supervisor waits for all of them).
    events: int = 0
    worker: str = ""


def python_version() -> str:
    """This interpreter's ``major.minor`` version."""
    return ".".join(platform.python_version_tuple()[:2])


def versions() -> dict[str, str]:
    """The versions a worker runs tasks with (compared with the supervisor's on connect)."""
    return {"tideflow": __version__, "python": python_version()}


class _Publisher:
    """Publishes the attempt's events on the Dask topic, counting the line events."""

    def __init__(self, worker: Any, task: DaskTask) -> None:
        self._worker = worker
        self.worker_address = str(worker.address)
        self._topic = task.topic
        self._attempt = task.attempt_id
        self._lock = threading.Lock()
        self.lines_sent = 0

    def event(self, kind: str, **fields: Any) -> None:
        self._worker.log_event(self._topic, {"a": self._attempt, "k": kind, **fields})

    def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        with self._lock:
            self.lines_sent += 1
            self.event("lines", s=stream, l=lines)


def _pump(pipe: IO[bytes], stream: str, publisher: _Publisher) -> None:
    """Publish complete lines read from ``pipe`` until it ends (long lines in pieces)."""
    pending = b""
    fd = pipe.fileno()
    while chunk := os.read(fd, 1 << 16):
        now = time.time()
        data = pending + chunk
        parts = data.split(b"\n")
        pending = parts.pop()
        while len(pending) >= MAX_LINE:
            parts.append(pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
        if parts:
            publisher.lines(stream, [(now, line) for line in parts])
    if pending:
        publisher.lines(stream, [(time.time(), pending)])


def _fetch_package(task: DaskTask, spec: TaskSpec, env: Mapping[str, str]) -> str:
    """The folder of the run's code package here, fetched on first use (by a short
    process with the task's environment, which holds the store's credentials)."""
    assert task.package is not None
    cached = cache_dir(env) / task.package.sha
    if cached.is_dir():
        return str(cached)
    command = [sys.executable, "-m", "tideflow._worker._codepack", task.package.sha]
    result = subprocess.run(
        [*command, spec.datastore_url or "", spec.root],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {result.returncode}")
    return result.stdout.strip()


def _cached(task: DaskTask, env: Mapping[str, str]) -> bool:
    """Whether the run's code package (if any) is on this worker already."""
    return task.package is None or (cache_dir(env) / task.package.sha).is_dir()


def _localize(task: DaskTask, spec: TaskSpec, env: Mapping[str, str]) -> tuple[TaskSpec, str]:
    """The spec and working folder with the code package's paths of this worker."""
    cwd = task.cwd
    if task.package is None:
        return spec, cwd if Path(cwd).is_dir() else os.getcwd()
    here = _fetch_package(task, spec, env)
    source = task.package.source_dir

    def mapped(path: str) -> str:
        if path == source or path.startswith(source + os.sep):
            return here + path[len(source) :]
        return path

    spec = msgspec.structs.replace(
        spec,
        flow_source=mapped(spec.flow_source),
        sys_path=[mapped(p) for p in spec.sys_path],
    )
    cwd = mapped(cwd)
    return spec, cwd if Path(cwd).is_dir() else here


def _mismatch(task: DaskTask, worker: str) -> str | None:
    mine = versions()
    if task.tideflow_version != mine["tideflow"] or (
        task.python_version and task.python_version != mine["python"]
    ):
        return (
            f"the Dask worker {worker} runs tideflow {mine['tideflow']} on Python "
            f"{mine['python']}, the supervisor tideflow {task.tideflow_version} on Python "
            f"{task.python_version}: install the same versions on both"
        )
    return None


def _child_env(task: DaskTask) -> dict[str, str]:
    env = dict(os.environ)
    env.update((k, v) for k, v in task.env.items() if k not in MACHINE_VARIABLES)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run_attempt(payload: bytes) -> bytes:
    """Run one task attempt on this Dask worker; see the module docstring.

    A coroutine function: Dask runs it in the worker's event loop, where the warm hosts'
    executor lives (what blocks, the fresh-interpreter path and fetching a code package,
    runs in a worker thread).
    """
    from distributed import get_worker

    from ._dask_warm import PLUGIN_NAME, WarmHosts, can_fork

    task = msgspec.msgpack.decode(payload, type=DaskTask)
    worker = get_worker()
    publisher = _Publisher(worker, task)
    address = str(worker.address)

    reported = False

    def outcome(**fields: Any) -> bytes:
        nonlocal reported
        result = RemoteOutcome(events=publisher.lines_sent, worker=address, **fields)
        encoded = msgspec.msgpack.encode(result)
        # The outcome also goes out as an event, behind the attempt's lines: the
        # supervisor need not fetch the Dask result from the worker (a round trip).
        # It comes once the attempt's processes are gone, so it also ends the attempt.
        publisher.event("outcome", value=encoded)
        reported = True
        return encoded

    try:
        if (problem := _mismatch(task, address)) is not None:
            return outcome(problem=problem)
        spec = msgspec.msgpack.decode(task.spec, type=TaskSpec)
        env = _child_env(task)
        try:
            if _cached(task, env):
                spec, cwd = _localize(task, spec, env)
            else:
                spec, cwd = await anyio.to_thread.run_sync(_localize, task, spec, env)
        except Exception as exc:  # noqa: BLE001 (reported as the attempt's failure)
            return outcome(problem=f"the Dask worker {address} could not get the code: {exc}")

        def wanted() -> bool:
            # A worker that closes (it lost its scheduler, or is told to) has nobody to
            # report to: its tasks stop rather than hold the close up.
            if str(worker.status.name) not in ("running", "paused", "closing_gracefully"):
                return False
            state = worker.state.tasks.get(task.key)
            return state is not None and state.state == "executing"

        hosts = worker.plugins.get(PLUGIN_NAME)
        if task.fork and isinstance(hosts, WarmHosts) and can_fork():
            return outcome(**await _run_forked(hosts, env, spec, cwd, publisher, wanted, task))
        return outcome(
            **await anyio.to_thread.run_sync(
                _supervise_child, env, spec, cwd, publisher, wanted, address, task
            )
        )
    finally:
        if not reported:
            publisher.event("end")  # it failed here: its processes are gone all the same


class _EventSink:
    """The task sink of a forked attempt: what it does goes out as Dask worker events."""

    def __init__(self, publisher: _Publisher, address: str) -> None:
        self._publisher = publisher
        self._address = address

    async def started(self, pid: int) -> None:
        self._publisher.event("started", pid=pid, worker=self._address)

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self._publisher.lines(stream, lines)


async def _run_forked(
    hosts: WarmHosts,
    env: dict[str, str],
    spec: TaskSpec,
    cwd: str,
    publisher: _Publisher,
    wanted: Callable[[], bool],
    task: DaskTask,
) -> dict[str, Any]:
    """Run the attempt as a fork of the flow's warm host on this worker."""
    sink = _EventSink(publisher, publisher.worker_address)
    env.pop("PYTHONUNBUFFERED", None)  # the fork executor sets it
    try:
        done, stopped = await hosts.run(
            spec, sink, env=env, cwd=cwd, grace=task.kill_grace, wanted=wanted
        )
    except RuntimeError as exc:
        return {"problem": str(exc)}
    if stopped or done is None:
        return {"problem": "the task was cancelled"}
    return {
        "done": done.done,
        "returncode": done.returncode,
        "pid": done.pid,
        "problem": done.problem,
    }


def _supervise_child(
    env: dict[str, str],
    spec: TaskSpec,
    cwd: str,
    publisher: _Publisher,
    wanted: Any,
    address: str,
    task: DaskTask,
) -> dict[str, Any]:
    """Start the child, feed it the spec, publish its output, stop it if no longer wanted."""
    parent, child = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tideflow._worker", str(child.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(child.fileno(),),
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        parent.close()
        return {"problem": f"cannot start the task process on {address}: {exc}"}
    finally:
        child.close()
    publisher.event("started", pid=process.pid, worker=address)
    assert process.stdout is not None and process.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(pipe, name, publisher), daemon=True)
        for pipe, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
    ]
    for pump in pumps:
        pump.start()
    report: dict[str, Any] = {}
    control = threading.Thread(target=_talk, args=(parent, spec, report), daemon=True)
    control.start()
    stopped = False
    try:
        while process.poll() is None:
            if not wanted():
                stopped = True
                _stop(process, task.kill_grace)
                break
            time.sleep(POLL_INTERVAL)
    finally:
        kill_group(process.pid, signal.SIGKILL)
        process.wait()
        control.join(timeout=5)
        parent.close()
        for pump in pumps:
            pump.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
    result: dict[str, Any] = {"returncode": process.returncode, "pid": process.pid}
    if stopped:
        result["problem"] = "the task was cancelled"
    elif isinstance(report.get("done"), TaskDone):
        result["done"] = report["done"]
    elif "problem" in report:
        result["problem"] = report["problem"]
    return result


def _talk(sock: socket.socket, spec: TaskSpec, report: dict[str, Any]) -> None:
    """The control channel: wait for the handshake, send the spec, read the result."""
    try:
        sock.settimeout(HANDSHAKE_TIMEOUT)
        hello = recv_frame_blocking(sock)
        if not isinstance(hello, Ready):
            report["problem"] = "the worker did not start (no handshake)"
            return
        sock.settimeout(None)
        send_frame_blocking(sock, spec)
        report["done"] = recv_frame_blocking(sock)
    except (OSError, msgspec.DecodeError) as exc:
        report.setdefault("problem", f"the control channel broke: {exc}")


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate the process group, wait ``grace`` seconds, then kill it."""
    kill_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    kill_group(process.pid, signal.SIGKILL)
