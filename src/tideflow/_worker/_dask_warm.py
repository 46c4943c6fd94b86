"""Warm hosts on a Dask worker: each attempt of the ``dask`` executor is a fork there.

Starting an interpreter and importing tideflow and the flow costs far more than a small
step. On a Dask worker process, :class:`WarmHosts` (a Dask worker plugin, registered by
the executor when it connects) keeps the machinery of the local ``fork`` executor: one
:class:`~._fork.ForkExecutor` in the worker's own event loop, where the attempts run
(:func:`~._dask_remote.run_attempt` is a coroutine function, so Dask runs it in that
loop: no thread of the worker's pool and no hop between threads per attempt). The flow's
host (an interpreter that imported the flow once) forks a child for each attempt. A host
is shared by the attempts of the flow's runs on that worker (same code package,
environment and working folder) and stops once no attempt used it for ``idle_timeout``
seconds; all of them stop with the worker (the plugin's teardown).

Every 50 ms the attempt checks that Dask still wants the task; when it does not, it is
cancelled, which stops the child's whole process group (terminate, grace period, kill) as
the ``fork`` executor does locally. A worker that dies takes its hosts with it: a host
exits (killing its children) when its control channel closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

import anyio
from distributed import WorkerPlugin

from ._fork import ForkExecutor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

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


class WarmHosts(WorkerPlugin):
    """The warm hosts of one Dask worker process: see the module docstring.

    Everything but the constructor runs in the worker's event loop (asyncio, under which
    Dask runs).

    :param idle_timeout: seconds a host stays warm once no attempt uses it.
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, idle_timeout: float) -> None:
        # Only this travels to the workers (pickled by reference to this class).
        self.idle_timeout = idle_timeout

    def setup(self, worker: Any) -> None:
        """Prepare the plugin on ``worker``; executors start with their first attempt."""
        #: One executor per kill grace the supervisors ask for (in practice one).
        self._executors: dict[float, ForkExecutor] = {}
        #: The task that keeps each executor's hosts' time (its ``watch_hosts``); the
        #: plugin owns them from the first attempt to its teardown.
        self._watchers: list[asyncio.Task[None]] = []
        self._closed = False

    async def teardown(self, worker: Any) -> None:
        """Stop every host (and any attempt still running in one)."""
        self._closed = True
        executors = list(self._executors.values())
        self._executors.clear()
        for watcher in self._watchers:
            watcher.cancel()
        for executor in executors:
            with contextlib.suppress(Exception):
                await executor.aclose()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        self._watchers.clear()

    def host_pids(self) -> list[int]:
        """The pids of the worker's running hosts (for tests and introspection)."""
        return [pid for executor in self._executors.values() for pid in executor.host_pids()]

    def hosts_started(self) -> int:
        """How many hosts this worker started so far (for tests and introspection)."""
        return sum(e.statistics().hosts_started for e in self._executors.values())

    def _executor(self, grace: float) -> ForkExecutor:
        """The executor of ``grace``, started on first use.

        :raises RuntimeError: if the worker is closing.
        """
        if self._closed:
            raise RuntimeError("the Dask worker is closing")
        executor = self._executors.get(grace)
        if executor is None:
            executor = ForkExecutor(kill_grace=grace, idle_timeout=self.idle_timeout)
            self._executors[grace] = executor
            self._watchers.append(asyncio.ensure_future(executor.watch_hosts()))
        return executor

    async def run(
        self,
        spec: TaskSpec,
        sink: TaskSink,
        *,
        env: Mapping[str, str],
        cwd: str,
        grace: float,
        wanted: Callable[[], bool],
    ) -> tuple[TaskOutcome | None, bool]:
        """Run the attempt as a fork of its flow's host, until it ends or Dask no longer
        wants it.

        :return: the outcome (``None`` when it was stopped before it ended) and whether it
            was stopped because Dask no longer wanted it.
        :raises RuntimeError: if the worker is closing.
        """
        executor = self._executor(grace)
        outcome: TaskOutcome | None = None
        stopped = False

        async def watch(scope: anyio.CancelScope) -> None:
            # Dask says nothing when a running task is no longer wanted: look.
            nonlocal stopped
            while True:
                if not wanted():
                    stopped = True
                    scope.cancel()
                    return
                await anyio.sleep(POLL_INTERVAL)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch, tg.cancel_scope)
                outcome = await executor.run_task(spec, sink, env=env, cwd=cwd)
                tg.cancel_scope.cancel()
        finally:
            # The worker does not learn when a run ends: each attempt lets its host go
            # once idle (it stays warm while attempts keep coming).
            executor.run_ended(spec.flow_name, spec.run_id)
        return outcome, stopped


def host_statistics(dask_worker: Any) -> dict[str, Any]:
    """The warm hosts of ``dask_worker``: ``hosts_started`` so far and the ``host_pids``
    running now (``client.run(host_statistics)`` asks every worker; for tests and
    introspection)."""
    hosts = dask_worker.plugins.get(PLUGIN_NAME)
    if not isinstance(hosts, WarmHosts):
        return {"hosts_started": 0, "host_pids": []}
    return {"hosts_started": hosts.hosts_started(), "host_pids": hosts.host_pids()}
