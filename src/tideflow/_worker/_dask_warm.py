"""Warm hosts on a Dask worker: each attempt of the ``dask`` executor is a fork there.

Starting an interpreter and importing tideflow and the flow costs far more than a small
step. On a Dask worker process, :class:`WarmHosts` (a Dask worker plugin, registered by
the executor when it connects) keeps the machinery of the local ``fork`` executor: one
:class:`~._fork.ForkExecutor` in an event loop of its own (a thread of the worker
process, started by the first attempt). Each attempt that arrives on one of the worker's
Dask threads is handed to that loop; the flow's host (an interpreter that imported the
flow once) forks a child for it. A host is shared by the attempts of the flow's runs on
that worker (same code package, environment and working folder) and stops once no
attempt used it for ``idle_timeout`` seconds; all of them stop with the worker.

The Dask thread that waits for the attempt checks every 50 ms that Dask still wants the
task; when it does not, it cancels the attempt in the loop, which stops the child's whole
process group (terminate, grace period, kill) as the ``fork`` executor does locally. A
worker that dies takes its hosts with it: a host exits (killing its children) when its
control channel closes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
from distributed import WorkerPlugin

from ._fork import ForkExecutor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from anyio.from_thread import BlockingPortal

    from .._messages import TaskSpec
    from ._executor import TaskOutcome, TaskSink

__all__ = ("PLUGIN_NAME", "WarmHosts", "can_fork", "host_statistics")

#: The name of the plugin on every worker.
PLUGIN_NAME = "tideflow-warm-hosts"
#: Seconds between checks that Dask still wants the task.
POLL_INTERVAL = 0.05


def can_fork() -> bool:
    """Whether this machine can run attempts as forks of a warm host (POSIX with fork)."""
    return os.name == "posix" and hasattr(os, "fork")


class _Stop:
    """Lets a Dask thread cancel an attempt that runs in the hosts' event loop."""

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.requested = False

    def cancel(self) -> None:
        """Cancel the attempt now, or as soon as it starts (called in the loop)."""
        self.requested = True
        if self.scope is not None:
            self.scope.cancel()


class WarmHosts(WorkerPlugin):
    """The warm hosts of one Dask worker process: see the module docstring.

    :param idle_timeout: seconds a host stays warm once no attempt uses it.
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, idle_timeout: float) -> None:
        # Only this travels to the workers (pickled by reference to this class).
        self.idle_timeout = idle_timeout

    def setup(self, worker: Any) -> None:
        """Prepare the plugin on ``worker``; the loop starts with the first attempt."""
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        #: One executor per kill grace the supervisors ask for (in practice one).
        self._executors: dict[float, ForkExecutor] = {}
        self._watchers: list[concurrent.futures.Future[None]] = []
        self._closed = False

    async def teardown(self, worker: Any) -> None:
        """Stop every host (and any attempt still running in one) and the loop."""
        await anyio.to_thread.run_sync(self.close)

    def close(self) -> None:
        """Blocking :meth:`teardown`: stop the hosts, then the loop's thread."""
        with self._lock:
            self._closed = True
            stack, self._stack = self._stack, None
            portal, self._portal = self._portal, None
            executors = list(self._executors.values())
            self._executors.clear()
        if stack is None or portal is None:
            return
        with stack:
            for watcher in self._watchers:
                watcher.cancel()
            for executor in executors:
                with contextlib.suppress(Exception):
                    portal.call(executor.aclose)
            with contextlib.suppress(RuntimeError):
                portal.call(portal.stop, True)

    def host_pids(self) -> list[int]:
        """The pids of the worker's running hosts (for tests and introspection)."""
        with self._lock:
            portal, executors = self._portal, list(self._executors.values())
        if portal is None:
            return []
        return [pid for executor in executors for pid in portal.call(executor.host_pids)]

    def hosts_started(self) -> int:
        """How many hosts this worker started so far (for tests and introspection)."""
        with self._lock:
            portal, executors = self._portal, list(self._executors.values())
        if portal is None:
            return 0
        return sum(portal.call(executor.statistics).hosts_started for executor in executors)

    def _executor(self, grace: float) -> tuple[BlockingPortal, ForkExecutor]:
        """The loop's portal and the executor of ``grace``, started on first use.

        :raises RuntimeError: if the worker is closing.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the Dask worker is closing")
            if self._portal is None:
                self._stack = contextlib.ExitStack()
                self._portal = self._stack.enter_context(
                    anyio.from_thread.start_blocking_portal("asyncio", name="tideflow-warm-hosts")
                )
            portal = self._portal
            executor = self._executors.get(grace)
            if executor is None:
                # Made in the loop: the executor may hold objects of its event loop.
                executor = portal.call(self._new_executor, grace)
                self._executors[grace] = executor
                self._watchers.append(portal.start_task_soon(executor.watch_hosts))
            return portal, executor

    async def _new_executor(self, grace: float) -> ForkExecutor:
        return ForkExecutor(kill_grace=grace, idle_timeout=self.idle_timeout)

    def run(
        self,
        spec: TaskSpec,
        sink: TaskSink,
        *,
        env: Mapping[str, str],
        cwd: str,
        grace: float,
        wanted: Callable[[], bool],
    ) -> tuple[TaskOutcome | None, bool]:
        """Run the attempt as a fork of its flow's host; block until it ends.

        :return: the outcome (``None`` when it was stopped before it ended) and whether it
            was stopped because Dask no longer wanted it.
        :raises RuntimeError: if the worker is closing.
        """
        portal, executor = self._executor(grace)
        stop = _Stop()
        future = portal.start_task_soon(self._attempt, executor, spec, sink, env, cwd, stop)
        stopped = False
        while True:
            try:
                return future.result(timeout=POLL_INTERVAL), stopped
            except concurrent.futures.TimeoutError:
                if not stopped and not wanted():
                    stopped = True
                    with contextlib.suppress(RuntimeError):  # the loop has ended
                        portal.call(stop.cancel)
            except concurrent.futures.CancelledError:
                raise RuntimeError("the Dask worker closed while it ran the task") from None

    @staticmethod
    async def _attempt(
        executor: ForkExecutor,
        spec: TaskSpec,
        sink: TaskSink,
        env: Mapping[str, str],
        cwd: str,
        stop: _Stop,
    ) -> TaskOutcome | None:
        try:
            with anyio.CancelScope() as scope:
                stop.scope = scope
                if stop.requested:
                    scope.cancel()
                return await executor.run_task(spec, sink, env=env, cwd=cwd)
            return None
        finally:
            # The worker does not learn when a run ends: each attempt lets its host go
            # once idle (it stays warm while attempts keep coming).
            executor.run_ended(spec.flow_name, spec.run_id)


def host_statistics(dask_worker: Any) -> dict[str, Any]:
    """The warm hosts of ``dask_worker``: ``hosts_started`` so far and the ``host_pids``
    running now (``client.run(host_statistics)`` asks every worker; for tests and
    introspection)."""
    hosts = dask_worker.plugins.get(PLUGIN_NAME)
    if not isinstance(hosts, WarmHosts):
        return {"hosts_started": 0, "host_pids": []}
    return {"hosts_started": hosts.hosts_started(), "host_pids": hosts.host_pids()}
