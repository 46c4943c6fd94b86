"""The supervisor: one task group per event loop that owns every run actor started there.

``await Runner(...).async_run()`` returns while the run goes on, so the run cannot live
in the caller's task. It lives in the supervisor of the caller's event loop: a task group
started on first use as a system task of that loop (``spawn_system_task`` under trio, a
task of the loop under asyncio). When the loop ends, the supervisor is cancelled, and each
actor stops its processes and records its final state before the loop closes.

The supervisor also holds what all runs of the loop share: the cap on task processes
running at once (set by the first run's configuration, then fixed), the executors (a
fork host serves every run of its flow), and the stores (one :class:`Stores` bundle per
store configuration, so that runs share one connection pool and one lease connection of a
PostgreSQL database, however many run at once).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from anyio.lowlevel import RunVar

from .._runtime._resources import read_machine
from .._runtime._writer import StoreWriter
from .._stores._bundle import open_stores
from .._worker._blank import take_early_host
from .._worker._executor import WarmsUp
from .._worker._spawn import SpawnExecutor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from pathlib import Path

    from anyio.abc import TaskGroup, TaskStatus

    from .._config import Config
    from .._runtime._request import RunRequest
    from .._stores._bundle import Stores
    from .._worker._blank import HostProcess
    from .._worker._executor import Executor
    from ._run_actor import RunActor

__all__ = ("Supervisor", "SupervisorStatistics", "current_supervisor")

#: Seconds the executors may take to close when the supervisor ends.
CLOSE_TIMEOUT = 10.0

_supervisor: RunVar[Supervisor] = RunVar("tideflow_supervisor")


def default_task_cap() -> int:
    """Default cap on task processes running at once across all runs of a supervisor.

    Configurable with ``task_limit`` (``Runner(..., task_limit=n)``, ``TIDEFLOW_TASK_LIMIT``)
    of the first run of the event loop.
    """
    return max(4, 4 * (os.cpu_count() or 1))


class SupervisorStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What a supervisor is doing: see :meth:`Supervisor.statistics`."""

    #: Run actors started and not ended yet.
    runs: int
    #: Task processes running now, across all runs, and the cap on them.
    tasks: int
    task_cap: int
    #: The executors started so far, by name.
    executors: tuple[str, ...]


