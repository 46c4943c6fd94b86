"""The supervisor: one task group per event loop that owns every run actor started there.

``await Runner(...).async_run()`` returns while the run goes on, so the run cannot live
in the caller's task. It lives in the supervisor of the caller's event loop: a task group
started on first use as a system task of that loop (``spawn_system_task`` under trio, a
task of the loop under asyncio). When the loop ends, the supervisor is cancelled, and each
actor stops its processes and records its final state before the loop closes.

The supervisor also holds the limits shared by all runs of the loop.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import sniffio
from anyio.abc import TaskGroup
from anyio.lowlevel import RunVar

from .._worker._executor import Executor
from .._worker._spawn import SpawnExecutor

__all__ = ("Supervisor", "current_supervisor")

_supervisor: RunVar[Supervisor] = RunVar("tideflow_supervisor")


def default_task_cap() -> int:
    """Default cap on task processes running at once across all runs of a supervisor."""
    return max(4, 4 * (os.cpu_count() or 1))


class Supervisor:
    """Owns run actors for one event loop; see the module docstring."""

    def __init__(self, *, task_cap: int | None = None) -> None:
        self.limiter = anyio.CapacityLimiter(task_cap or default_task_cap())
        self._executors: dict[str, Executor] = {}
        self._tg: TaskGroup | None = None
        self._ready = anyio.Event()
        self._system_task: Any = None

    def __repr__(self) -> str:
        return (
            f"<Supervisor cap={self.limiter.total_tokens} running={self.limiter.borrowed_tokens}>"
        )

    def executor(self, name: str, kill_grace: float) -> Executor:
        """The executor of that name, shared by the runs of this supervisor."""
        executor = self._executors.get(name)
        if executor is None:
            if name == "spawn":
                executor = SpawnExecutor(kill_grace=kill_grace)
            elif name == "fork":
                from .._worker._fork import ForkExecutor

                executor = ForkExecutor(kill_grace=kill_grace)
            else:
                raise ValueError(f"Unknown executor {name!r}: use 'spawn' or 'fork'.")
            self._executors[name] = executor
        return executor

    async def serve(self) -> None:
        """Run until cancelled (when the event loop ends), then release the executors."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._ready.set()
                await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                for executor in self._executors.values():
                    await executor.aclose()

    async def start(self, actor_run: Any) -> Any:
        """Start an actor's ``run(task_status=...)`` in the supervisor; return what it reports."""
        await self._ready.wait()
        assert self._tg is not None
        return await self._tg.start(actor_run)


async def current_supervisor() -> Supervisor:
    """The supervisor of the running event loop, started on first use."""
    try:
        return _supervisor.get()
    except LookupError:
        pass
    supervisor = Supervisor()
    _supervisor.set(supervisor)
    library = sniffio.current_async_library()
    if library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(supervisor.serve, name="tideflow supervisor")
    else:
        import asyncio

        supervisor._system_task = asyncio.get_running_loop().create_task(
            supervisor.serve(), name="tideflow supervisor"
        )
    return supervisor
