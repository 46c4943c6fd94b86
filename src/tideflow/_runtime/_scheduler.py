"""The scheduler: runs every task of one run as soon as its inputs are ready.

It lives in an anyio task group; each task attempt runs in a process started by an
:class:`Executor`, at most ``max_workers`` at once, and with ``@resources`` only while the
machine has room (:mod:`._resources`). It decides and does not write: every state change
is an event (:mod:`._events`) sent to the run's recorder (:mod:`._recorder`), which writes
the stores, the logs and the console. A failed task stops the scheduling of new tasks;
the running ones finish, then :meth:`Scheduler.run` returns.

The step decorators act here: ``@retry`` runs a failed attempt again, ``@timeout`` stops
an attempt that runs too long (a failed attempt, so ``@retry`` and ``@catch`` apply),
``@catch`` lets the run go on after the last attempt failed, ``@environment`` sets
variables in the task's process. For a resume, :mod:`._resume` feeds the tasks cloned
from the origin run through :meth:`Scheduler.clone` while :meth:`Scheduler.collecting`.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from .._datastore._artifacts import dumps
from .._exceptions import TaskException, TaskFailed
from .._messages import ArtifactRef, ErrorInfo, ForeachFrame, InputTask, Transition
from .._states import AttemptState
from .._worker._executor import Executor, TaskOutcome, describe_exit
from ._events import AttemptFinished, AttemptStarted, TaskCaught, TaskStarted
from ._plan import RunPlan, TaskPlan, group_key, is_parallel, stack_key
from ._records import (
    artifact_records,
    attempt_record,
    end_attempt,
    metadata_records,
    start_facts,
    static_metadata,
    task_record,
    task_spec,
    transition_metadata,
)
from ._resources import Request, ResourcePool, request_of
from ._retry import describe_retry, effective_decorators, retries, retry_delay, timeout_seconds
from ._sink import AttemptSink
from ._slots import Slots

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .._flow._decorators import StepDecorator
    from .._flow._graph import FlowGraph, StepNode
    from .._stores._bundle import Stores
    from .._stores._interfaces import MetadataStore
    from ._sink import EventSink

__all__ = ("RunPlan", "Scheduler", "TaskPlan")

#: Seconds a task past its ``@timeout`` has to stop itself before its processes are stopped.
_TIMEOUT_GRACE = 5.0


class Scheduler:
    """Runs the tasks of one run; see the module docstring."""

    def __init__(
        self,
        plan: RunPlan,
        graph: FlowGraph,
        *,
        stores: Stores,
        executor: Executor,
        events: EventSink,
        shared_limiter: anyio.CapacityLimiter | None = None,
        resource_pool: ResourcePool | None = None,
    ) -> None:
        self.plan = plan
        self.graph = graph
        self._stores = stores
        self._executor = executor
        self._events = events
        self._slots = Slots(plan.max_workers, shared=shared_limiter, pool=resource_pool)
        self._task_ids = 0
        self._joins: dict[tuple[Any, ...], dict[Any, InputTask]] = {}
        self._join_of = {
            node.matching_join: node.name for node in graph if node.matching_join is not None
        }
        #: The control task (node 0) of each group of @parallel tasks.
        self._controls: dict[tuple[Any, ...], str] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._collected: list[TaskPlan] | None = None
        #: Tasks ready to run, in order, and how many are admitted (see :meth:`_admit`).
        self._queue: deque[tuple[TaskPlan, str]] = deque()
        self._admitted = 0
        self._admit_limit = max(1, plan.max_workers)
        #: True while a task that just succeeded queues its successors (they are left
        #: for it to run: see :meth:`_admitted_task`).
        self._handing_on = False
        #: Scopes of the tasks waiting to start (for a worker slot or a retry).
        self._waiting: set[anyio.CancelScope] = set()
        #: Pathspecs of tasks that failed for good (no retry or catch left).
        self.failures: list[TaskFailed] = []
        self.end_succeeded = False

    def __repr__(self) -> str:
        return f"<Scheduler {self.plan.flow_name}/{self.plan.run_id} tasks={self._task_ids}>"

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store the run is recorded in (to read: the recorder writes)."""
        return self._stores.metadata

    @property
    def stores(self) -> Stores:
        """The stores the run is recorded in (to read: the recorder writes)."""
        return self._stores

    async def run(self, first: Sequence[TaskPlan] | None = None) -> bool:
        """Run the flow from ``first`` (default: the start step); True when it succeeded."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for plan in first if first is not None else [TaskPlan(step="start", inputs=[])]:
                self.submit(plan)
        return not self.failures and self.end_succeeded

    def submit(self, plan: TaskPlan) -> None:
        """Queue a ready task (or, while :meth:`collecting`, set it aside)."""
        if self._collected is not None:
            self._collected.append(plan)
            return
        self._task_ids += 1
        if is_parallel(plan) and plan.stack[-1].index == 0:
            self._controls[group_key(plan)] = str(self._task_ids)
        self._queue.append((plan, str(self._task_ids)))
        if not self._handing_on:
            self._admit()

    def _admit(self) -> None:
        """Start queued tasks while fewer than ``max_workers`` are admitted (running, or
        waiting for ``@resources`` or the supervisor's cap); the rest wait in the queue,
        so a wide foreach costs no task of the event loop per item."""
        assert self._tg is not None
        while self._queue and self._admitted < self._admit_limit and not self.failures:
            plan, task_id = self._queue.popleft()
            self._admitted += 1
            self._tg.start_soon(self._admitted_task, plan, task_id)

    async def _admitted_task(self, plan: TaskPlan, task_id: str) -> None:
        """Run admitted tasks one after the other: this one, then (while the queue has
        some and the run goes on) the next queued one, in the same task of the event
        loop. A step's successor then starts in the same turn of the loop as the step's
        end is sent, so the recorder writes both in one transaction."""
        try:
            while True:
                await self._run_task(plan, task_id)
                if not self._queue or self.failures or self._admitted > self._admit_limit:
                    break
                plan, task_id = self._queue.popleft()
                self._admit()  # more workers for what else is queued
        finally:
            self._admitted -= 1
            self._admit()

    @contextmanager
    def _handing_on_to_self(self) -> Iterator[None]:
        """Within this block, the tasks that become ready stay queued for the task that
        just ended to take (see :meth:`_admitted_task`), rather than a task of their own."""
        self._handing_on = True
        try:
            yield
        finally:
            self._handing_on = False

    def reserve_task_ids(self, used: int) -> None:
        """Start numbering new tasks after ``used`` (ids taken by cloned tasks)."""
        self._task_ids = max(self._task_ids, used)

    @contextmanager
    def collecting(self) -> Iterator[list[TaskPlan]]:
        """Within this block, tasks that become ready are put in the list it gives, not run.

        Resume planning uses it: cloning a task makes its successors ready, and each one is
        either cloned in turn or one of the first tasks the new run runs.
        """
        collected: list[TaskPlan] = []
        previous, self._collected = self._collected, collected
        try:
            yield collected
        finally:
            self._collected = previous

    def clone(
        self,
        plan: TaskPlan,
        task_id: str,
        artifacts: Sequence[ArtifactRef],
        num_splits: int | None = None,
        chosen: str | None = None,
    ) -> None:
        """Go on from a task of ``plan`` that was copied from another run instead of run.

        The task's successors become ready as if it had just succeeded (joins count it as
        arrived); ``num_splits`` is the size of the foreach a cloned foreach step started,
        ``chosen`` the step a cloned switch step went on to.
        """
        node = self.graph[plan.step]
        if task_id.isdigit():
            self.reserve_task_ids(int(task_id))
        transition = None
        if node.type == "foreach":
            transition = Transition(
                node.out_funcs, node.foreach_param, num_splits, parallel=node.parallel
            )
        elif node.type == "switch" and chosen is not None:
            transition = Transition((chosen,), condition=node.condition)
        self._continue(plan, node, task_id, artifacts, transition)

    # -- one task --------------------------------------------------------------------

    def _pathspec(self, step: str, task_id: str) -> str:
        return f"{self.plan.flow_name}/{self.plan.run_id}/{step}/{task_id}"

    async def _run_task(self, plan: TaskPlan, task_id: str) -> None:
        if self.failures:
            return
        node = self.graph[plan.step]
        decorators = effective_decorators(node.decorators, self.plan.decospecs)
        resources = decorators.get("resources")
        request = request_of(resources.attributes if resources is not None else None)
        meta = static_metadata(plan, decorators, request)
        if (problem := self._slots.pool.check(request, plan.step)) is not None:
            await self._record_task(plan, task_id)
            await self._refuse(plan, task_id, problem, meta)
            return
        times = retries(decorators)
        error: _Failure | None = None
        for attempt in range(times + 1):
            if attempt and not await self._before_retry(plan, task_id, attempt, times, decorators):
                return
            if not await self._take(request):
                return  # the run failed while the task waited: it never starts
            try:
                if attempt == 0:
                    await self._record_task(plan, task_id)
                state, error = await self._attempt(plan, node, task_id, attempt, decorators, meta)
            finally:
                self._slots.give_back(request)
            if state == AttemptState.SUCCEEDED:
                return
        assert error is not None
        failure = TaskFailed(
            self._pathspec(plan.step, task_id),
            times,
            f"{error.info.type}: {error.info.message}",
            exit_code=error.returncode,
            traceback=error.info.traceback or None,
        )
        if "catch" in decorators and node.type not in ("foreach", "switch"):
            await self._caught(plan, task_id, times, decorators["catch"], failure, error)
        else:
            self._fail(failure)

    def _fail(self, failure: TaskFailed) -> None:
        """Record a task that failed for good, and stop every task that waits to start."""
        self.failures.append(failure)
        self._queue.clear()
        for scope in self._waiting:
            scope.cancel()

    async def _before_retry(
        self,
        plan: TaskPlan,
        task_id: str,
        attempt: int,
        times: int,
        decorators: dict[str, StepDecorator],
    ) -> bool:
        """Say when attempt ``attempt`` starts and wait until then; False if the run failed."""
        if self.failures:
            return False
        delay = retry_delay(decorators)
        sink = self._sink(plan, task_id, attempt - 1)
        await sink.say(f"Task failed; {describe_retry(delay, attempt + 1, times + 1)}.", "stderr")
        # A task waiting for its retry lets another one in meanwhile.
        self._admitted -= 1
        self._admit()
        try:
            with self._interruptible() as scope:
                await anyio.sleep(delay)
        finally:
            self._admitted += 1
        return not scope.cancelled_caught and not self.failures

    @contextmanager
    def _interruptible(self) -> Iterator[anyio.CancelScope]:
        """A scope that a task failing for good cancels (see :meth:`_fail`)."""
        with anyio.CancelScope() as scope:
            self._waiting.add(scope)
            try:
                yield scope
            finally:
                self._waiting.discard(scope)

    async def _take(self, request: Request) -> bool:
        """Wait for the task's ``@resources``, then a worker slot (and one of the
        supervisor's); False, holding nothing, when the run failed meanwhile."""
        if self.failures:
            return False
        if self._slots.take_now(request):
            return True
        taken = False
        with self._interruptible():
            await self._slots.take(request)
            taken = True
        if taken and self.failures:
            self._slots.give_back(request)
            return False
        return taken

    async def _refuse(
        self, plan: TaskPlan, task_id: str, problem: str, meta: dict[str, str]
    ) -> None:
        """Fail a task at once: it asks for more than the machine has (no retry, no catch)."""
        await self._events.record(
            AttemptStarted(
                record=attempt_record(self.plan, plan.step, task_id, 0),
                metadata=start_facts(self.plan, self.graph, plan.step, task_id, 0),
            )
        )
        error = ErrorInfo(type="InsufficientResources", message=problem)
        await self._sink(plan, task_id, 0).say(f"Task cannot run: {problem}", "stderr")
        await self._finish_attempt(
            plan, task_id, 0, AttemptState.FAILED, error, [], None, None, meta
        )
        self._fail(TaskFailed(self._pathspec(plan.step, task_id), 0, f"{error.type}: {problem}"))

    async def _record_task(self, plan: TaskPlan, task_id: str) -> None:
        await self._events.record(TaskStarted(record=task_record(self.plan, plan, task_id)))

    def _sink(self, plan: TaskPlan, task_id: str, attempt: int) -> AttemptSink:
        return AttemptSink(self.plan, plan, task_id, attempt, self._events)

    async def _attempt(
        self,
        plan: TaskPlan,
        node: StepNode,
        task_id: str,
        attempt: int,
        decorators: dict[str, StepDecorator],
        meta: dict[str, str],
    ) -> tuple[AttemptState, _Failure | None]:
        """Run one attempt; return its final state and, unless it succeeded, why not."""
        limit = timeout_seconds(decorators)
        resources = decorators.get("resources")
        request = request_of(resources.attributes if resources is not None else None)
        control = self._controls.get(group_key(plan)) if is_parallel(plan) else None
        spec = task_spec(
            self.plan, plan, task_id, attempt, decorators.get("catch"), limit, control, request
        )
        env = self.plan.env  # the same mapping for every task: executors may key on it
        if "environment" in decorators:
            env = {**env, **decorators["environment"].attributes["vars"]}
        sink = self._sink(plan, task_id, attempt)
        await self._events.record(
            AttemptStarted(
                record=attempt_record(self.plan, plan.step, task_id, attempt),
                metadata=start_facts(self.plan, self.graph, plan.step, task_id, attempt),
            )
        )
        # The task stops itself at the limit (keeping what it set); past a grace period
        # the scheduler stops its processes.
        hard = limit + _TIMEOUT_GRACE if limit is not None else None
        try:
            # The task may read its own run through the client (current.run,
            # current.task): it starts once the store holds its record and its inputs' ends.
            await self._events.flush()
            with anyio.move_on_after(hard) as scope:
                outcome = await self._executor.run_task(spec, sink, env=env, cwd=self.plan.cwd)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._finish_attempt(
                    plan, task_id, attempt, AttemptState.CANCELLED, None, [], sink.pid, None, meta
                )
            raise
        done = None if scope.cancelled_caught else outcome.done
        if limit is not None and (
            scope.cancelled_caught or (done is not None and done.error and done.error.timed_out)
        ):
            error = ErrorInfo(
                type="TimeoutError",
                message=f"Step '{plan.step}' timed out after {limit:g} seconds (@timeout).",
                traceback=done.error.traceback if done is not None and done.error else "",
            )
            kept = done.artifacts if done is not None else []
            await sink.say(
                f"Task timed out after {limit:g} seconds: its processes were stopped.", "stderr"
            )
            await self._finish_attempt(
                plan, task_id, attempt, AttemptState.TIMEOUT, error, kept, sink.pid, None, meta
            )
            return AttemptState.TIMEOUT, _Failure(error, None, kept)
        if done is not None and done.ok:
            meta = {**meta, **transition_metadata(done.transition)}
            await self._finish_attempt(
                plan,
                task_id,
                attempt,
                AttemptState.SUCCEEDED,
                None,
                done.artifacts,
                sink.pid,
                outcome,
                meta,
            )
            await sink.say("Task finished successfully.")
            with self._handing_on_to_self():
                self._continue(plan, node, task_id, done.artifacts, done.transition)
            return AttemptState.SUCCEEDED, None
        reported = done.error if done is not None else None
        error = reported or ErrorInfo(type="WorkerCrashed", message=_crash_text(outcome))
        if reported is None:
            # The process died (a signal, an exit): say why in its stored stderr too.
            await sink.record(f"Task failed: {error.type}: {error.message}", "stderr")
        kept = done.artifacts if done is not None else []
        await sink.say(f"Task failed: {error.type}: {error.message}", "stderr")
        await self._finish_attempt(
            plan, task_id, attempt, AttemptState.FAILED, error, kept, sink.pid, outcome, meta
        )
        return AttemptState.FAILED, _Failure(error, outcome.returncode, kept)

    async def _finish_attempt(
        self,
        plan: TaskPlan,
        task_id: str,
        attempt: int,
        state: AttemptState,
        error: ErrorInfo | None,
        artifacts: Sequence[ArtifactRef],
        pid: int | None,
        outcome: TaskOutcome | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        end = end_attempt(
            self.plan,
            plan.step,
            task_id,
            attempt,
            state=state,
            error=error,
            artifacts=artifacts,
            pid=pid,
            returncode=outcome.returncode if outcome is not None else None,
            executor=self._executor.name,
            meta=extra or {},
        )
        await self._events.record(AttemptFinished(end=end))

    async def _caught(
        self,
        plan: TaskPlan,
        task_id: str,
        attempt: int,
        catch: StepDecorator,
        failure: TaskFailed,
        error: _Failure,
    ) -> None:
        """Go on after the last attempt failed under ``@catch``.

        The task keeps what its failed attempt stored (its inputs' artifacts when it
        stored nothing, as a crashed or timed-out process does), plus ``var``: a
        :class:`~tideflow.exception.TaskException` with the failure's type, message and
        traceback. The traceback was printed once already, with the task's output.
        """
        node = self.graph[plan.step]
        refs: dict[str, ArtifactRef] = {}
        if not node.is_join and plan.inputs:
            refs.update((ref.name, ref) for ref in plan.inputs[0].artifacts)
        refs.update((ref.name, ref) for ref in error.artifacts)
        refs.update((ref.name, ref) for ref in self.plan.parameters_refs)
        var = catch.attributes["var"]
        blobs = []
        if var:
            info = error.info
            data = dumps(TaskException(info.type, info.message, info.traceback), var)
            blobs.append(data)
            refs[var] = ArtifactRef(var, hashlib.sha256(data).hexdigest(), len(data))
        artifacts = list(refs.values())
        now = time.time()
        # Resume clones a caught task: the run went on from it.
        caught = {"caught": "True"}
        await self._events.record(
            TaskCaught(
                artifacts=artifact_records(self.plan, plan.step, task_id, attempt, artifacts, now),
                metadata=metadata_records(self.plan, plan.step, task_id, attempt, caught, now),
                blobs=blobs,
            )
        )
        # The next task reads ``var``: its blob must be stored before the task starts.
        await self._events.flush()
        sink = self._sink(plan, task_id, attempt)
        # The traceback was printed once already, with the task's own output.
        await sink.say(
            f"@catch caught the failure ({failure.message}); the run goes on.", "stderr"
        )
        self._continue(plan, node, task_id, artifacts, None)

    # -- what comes next ---------------------------------------------------------------

    def _continue(
        self,
        plan: TaskPlan,
        node: StepNode,
        task_id: str,
        artifacts: Sequence[ArtifactRef],
        transition: Any,
    ) -> None:
        if node.type == "end":
            self.end_succeeded = True
            return
        if self.failures:
            return
        done = InputTask(
            pathspec=self._pathspec(plan.step, task_id), step=plan.step, artifacts=list(artifacts)
        )
        if node.type == "foreach":
            assert transition is not None
            self._split(plan, node, done, artifacts, int(transition.num_splits))
            return
        targets = node.out_funcs
        if node.type == "switch":
            assert transition is not None
            targets = transition.targets
        for target in targets:
            self._forward(target, done, plan.stack)

    def _split(
        self,
        plan: TaskPlan,
        node: StepNode,
        done: InputTask,
        artifacts: Sequence[ArtifactRef],
        count: int,
    ) -> None:
        """Start the ``count`` tasks of a foreach (or of ``num_parallel``)."""
        var, sha = "", ""
        if not node.parallel:
            assert node.foreach_param is not None
            var = node.foreach_param
            sha = next(ref.sha for ref in artifacts if ref.name == var)
        for index in range(count):
            frame = ForeachFrame(node.name, var, index, count, sha)
            self.submit(
                TaskPlan(step=node.out_funcs[0], inputs=[done], stack=(*plan.stack, frame))
            )

    def _forward(self, target: str, done: InputTask, stack: tuple[ForeachFrame, ...]) -> None:
        node = self.graph[target]
        if not node.is_join:
            self.submit(TaskPlan(step=target, inputs=[done], stack=stack))
            return
        split = self.graph[self._join_of[target]]
        slot: Any
        if split.type == "foreach":
            outer, slot, expected = stack[:-1], stack[-1].index, stack[-1].num_splits
        else:
            # One input per branch of the split; a switch inside a branch sends one of its
            # cases, so the slot is the branch the input came down, not its step.
            outer, expected = stack, len(split.out_funcs)
            branch = target if done.step == split.name else None
            slot = branch or self.graph[done.step].split_branches[-1]
        key = (target, stack_key(outer))
        waiting = self._joins.setdefault(key, {})
        waiting[slot] = done
        if len(waiting) == expected:
            del self._joins[key]
            # The order of the inputs is made once, when the last one arrives: making it
            # for every arrival costs a foreach of n items n * n steps.
            order: Sequence[Any] = range(expected) if split.type == "foreach" else split.out_funcs
            self.submit(TaskPlan(step=target, inputs=[waiting[s] for s in order], stack=outer))


class _Failure(msgspec.Struct, frozen=True):
    """Why an attempt did not succeed: the error, and the process's return code if known."""

    info: ErrorInfo
    returncode: int | None
    #: The artifacts the failed attempt set before it raised.
    artifacts: list[ArtifactRef] = []


def _crash_text(outcome: TaskOutcome) -> str:
    if outcome.problem and outcome.returncode is None:
        return outcome.problem  # no exit to describe (a remote worker lost, ...)
    if outcome.problem:
        return f"{outcome.problem}; {describe_exit(outcome.returncode)}"
    return describe_exit(outcome.returncode)