class Supervisor:
    """Owns run actors for one event loop; see the module docstring."""

    def __init__(self, *, task_cap: int | None = None) -> None:
        self.limiter = anyio.CapacityLimiter(task_cap or default_task_cap())
        self._executors: dict[str, Executor] = {}
        self._tg: TaskGroup | None = None
        self._ready = anyio.Event()
        self._closed = False
        self._runs = 0
        self._system_task: Any = None
        #: Seconds a fork host stays warm once no run uses it (``host_idle_timeout``).
        self._host_idle: float | None = None
        self._services: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._stores: dict[tuple[str, str | None, str | None], Stores] = {}
        #: The writer of each bundle's recorders (see :mod:`tideflow._runtime._writer`).
        self._writers: dict[int, StoreWriter] = {}
        self._retired: list[Stores] = []
        #: The bundles that have recorded a run (so their database existed).
        self._existed: set[tuple[str, str | None, str | None]] = set()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Supervisor {state} runs={self._runs} tasks={self.limiter.borrowed_tokens}>"

    @property
    def closed(self) -> bool:
        """Whether the supervisor has ended (its event loop is ending)."""
        return self._closed

    def statistics(self) -> SupervisorStatistics:
        """Return how many runs and task processes the supervisor has now."""
        return SupervisorStatistics(
            runs=self._runs,
            tasks=int(self.limiter.borrowed_tokens),
            task_cap=int(self.limiter.total_tokens),
            executors=tuple(self._executors),
        )

    def apply_config(self, config: Config) -> None:
        """Apply what a run's configuration sets for the runs of the supervisor.

        The cap on running tasks is not among it: it is shared by every run of the event
        loop and fixed when the supervisor starts, so a run never changes it for the
        others. How long an idle fork host stays warm (``host_idle_timeout``) follows
        the latest run.

        :raises ValueError: if the run asks for another task cap, naming both values and
            the fix.
        """
        cap = int(self.limiter.total_tokens)
        if config.task_limit is not None and config.task_limit != cap:
            raise ValueError(
                f"task_limit={config.task_limit} is not the cap of {cap} running tasks "
                "that every run of this event loop shares (blocking calls share one loop "
                "per process); the cap is set by the loop's first run. Leave task_limit "
                "out, or give it (or TIDEFLOW_TASK_LIMIT) to the first run."
            )
        self._host_idle = config.host_idle_timeout
        fork = self._executors.get("fork")
        if fork is not None:
            fork.idle_timeout = config.host_idle_timeout  # type: ignore[attr-defined]

    def executor(
        self, name: str, kill_grace: float, *, dask_address: str | None = None
    ) -> Executor:
        """The executor of that name, shared by the runs of this supervisor.

        The ``dask`` executor is one per scheduler address (``None``: a local cluster).
        """
        key = f"dask {dask_address}" if name == "dask" and dask_address else name
        executor = self._executors.get(key)
        if executor is None:
            if name == "dask":
                from .._worker._dask import DaskExecutor

                # A temporary cluster (no address) runs as many attempts as this
                # supervisor's cap and has this machine's resources.
                local: dict[str, Any] = {}
                if not dask_address:
                    local = {
                        "local_slots": int(self.limiter.total_tokens),
                        "local_machine": msgspec.structs.asdict(read_machine()),
                    }
                executor = DaskExecutor(address=dask_address, kill_grace=kill_grace, **local)
            elif name == "spawn":
                executor = SpawnExecutor(kill_grace=kill_grace)
            elif name == "fork":
                from .._worker._fork import ForkExecutor

                executor = fork = ForkExecutor(kill_grace=kill_grace, idle_timeout=self._host_idle)
                self._services.append(fork.watch_hosts)
            else:
                raise ValueError(f"Unknown executor {name!r}: use 'spawn', 'fork' or 'dask'.")
            self._executors[key] = executor
            self._start_services()
        return executor

    def stores(self, config: Config, root: Path) -> Stores:
        """The stores of ``config`` in ``root``, opened by the first run that uses them
        and shared by the runs of this supervisor until it ends.

        :raises StoreError: for an unknown URL scheme, a missing extra, or a store that
            cannot be opened.
        :raises RuntimeError: if the supervisor has ended.
        """
        if self._closed:
            raise RuntimeError("Cannot start a run: its event loop is shutting down.")
        key = _stores_key(config, root)
        stores = self._stores.get(key)
        if (
            stores is not None
            and key in self._existed
            and _local_database(config, stores) is False
        ):
            # The database was removed since a run used it (a notebook starting
            # afresh): a new bundle creates it again. Runs still using the old one
            # keep it until the supervisor ends.
            self._retired.append(stores)
            self._existed.discard(key)
            stores = None
        if stores is None:
            stores = self._stores[key] = open_stores(config, root=root)
            self._writers[id(stores)] = StoreWriter(stores.metadata)
        return stores

    def writer(self, stores: Stores) -> StoreWriter:
        """The writer shared by the recorders of the runs of ``stores`` (a bundle of
        :meth:`stores`): the batches of runs at the same moment go in one transaction."""
        return self._writers[id(stores)]

    def _start_services(self) -> None:
        """Start what the executors run beside their tasks (a fork host's idle timer)."""
        if self._tg is None:
            return  # serve() starts them
        while self._services:
            self._tg.start_soon(self._services.pop(0))

    async def serve(self) -> None:
        """Run until cancelled (when the event loop ends), then release the executors.

        Never raises anything but cancellation: run actors keep their errors to
        themselves, and under trio an error escaping a system task ends the whole program.
        """
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._start_services()
                self._ready.set()
                await anyio.sleep_forever()
        finally:
            self._closed = True
            interrupted: BaseException | None = None
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                for executor in self._executors.values():
                    try:
                        await executor.aclose()
                    except anyio.get_cancelled_exc_class() as exc:
                        # A native asyncio cancellation (the loop shutting down) got
                        # through the shield: the executor closed its processes all the
                        # same; close the others too.
                        interrupted = exc
            self._close_stores()
            if interrupted is not None:
                raise interrupted

    def _close_stores(self) -> None:
        """Close the stores of the runs (every run has ended: their actors were in the
        task group). Closing is quick: connections are closed, nothing is written."""
        stores, self._stores = [*self._stores.values(), *self._retired], {}
        self._retired = []
        self._writers = {}
        for bundle in stores:
            try:
                bundle.close()
            except Exception:  # noqa: BLE001, S110 - one store that fails to close must not keep the others open
                pass

    async def start_run(
        self,
        request: RunRequest,
        *,
        echo: bool = False,
        progress: bool = True,
        started: HostProcess | None = None,
    ) -> RunActor:
        """Start a run of ``request``; return its actor as soon as the run exists.

        This is how every run starts: ``Runner`` (and so ``NBRunner``) and the command
        line call it. It applies the run's configuration to the supervisor, picks the
        executor, wires the run's console and starts the actor in the supervisor's task
        group.

        :param started: a fork host process started before the flow was loaded (the
            command line's); the fork executor takes it over, else the caller still owns
            it (``started.taken`` is false). Without one, a fork warm-up takes the host
            the loop's first run offered, if no other run took it (see
            ``Runner._launch``).
        :param echo: print the run's console to this process's stdout and stderr; on a
            terminal, with a live status block under the lines unless ``progress`` is false.
        :raises ValueError: if the run's configuration conflicts with the supervisor's
            (see :meth:`apply_config`) or names an unknown executor.
        :raises RuntimeError: if the event loop is ending (the supervisor has closed).
        """
        self.apply_config(request.config)
        executor = self.executor(
            request.config.executor,
            request.config.kill_grace,
            dask_address=request.config.dask_address,
        )
        await _warm_up(executor, request, started)
        # Imported once the executor warms up: on a first run, the fork host starts while
        # the run actor, the scheduler and the stores load.
        from ._output import RunOutput
        from ._run_actor import RunActor

        display = None
        if echo:
            from .._ui._terminal import terminal_display

            display = terminal_display(request, progress=progress)
        stores = self.stores(request.config, request.root)
        actor = RunActor(
            request,
            executor=executor,
            output=RunOutput(echo=echo, display=display),
            shared_limiter=self.limiter,
            stores=stores,
            writer=self.writer(stores),
        )
        await self.start(actor.run)
        # The run is recorded: its database exists now (see :meth:`stores`).
        self._existed.add(_stores_key(request.config, request.root))
        return actor

    async def start(self, actor_run: Callable[..., Awaitable[Any]]) -> Any:
        """Start an actor's ``run(task_status=...)`` in the supervisor; return what it reports.

        :raises RuntimeError: if the event loop is ending (the supervisor has closed).
        """
        await self._ready.wait()
        if self._closed or self._tg is None:
            raise RuntimeError("Cannot start a run: its event loop is shutting down.")
        return await self._tg.start(self._supervise, actor_run)

    async def _supervise(
        self, actor_run: Callable[..., Awaitable[Any]], *, task_status: TaskStatus[Any]
    ) -> None:
        self._runs += 1
        try:
            await actor_run(task_status=task_status)
        finally:
            self._runs -= 1


