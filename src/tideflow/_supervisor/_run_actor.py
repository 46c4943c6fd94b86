"""The run actor: owns one run from its creation in the store to its final state.

It creates the run record (so the run exists as soon as :meth:`RunActor.run` reports
``started``) and takes the run's lease, starts the run's recorder, runs the scheduler,
renews the lease while it runs, and records how the run ended, including when it is
cancelled (a timeout, the caller gone, Ctrl-C): then its task processes are stopped
first, in shielded, bounded cleanup.

The actor writes the run's start and its end itself; everything between goes through the
recorder (:mod:`tideflow._runtime._recorder`), and the end is written only once the
recorder has written every event: the store never holds an end before what led to it.

Once started, the actor never raises anything but cancellation: an unexpected error
becomes the state ``crashed`` (with its traceback on the run's stderr), so one broken run
cannot take down the supervisor and the other runs it owns. The state visible to readers
changes only after the end is recorded in the store and the console is closed, so a
reader that sees a final status also sees the whole output and the stored final state.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from .._datastore._artifacts import dumps
from .._exceptions import TideflowError, sole_exception
from .._messages import ArtifactRef
from .._metadata._liveness import RunLock
from .._runtime._console import stamp
from .._runtime._recorder import Recorder
from .._runtime._resources import Machine, ResourcePool
from .._runtime._scheduler import RunPlan, Scheduler, TaskPlan
from .._runtime._state import RunState
from .._stores._bundle import open_stores
from .._version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anyio.abc import TaskStatus

    from .._metadata._records import RunRecord
    from .._runtime._request import RunRequest
    from .._runtime._writer import StoreWriter
    from .._stores._bundle import Stores
    from .._worker._executor import Executor
    from ._output import RunOutput

__all__ = ("RunActor", "system_tags")

#: Seconds the shielded recording of a run's end may take before it is given up.
END_TIMEOUT = 10.0


def system_tags(username: str) -> tuple[str, ...]:
    """The system tags every run gets."""
    return (
        f"user:{username}",
        "runtime:dev",
        f"python_version:{platform.python_version()}",
        f"tideflow_version:{__version__}",
        f"date:{datetime.now(UTC).strftime('%Y-%m-%d')}",
    )


class RunActor:
    """Runs one flow run inside a supervisor's task group; see the module docstring."""

    def __init__(
        self,
        request: RunRequest,
        *,
        executor: Executor,
        output: RunOutput,
        shared_limiter: anyio.CapacityLimiter | None = None,
        stores: Stores | None = None,
        writer: StoreWriter | None = None,
    ) -> None:
        self.request = request
        self.output = output
        self.state = RunState.RUNNING
        self.run_id: str | None = None
        self.failures: list[Any] = []
        #: The unexpected error that crashed the run, if one did.
        self.error: BaseException | None = None
        self._executor = executor
        self._shared = shared_limiter
        self._scope: anyio.CancelScope | None = None
        self._stop_reason = RunState.CANCELLED
        self._finished = anyio.Event()
        #: The run's stores: the supervisor's (shared by its runs), else built from the
        #: run's configuration and closed when the run has ended.
        self._own_stores = stores is None
        self.stores = open_stores(request.config, root=request.root) if stores is None else stores
        self.metadata = self.stores.metadata
        #: Held while the run runs: readers test it to tell a live supervisor from a dead
        #: one (the store's lease where it has them, else a lock file).
        self._lock: RunLock | None = None
        self._leased = False
        #: The run's recorder writes through ``writer``, shared by the runs of ``stores``.
        self._recorder = Recorder(
            self.stores, output, on_error=self._recording_failed, writer=writer
        )

    def __repr__(self) -> str:
        return f"<RunActor {self.request.flow.name}/{self.run_id} state={self.state.name}>"

    @property
    def pathspec(self) -> str:
        """``Flow/run_id`` once the run exists."""
        return f"{self.request.flow.name}/{self.run_id}"

    async def wait(self) -> None:
        """Wait until the run has ended and its final state is recorded."""
        await self._finished.wait()

    def cancel(self, reason: RunState = RunState.CANCELLED) -> None:
        """Ask the run to stop and to record ``reason``; return at once.

        Call it from the actor's event loop thread. Does nothing once the run has ended or
        a stop was already asked for (the first reason wins).
        """
        if self.state.finished or self._scope is None or self._scope.cancel_called:
            return
        self._stop_reason = reason
        self._scope.cancel()

    async def stop(self, reason: RunState = RunState.CANCELLED) -> None:
        """Stop the run (its processes included), record ``reason``, and wait for the end."""
        if self.state.finished:
            return
        self.cancel(reason)
        await self._finished.wait()

    async def run(self, *, task_status: TaskStatus[RunActor] = anyio.TASK_STATUS_IGNORED) -> None:
        """Create the run, report ``started``, run it, and record how it ended.

        Errors before ``started`` (the store cannot be written, ...) propagate to the
        caller of ``start``; after it, only cancellation propagates.
        """
        final: RunState | None = None
        try:
            try:
                record = await self._create()
            except Exception:
                final = RunState.FAILED  # the caller of start() gets the error
                raise
            async with anyio.create_task_group() as tg:
                await tg.start(self._recorder.run)
                try:
                    final = await self._supervise(record, task_status)
                finally:
                    with anyio.CancelScope(shield=True):
                        with anyio.move_on_after(END_TIMEOUT):
                            await self._recorder.aclose()
                        self._recorder.abort()
        finally:
            # ``final`` stays None when the run was cancelled from outside (the event loop
            # ends): under trio that cancellation may arrive wrapped in an exception group.
            if final is None:
                final = self._stop_reason
            if final is RunState.SUCCEEDED and self._recorder.error is not None:
                final = RunState.CRASHED
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(END_TIMEOUT):
                    await self._record_end(final)
                if self.run_id is not None:
                    self._executor.run_ended(self.request.flow.name, self.run_id)
                self._finalize(final)

    async def _create(self) -> RunRecord:
        """Create the run record and take the run's lease (or lock)."""
        request = self.request
        record = await anyio.to_thread.run_sync(self._create_in_store)
        if request.run_id_file:
            await anyio.Path(request.cwd, request.run_id_file).write_text(record.run_id)
        return record

    def _create_in_store(self) -> RunRecord:
        """Create the run record, then take its lease, or its lock where the store has no
        leases (in a worker thread: one for the three)."""
        request = self.request
        record = self.metadata.create_run(
            request.flow.name,
            user=request.username,
            system_tags=system_tags(request.username) + request.system_tags,
            user_tags=request.tags,
            origin_run_id=request.origin_run_id,
        )
        self.run_id = record.run_id
        self._leased = self.metadata.hold_run_lease(request.flow.name, record.run_id)
        if not self._leased:
            self._lock = RunLock.acquire(request.root, request.flow.name, record.run_id)
        return record

    async def _supervise(self, record: RunRecord, task_status: TaskStatus[RunActor]) -> RunState:
        """Report ``started`` and run the run; return how it ended (never raises but
        cancellation: an unexpected error is the state ``crashed``)."""
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                task_status.started(self)
                ok = await self._execute(record.system_tags + record.user_tags)
        except Exception as exc:  # noqa: BLE001 - a bug below the actor: kept to this run
            # An error tideflow raised on purpose (a cluster it cannot reach) comes out of
            # the scheduler's task groups wrapped: its one line is the run's reason.
            self.error = sole_exception(exc)
            return RunState.CRASHED
        if scope.cancelled_caught:
            return self._stop_reason
        return RunState.SUCCEEDED if ok else RunState.FAILED

    def _recording_failed(self, exc: BaseException) -> None:
        """The recorder could not write: the run stops, as crashed."""
        if self.error is None:
            self.error = exc
        self.cancel(RunState.CRASHED)

    async def _execute(self, tags: tuple[str, ...]) -> bool:
        request = self.request
        assert self.run_id is not None
        await self._header()
        if request.parameters:
            refs = await anyio.to_thread.run_sync(self._store_parameters)
        else:
            refs = self._store_parameters()  # nothing to store: no worker thread
        plan = RunPlan(
            flow_name=request.flow.name,
            flow_source=request.flow.source,
            flow_class=request.flow.cls.__name__,
            run_id=self.run_id,
            root=str(request.root),
            datastore_url=request.config.datastore_url,
            username=request.username,
            namespace=(
                f"user:{request.username}"
                if request.namespace is None
                else (request.namespace or None)
            ),
            tags=tags,
            parameters=request.parameters,
            parameters_refs=refs,
            max_workers=request.max_workers,
            max_num_splits=request.max_num_splits,
            decospecs=request.decospecs,
            env=request.env,
            cwd=request.cwd,
            sys_path=request.flow.sys_path,
            origin_run_id=request.origin_run_id,
        )
        scheduler = Scheduler(
            plan,
            request.flow.graph,
            stores=self.stores,
            executor=self._executor,
            events=self._recorder,
            shared_limiter=self._shared,
            resource_pool=_unlimited_pool() if getattr(self._executor, "remote", False) else None,
        )
        first = await self._first_tasks(scheduler)
        ended = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat, ended)
            try:
                ok = await scheduler.run(first)
                # The run's state follows from what is recorded: wait until it all is.
                await self._recorder.flush()
            finally:
                ended.set()
        self.failures = list(scheduler.failures)
        return ok

    async def _first_tasks(self, scheduler: Scheduler) -> list[TaskPlan] | None:
        """The tasks to start with: ``start``, or for a resume, what the origin left undone."""
        if self.request.origin_run_id is None:
            return None
        from .._runtime._resume import plan_resume

        return await plan_resume(self.request, scheduler, self.output)

    def _store_parameters(self) -> list[ArtifactRef]:
        blobs = self.stores.blobs
        refs = []
        for name, value in self.request.parameters.items():
            data = dumps(value, name)
            refs.append(ArtifactRef(name, blobs.put(data), len(data)))
        return refs

    async def _heartbeat(self, ended: anyio.Event) -> None:
        """Renew the run's lease every ``heartbeat_interval`` seconds until ``ended``.

        Waiting for an event rather than being cancelled: on asyncio, cancelling a scope
        formats the repr of its task, which a short run pays for.
        """
        assert self.run_id is not None
        interval = self.request.config.heartbeat_interval
        while True:
            with anyio.move_on_after(interval if interval > 0 else math.inf):
                await ended.wait()
            if ended.is_set():
                return
            # A renewal that fails (a busy database, ...) is retried at the next beat.
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(
                    self.metadata.heartbeat, self.request.flow.name, self.run_id
                )

    async def _header(self) -> None:
        if self.request.quiet:
            return
        request = self.request
        verb = "resuming" if request.origin_run_id else "executing"
        await self.output.write(
            "stdout",
            [
                f"tideflow {__version__} {verb} {request.flow.name} for user:{request.username}",
                f"{stamp()} Workflow starting (run-id {self.run_id}):",
            ],
        )

    async def _record_end(self, final: RunState) -> None:
        recorded = await anyio.to_thread.run_sync(self._end_in_store, final)
        if self.run_id is None:
            return
        if isinstance(recorded, Exception):
            await self.output.write(
                "stderr", [f"{stamp()} Could not record the end of the run: {recorded!r}"]
            )
        elif not recorded:
            await self.output.write("stderr", [self._overruled(final)])
        await self._footer(final)

    def _end_in_store(self, final: RunState) -> bool | Exception:
        """Record the run's end, then let go of its lease or lock and of the stores the
        actor opened (in a worker thread: one for all). Whether the end was recorded
        (False: the store held one already), or why it could not be."""
        recorded: bool | Exception = False
        try:
            if self.run_id is not None:
                try:
                    recorded = self.metadata.finish_run(
                        self.request.flow.name, self.run_id, final.value, time.time()
                    )
                except Exception as exc:  # noqa: BLE001 - said on the console; the lease tells the rest
                    recorded = exc
        finally:
            # Only now may readers take the run for dead: its end is recorded.
            self._release()
        return recorded

    def _release(self) -> None:
        """Let go of the run's lease or lock, and of the stores the actor opened."""
        try:
            if self._leased and self.run_id is not None:
                with contextlib.suppress(TideflowError):
                    self.metadata.release_run_lease(self.request.flow.name, self.run_id)
            if self._lock is not None:
                self._lock.release()
        finally:
            if self._own_stores:
                self.stores.close()

    def _overruled(self, final: RunState) -> str:
        """What to say when the store already holds an end (a reader found the run's
        lease expired and recorded it as crashed): that end stays."""
        return (
            f"{stamp()} The run ended as {final.value}, but the store already records it as "
            "crashed: its heartbeat stopped for longer than heartbeat_timeout (a blocked "
            "event loop?), and this store has no lock to show the supervisor was alive. "
            "Raise TIDEFLOW_HEARTBEAT_TIMEOUT if that was expected."
        )

    def _finalize(self, final: RunState) -> None:
        """Make the end visible: close the console, publish the state, wake the waiters."""
        self.output.close()
        self.state = final
        self._finished.set()

    async def _footer(self, state: RunState) -> None:
        lines = []
        if state is RunState.SUCCEEDED:
            if not self.request.quiet:
                lines.append(f"{stamp()} Done! See the run with Run('{self.pathspec}').")
            await self.output.write("stdout", lines)
            return
        if state is RunState.FAILED:
            lines.append(f"{stamp()} Workflow failed.")
            lines.extend(f"    Step failure: {failure}" for failure in self.failures)
            request = self.request
            hint = resume_hint(
                request.flow.source, request.cwd, str(self.run_id), request.resume_options
            )
            lines.append(f"    Fix the step and resume with: {hint}")
        elif state is RunState.TIMEOUT:
            lines.append(f"{stamp()} Workflow timed out: its tasks were stopped.")
        elif state is RunState.CRASHED and isinstance(self.error, TideflowError):
            lines.append(f"{stamp()} Workflow crashed: {self.error}")
        elif state is RunState.CRASHED:
            lines.append(
                f"{stamp()} Workflow crashed: this is a bug in tideflow, please report it."
            )
            if self.error is not None:
                text = "".join(traceback.format_exception(self.error)).rstrip("\n")
                lines.extend(text.split("\n"))
        else:
            lines.append(f"{stamp()} Workflow cancelled: its tasks were stopped.")
        await self.output.write("stderr", lines)


def resume_hint(source: str, cwd: str, run_id: str, options: Sequence[str] = ()) -> str:
    """The command that resumes a failed run of the flow loaded from ``source``, with the
    top-level ``options`` the run was given that a resume needs again (``--root``...)."""
    if source.endswith(".py"):
        head = shlex.join(["python", os.path.relpath(source, cwd), *options])
        return f"{head} resume --origin-run-id {run_id}"
    return f"Runner('{source}').resume(origin_run_id='{run_id}')"


def _unlimited_pool() -> ResourcePool:
    """The pool of a run whose tasks run on other machines: it holds nothing back."""
    return ResourcePool(Machine(cpu=math.inf, memory=math.inf, gpu=math.inf))
