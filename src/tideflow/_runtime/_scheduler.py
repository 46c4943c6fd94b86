"""The scheduler: runs every task of one run as soon as its inputs are ready.

It lives in an anyio task group; each task attempt runs in a process started by an
:class:`Executor`, at most ``max_workers`` at once, and with ``@resources`` only while the
machine has room (:mod:`._resources`). Every state change is written to the metadata
store, every output line to the task's log and the run's console. A failed task stops the
scheduling of new tasks; the running ones finish, then :meth:`Scheduler.run` returns.

The step decorators act here: ``@retry`` runs a failed attempt again, ``@timeout`` stops
an attempt that runs too long (a failed attempt, so ``@retry`` and ``@catch`` apply),
``@catch`` lets the run go on after the last attempt failed, ``@environment`` sets
variables in the task's process. For a resume, :mod:`._resume` feeds the tasks cloned
from the origin run through :meth:`Scheduler.clone` while :meth:`Scheduler.collecting`.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
import msgspec

from .._datastore._artifacts import dumps
from .._exceptions import TaskException, TaskFailed
from .._flow._decorators import StepDecorator
from .._messages import ArtifactRef, ErrorInfo, ForeachFrame, InputTask, TaskSpec, Transition
from .._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    StepRecord,
    TaskRecord,
)
from .._stores._interfaces import LogKey
from .._worker._executor import Executor, TaskOutcome, describe_exit
from ._console import Console, stamp, task_prefix
from ._resources import Request, ResourcePool, machine_pool, request_of
from ._retry import describe_retry, effective_decorators, retries, retry_delay, timeout_seconds

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .._flow._graph import FlowGraph, StepNode
    from .._stores._bundle import Stores
    from .._stores._interfaces import LogWriter, MetadataStore

__all__ = ("RunPlan", "Scheduler", "TaskPlan")

_frames = msgspec.msgpack.Encoder()
#: Seconds a task past its ``@timeout`` has to stop itself before its processes are stopped.
_TIMEOUT_GRACE = 5.0


class RunPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything fixed about a run before its first task starts."""

    flow_name: str
    flow_source: str
    flow_class: str
    run_id: str
    root: str
    username: str
    namespace: str | None
    tags: tuple[str, ...]
    parameters: dict[str, Any]
    parameters_refs: list[ArtifactRef]
    max_workers: int = 16
    max_num_splits: int = 100
    decospecs: tuple[StepDecorator, ...] = ()
    env: dict[str, str] = {}
    cwd: str = "."
    sys_path: list[str] = []
    origin_run_id: str | None = None
    #: Where task processes store artifacts (``None``: the blob folder of ``root``).
    datastore_url: str | None = None


class TaskPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A task ready to run: its step, its input tasks and the foreach frames around it."""

    step: str
    inputs: list[InputTask]
    stack: tuple[ForeachFrame, ...] = ()


def _stack_key(stack: Sequence[ForeachFrame]) -> tuple[tuple[str, int], ...]:
    return tuple((frame.step, frame.index) for frame in stack)


class Scheduler:
    """Runs the tasks of one run; see the module docstring."""

    def __init__(
        self,
        plan: RunPlan,
        graph: FlowGraph,
        *,
        stores: Stores,
        executor: Executor,
        console: Console,
        shared_limiter: anyio.CapacityLimiter | None = None,
        resource_pool: ResourcePool | None = None,
    ) -> None:
        self.plan = plan
        self.graph = graph
        self._stores = stores
        self._metadata = stores.metadata
        self._executor = executor
        self._console = console
        self._limiter = anyio.CapacityLimiter(max(1, plan.max_workers))
        self._shared = shared_limiter
        self._pool = resource_pool
        self._blobs = stores.blobs
        self._task_ids = 0
        self._steps_seen: set[str] = set()
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
        #: Scopes of the tasks waiting to start (for a worker slot or a retry).
        self._waiting: set[anyio.CancelScope] = set()
        #: Pathspecs of tasks that failed for good (no retry or catch left).
        self.failures: list[TaskFailed] = []
        self.end_succeeded = False

    def __repr__(self) -> str:
        return f"<Scheduler {self.plan.flow_name}/{self.plan.run_id} tasks={self._task_ids}>"

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store the run is recorded in."""
        return self._metadata

    @property
    def stores(self) -> Stores:
        """The stores the run is recorded in."""
        return self._stores

    async def run(self, first: Sequence[TaskPlan] | None = None) -> bool:
        """Run the flow from ``first`` (default: the start step); True when it succeeded."""
        if self._pool is None:
            self._pool = machine_pool()
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
        if _is_parallel(plan) and plan.stack[-1].index == 0:
            self._controls[_group_key(plan)] = str(self._task_ids)
        self._queue.append((plan, str(self._task_ids)))
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
        try:
            await self._run_task(plan, task_id)
        finally:
            self._admitted -= 1
            self._admit()

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
        self._steps_seen.add(plan.step)
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
        meta = self._static_metadata(plan, decorators, request)
        assert self._pool is not None
        if (problem := self._pool.check(request, plan.step)) is not None:
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
                self._give_back(request)
            if state == "succeeded":
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
        sink = _TaskSink(self, plan, task_id, attempt - 1)
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
        assert self._pool is not None
        taken: list[Any] = []
        try:
            with self._interruptible():
                await self._pool.acquire(request)
                taken.append(self._pool)
                await self._limiter.acquire()
                taken.append(self._limiter)
                if self._shared is not None:
                    await self._shared.acquire()
                    taken.append(self._shared)
        except BaseException:
            self._give_back(request, taken)
            raise
        if len(taken) < 2 + (self._shared is not None) or self.failures:
            self._give_back(request, taken)
            return False
        return True

    def _give_back(self, request: Request, taken: Sequence[Any] | None = None) -> None:
        """Release what :meth:`_take` took (everything, unless ``taken`` says less)."""
        assert self._pool is not None
        if taken is None:
            taken = [
                self._pool,
                self._limiter,
                *([self._shared] if self._shared is not None else []),
            ]
        for held in reversed(taken):
            if held is self._pool:
                self._pool.release(request)
            else:
                held.release()

    def _static_metadata(
        self, plan: TaskPlan, decorators: dict[str, StepDecorator], request: Request
    ) -> dict[str, str]:
        """Metadata every attempt of the task records: its decorators, resources, graph."""
        meta = {}
        if decorators:
            meta["step-decorators"] = json.dumps([d.spec for d in decorators.values()])
        if "resources" in decorators:
            meta["resources"] = json.dumps(
                {"cpu": request.cpu, "memory": request.memory, "gpu": request.gpu}
            )
        if _is_parallel(plan):
            frame = plan.stack[-1]
            meta["parallel-world-size"] = str(frame.num_splits)
            meta["parallel-node-index"] = str(frame.index)
            if frame.index == 0:
                meta["internal_task_type"] = "control"
        if plan.step == "start":
            # What a resume of this run checks and reuses, even when the start task fails.
            meta["graph-signature"] = json.dumps(self.graph.signature())
            meta["parameters"] = json.dumps({r.name: r.sha for r in self.plan.parameters_refs})
        return meta

    async def _refuse(
        self, plan: TaskPlan, task_id: str, problem: str, meta: dict[str, str]
    ) -> None:
        """Fail a task at once: it asks for more than the machine has (no retry, no catch)."""
        record = self._attempt_record(plan, task_id, 0)
        await anyio.to_thread.run_sync(self._metadata.start_attempt, record)
        error = ErrorInfo(type="InsufficientResources", message=problem)
        await _TaskSink(self, plan, task_id, 0).say(f"Task cannot run: {problem}", "stderr")
        await self._finish_attempt(plan, task_id, 0, "failed", error, [], None, None, meta)
        self._fail(TaskFailed(self._pathspec(plan.step, task_id), 0, f"{error.type}: {problem}"))

    async def _record_task(self, plan: TaskPlan, task_id: str) -> None:
        now = time.time()
        new_step = plan.step not in self._steps_seen
        self._steps_seen.add(plan.step)
        record = TaskRecord(
            flow=self.plan.flow_name,
            run_id=self.plan.run_id,
            step=plan.step,
            task_id=task_id,
            created_at=now,
            index=plan.stack[-1].index if plan.stack else None,
            foreach_stack=_frames.encode(list(plan.stack)) if plan.stack else b"",
            parent_pathspecs=tuple(task.pathspec for task in plan.inputs),
        )

        def write() -> None:
            if new_step:
                self._metadata.add_step(
                    StepRecord(
                        flow=self.plan.flow_name,
                        run_id=self.plan.run_id,
                        step=plan.step,
                        created_at=now,
                    )
                )
            self._metadata.add_task(record)

        await anyio.to_thread.run_sync(write)

    def _key(self, step: str, task_id: str, attempt: int) -> _AttemptKey:
        return {
            "flow": self.plan.flow_name,
            "run_id": self.plan.run_id,
            "step": step,
            "task_id": task_id,
            "attempt": attempt,
        }

    def _attempt_record(self, plan: TaskPlan, task_id: str, attempt: int) -> AttemptRecord:
        return AttemptRecord(
            flow=self.plan.flow_name,
            run_id=self.plan.run_id,
            step=plan.step,
            task_id=task_id,
            attempt=attempt,
            state="running",
            started_at=time.time(),
        )

    def _task_spec(
        self,
        plan: TaskPlan,
        task_id: str,
        attempt: int,
        catch: StepDecorator | None = None,
        timeout: float | None = None,
        resources: Request | None = None,
    ) -> TaskSpec:
        return TaskSpec(
            flow_name=self.plan.flow_name,
            flow_source=self.plan.flow_source,
            flow_class=self.plan.flow_class,
            root=self.plan.root,
            datastore_url=self.plan.datastore_url,
            run_id=self.plan.run_id,
            step=plan.step,
            task_id=task_id,
            attempt=attempt,
            parameters=self.plan.parameters,
            parameters_refs=self.plan.parameters_refs,
            inputs=plan.inputs,
            stack=list(plan.stack),
            username=self.plan.username,
            namespace=self.plan.namespace,
            origin_run_id=self.plan.origin_run_id,
            tags=list(self.plan.tags),
            max_num_splits=self.plan.max_num_splits,
            sys_path=self.plan.sys_path,
            decospecs=[d.spec for d in self.plan.decospecs],
            catch_var=catch.attributes["var"] if catch is not None else None,
            timeout=timeout,
            resources=msgspec.structs.asdict(resources) if resources is not None else {},
            parallel_control=self._controls.get(_group_key(plan)) if _is_parallel(plan) else None,
        )

    async def _attempt(
        self,
        plan: TaskPlan,
        node: StepNode,
        task_id: str,
        attempt: int,
        decorators: dict[str, StepDecorator],
        meta: dict[str, str],
    ) -> tuple[str, _Failure | None]:
        """Run one attempt; return its final state and, unless it succeeded, why not."""
        limit = timeout_seconds(decorators)
        resources = decorators.get("resources")
        request = request_of(resources.attributes if resources is not None else None)
        spec = self._task_spec(plan, task_id, attempt, decorators.get("catch"), limit, request)
        env = dict(self.plan.env)
        if "environment" in decorators:
            env.update(decorators["environment"].attributes["vars"])
        sink = _TaskSink(self, plan, task_id, attempt)
        record = self._attempt_record(plan, task_id, attempt)
        await anyio.to_thread.run_sync(self._metadata.start_attempt, record)
        # The task stops itself at the limit (keeping what it set); past a grace period
        # the scheduler stops its processes.
        hard = limit + _TIMEOUT_GRACE if limit is not None else math.inf
        try:
            with anyio.move_on_after(hard) as scope:
                outcome = await self._executor.run_task(spec, sink, env=env, cwd=self.plan.cwd)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                sink.close()
                await self._finish_attempt(
                    plan, task_id, attempt, "cancelled", None, [], sink.pid, None, meta
                )
            raise
        sink.close()
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
                plan, task_id, attempt, "timeout", error, kept, sink.pid, None, meta
            )
            return "timeout", _Failure(error, None, kept)
        if done is not None and done.ok:
            meta = {**meta, **_transition_metadata(done.transition)}
            await self._finish_attempt(
                plan, task_id, attempt, "succeeded", None, done.artifacts, sink.pid, outcome, meta
            )
            await sink.say("Task finished successfully.")
            self._continue(plan, node, task_id, done.artifacts, done.transition)
            return "succeeded", None
        reported = done.error if done is not None else None
        error = reported or ErrorInfo(type="WorkerCrashed", message=_crash_text(outcome))
        if reported is None:
            # The process died (a signal, an exit): say why in its stored stderr too.
            sink.record(f"Task failed: {error.type}: {error.message}", "stderr")
        kept = done.artifacts if done is not None else []
        await sink.say(f"Task failed: {error.type}: {error.message}", "stderr")
        await self._finish_attempt(
            plan, task_id, attempt, "failed", error, kept, sink.pid, outcome, meta
        )
        return "failed", _Failure(error, outcome.returncode, kept)

    async def _finish_attempt(
        self,
        plan: TaskPlan,
        task_id: str,
        attempt: int,
        state: str,
        error: ErrorInfo | None,
        artifacts: Sequence[ArtifactRef],
        pid: int | None,
        outcome: TaskOutcome | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        now = time.time()
        key = self._key(plan.step, task_id, attempt)
        records = [
            ArtifactRecord(**key, name=a.name, sha=a.sha, size=a.size, created_at=now)
            for a in artifacts
        ]
        meta = {
            "attempt": str(attempt),
            "attempt-ok": str(state == "succeeded"),
            "ds-root": self.plan.root,
            "runtime": "dev",
            "python_version": platform.python_version(),
            "executor": self._executor.name,
            "pid": str(pid),
            **(extra or {}),
        }
        if self.plan.origin_run_id:
            meta["origin-run-id"] = self.plan.origin_run_id
        metadata = [
            MetadataRecord(**key, name=name, value=value, type=name, created_at=now)
            for name, value in meta.items()
        ]
        returncode = outcome.returncode if outcome is not None else None
        await anyio.to_thread.run_sync(
            lambda: self._metadata.record_task_end(
                **key,
                state=state,
                finished_at=now,
                exit_code=returncode if returncode is not None and returncode >= 0 else None,
                signal=-returncode if returncode is not None and returncode < 0 else None,
                exception=(
                    ExceptionInfo(
                        type=error.type, message=error.message, traceback=error.traceback
                    )
                    if error is not None
                    else None
                ),
                artifacts=records,
                metadata=metadata,
                pid=pid,
            )
        )

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
        if var:
            info = error.info
            data = dumps(TaskException(info.type, info.message, info.traceback), var)
            sha = await anyio.to_thread.run_sync(self._blobs.put, data)
            refs[var] = ArtifactRef(var, sha, len(data))
        artifacts = list(refs.values())
        now = time.time()
        key = self._key(plan.step, task_id, attempt)
        records = [
            ArtifactRecord(**key, name=ref.name, sha=ref.sha, size=ref.size, created_at=now)
            for ref in artifacts
        ]
        # Resume clones a caught task: the run went on from it.
        caught = MetadataRecord(**key, name="caught", value="True", type="caught", created_at=now)

        def write() -> None:
            self._metadata.add_artifacts(records)
            self._metadata.add_metadata([caught])

        await anyio.to_thread.run_sync(write)
        sink = _TaskSink(self, plan, task_id, attempt)
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
        key = (target, _stack_key(outer))
        waiting = self._joins.setdefault(key, {})
        waiting[slot] = done
        if len(waiting) == expected:
            del self._joins[key]
            # The order of the inputs is made once, when the last one arrives: making it
            # for every arrival costs a foreach of n items n * n steps.
            order: Sequence[Any] = range(expected) if split.type == "foreach" else split.out_funcs
            self.submit(TaskPlan(step=target, inputs=[waiting[s] for s in order], stack=outer))


def _is_parallel(plan: TaskPlan) -> bool:
    """Whether ``plan`` is one of the tasks of ``num_parallel`` (its frame has no variable)."""
    return bool(plan.stack) and not plan.stack[-1].var


def _group_key(plan: TaskPlan) -> tuple[Any, ...]:
    return (plan.step, _stack_key(plan.stack[:-1]))


def _transition_metadata(transition: Transition | None) -> dict[str, str]:
    """What a finished attempt records of its transition, for resume and the client."""
    if transition is None:
        return {}
    if transition.condition is not None:
        return {"switch-step": transition.targets[0]}
    if transition.num_splits is not None:
        return {"foreach-num-splits": str(transition.num_splits)}
    return {}


class _AttemptKey(TypedDict):
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int


class _Failure(msgspec.Struct, frozen=True):
    """Why an attempt did not succeed: the error, and the process's return code if known."""

    info: ErrorInfo
    returncode: int | None
    #: The artifacts the failed attempt set before it raised.
    artifacts: list[ArtifactRef] = []


def _crash_text(outcome: TaskOutcome) -> str:
    if outcome.problem:
        return f"{outcome.problem}; {describe_exit(outcome.returncode)}"
    return describe_exit(outcome.returncode)


class _TaskSink:
    """Writes a task attempt's output to its log files and to the run's console."""

    def __init__(self, scheduler: Scheduler, plan: TaskPlan, task_id: str, attempt: int) -> None:
        self._scheduler = scheduler
        self._step = plan.step
        #: The foreach item indices of the task, outermost first (none outside a foreach).
        self._items = tuple(frame.index for frame in plan.stack)
        self._task_id = task_id
        self._attempt = attempt
        self._writers: dict[str, LogWriter] = {}
        self.pid: int | None = None

    async def started(self, pid: int) -> None:
        self.pid = pid
        retry = f" (retry {self._attempt})" if self._attempt else ""
        await self.say(f"Task is starting{retry}.")

    def _prefix(self) -> str:
        plan = self._scheduler.plan
        return task_prefix(plan.run_id, self._step, self._task_id, self.pid, self._items)

    def _writer(self, stream: str) -> LogWriter:
        writer = self._writers.get(stream)
        if writer is None:
            plan = self._scheduler.plan
            key = LogKey(
                flow=plan.flow_name,
                run_id=plan.run_id,
                step=self._step,
                task_id=self._task_id,
                attempt=self._attempt,
                stream=stream,
            )
            writer = self._writers[stream] = self._scheduler.stores.logs.open_writer(key)
        return writer

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self._writer(stream).write_lines(lines)
        prefix = self._prefix()
        await self._scheduler._console.write(
            stream,
            [
                f"{stamp(ts)} {prefix} {line.decode('utf-8', 'replace').rstrip(chr(13))}"
                for ts, line in lines
            ],
        )

    async def say(self, text: str, stream: str = "stdout") -> None:
        await self.say_many([text], stream)

    async def say_many(self, texts: list[str], stream: str = "stdout") -> None:
        prefix = self._prefix()
        now = stamp()
        await self._scheduler._console.write(stream, [f"{now} {prefix} {t}" for t in texts])

    def record(self, text: str, stream: str) -> None:
        """Append one line that tideflow says (not the task) to the attempt's log."""
        writer = self._writer(stream)
        writer.write_lines([(time.time(), text.encode())])
        writer.close()
        self._writers.pop(stream, None)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