def _stores_key(config: Config, root: Path) -> tuple[str, str | None, str | None]:
    return (str(root), config.metadata_url, config.datastore_url)


def _local_database(config: Config, stores: Stores) -> bool | None:
    """Whether the SQLite database of a bundle exists (a stat); ``None`` for a server's
    database, which is never asked: that would take a connection per run."""
    url = config.metadata_url
    if url is not None and not url.lower().startswith("sqlite:"):
        return None
    return stores.metadata.exists()


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread, if any (else anyio runs on trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _spawn_system_task(supervisor: Supervisor) -> None:
    loop = _asyncio_loop()
    if loop is None:
        import trio

        trio.lowlevel.spawn_system_task(supervisor.serve, name="tideflow supervisor")
    else:
        # The loop keeps only a weak reference to its tasks: the supervisor keeps this one.
        supervisor._system_task = loop.create_task(supervisor.serve(), name="tideflow supervisor")


def has_supervisor() -> bool:
    """Whether the running event loop has started its supervisor (a run started in it)."""
    return _supervisor.get(None) is not None


async def current_supervisor(config: Config | None = None) -> Supervisor:
    """The supervisor of the running event loop, started on first use.

    :param config: the configuration of the run about to start: when it starts the
        supervisor, it sets the supervisor's cap on running tasks (its ``task_limit``,
        else :func:`default_task_cap`); then call :meth:`Supervisor.apply_config`.
    :raises RuntimeError: if the event loop is ending (its supervisor has closed).
    """
    try:
        supervisor = _supervisor.get()
    except LookupError:
        pass
    else:
        if supervisor.closed:
            raise RuntimeError("Cannot start a run: its event loop is shutting down.")
        return supervisor
    supervisor = Supervisor(task_cap=None if config is None else config.task_limit)
    _supervisor.set(supervisor)
    _spawn_system_task(supervisor)
    return supervisor


async def _warm_up(
    executor: Executor, request: RunRequest, started: HostProcess | None = None
) -> None:
    """Let ``executor`` prepare the processes of the run ``request`` asks for, in the
    background (a fork host starts and imports the flow while the run is created).

    Nothing happens for an executor without warm-up, or when the ``start`` step sets
    its own environment (its host would be another one).
    """
    if not isinstance(executor, WarmsUp):
        return
    start = request.flow.graph["start"]
    names = {d.name for d in start.decorators} | {d.name for d in request.decospecs}
    if "environment" in names:
        return
    if started is None:
        started = take_early_host()  # the one the loop's first run offered, if still there
    await executor.warm_up(
        flow_source=request.flow.source,
        flow_class=request.flow.cls.__name__,
        sys_path=request.flow.sys_path,
        env=request.env,
        cwd=request.cwd,
        started=started,
    )
