"""Resume: a new run that reuses what an earlier run (its origin) finished.

:func:`resolve_resume` runs before the new run exists (when the request is built), so
that every mistake (no such run, a run still running, an unknown step, a changed graph)
is an error of the call, not a failed run. Through :func:`load_origin` it finds the origin
run (by default the latest run of the flow) and reads its parameters and the final attempt
of each of its tasks.

:func:`plan_resume` then replays the flow from ``start`` without running anything: each
task that becomes ready is cloned when the origin has a finished task for the same step
and foreach position and the step is not to be re-run; otherwise it is one of the first
tasks the new run runs. Cloning copies records only: the artifacts keep their blobs (the
same content hash), the logs are hard-linked (or copied), and the task id stays the same,
with :attr:`TaskRecord.origin_pathspec` naming the original. Tasks that run again get ids
above every id of the origin run.

The steps re-run are ``step_to_rerun`` and every step after it, when given; otherwise
only what the origin did not finish: the failed step, the failed branches of a foreach,
what never started, and what comes after them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from .._datastore._artifacts import load, loads
from .._exceptions import NotFound, ParameterError, ResumeError, TideflowError
from .._flow._config import Config, configs_of, resolve_configs
from .._flow._parameter import ParameterContext, resolve_parameters
from .._logs._writer import STREAMS
from .._messages import ArtifactRef, ForeachFrame
from .._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    MetadataRecord,
    RunRecord,
    TaskRecord,
    TaskSnapshot,
)
from .._states import AttemptState, RunState
from .._stores._bundle import open_stores
from .._stores._interfaces import LogKey
from ._console import stamp, task_prefix
from ._plan import TaskPlan, group_key, is_parallel
from ._state import mark_crashed_runs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._flow._graph import FlowGraph
    from .._stores._bundle import Stores
    from .._stores._interfaces import BlobStore, MetadataStore
    from ._console import Console
    from ._request import RunRequest
    from ._scheduler import Scheduler

__all__ = (
    "CLONE_BATCH",
    "OriginTask",
    "ResumeOrigin",
    "descendants",
    "load_origin",
    "plan_resume",
    "resolve_resume",
)

_StackKey = tuple[tuple[str, int], ...]
#: A task by its step, its foreach position and its parent tasks' ids: a step that a
#: switch runs again (a loop) has one task per pass, told apart by the task before it.
_TaskKey = tuple[str, _StackKey, tuple[str, ...]]
_frames = msgspec.msgpack.Decoder(list[ForeachFrame])

#: Cloned tasks recorded per write transaction: a few transactions for a large foreach,
#: each short enough that other writers of the store do not wait long.
CLONE_BATCH = 1000

#: Metadata of an origin attempt that a clone does not copy (it records its own).
_NOT_COPIED = frozenset(
    {"attempt", "attempt-ok", "graph-signature", "origin-run-id", "origin-task-id"}
)


@dataclasses.dataclass(frozen=True)
class OriginTask:
    """A task of the origin run that finished (succeeded, or failed and was caught)."""

    record: TaskRecord
    attempt: AttemptRecord
    artifacts: list[ArtifactRecord]
    metadata: list[MetadataRecord]

    @property
    def refs(self) -> list[ArtifactRef]:
        """The task's artifacts, as the scheduler hands them to the next tasks."""
        return [ArtifactRef(a.name, a.sha, a.size) for a in self.artifacts]

    def meta(self, name: str) -> str | None:
        """The value of one of the attempt's metadata entries, if it has it."""
        return next((m.value for m in self.metadata if m.name == name), None)


@dataclasses.dataclass(frozen=True)
class ResumeOrigin:
    """What a resume takes from its origin run; built by :func:`load_origin`."""

    run: RunRecord
    parameters: dict[str, Any]
    #: Finished tasks by (step, foreach position, parents), for the steps that may be cloned.
    tasks: dict[_TaskKey, OriginTask]
    #: The largest task id of the origin run: new tasks are numbered after it.
    max_task_id: int
    #: Steps that run again even where the origin finished them.
    rerun: frozenset[str]

    @property
    def run_id(self) -> str:
        """The origin run's id."""
        return self.run.run_id


def descendants(graph: FlowGraph, step: str) -> frozenset[str]:
    """``step`` and every step that can follow it."""
    seen = {step}
    todo = [step]
    while todo:
        for target in graph[todo.pop()].out_funcs:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(seen)


def _ids(pathspecs: Sequence[str]) -> tuple[str, ...]:
    """The ``step/task_id`` ends of task pathspecs (the same in a run and its resume)."""
    return tuple(pathspec.split("/", 2)[-1] for pathspec in pathspecs)


def _stack_key(stack: bytes | tuple[ForeachFrame, ...]) -> _StackKey:
    if isinstance(stack, bytes):
        stack = tuple(_frames.decode(stack)) if stack else ()
    return tuple((frame.step, frame.index) for frame in stack)


# -- before the run exists ---------------------------------------------------------------


def load_origin(request: RunRequest, stores: Stores) -> ResumeOrigin:
    """Find the run to resume and read what it finished; see the module docstring.

    :raises ResumeError: if there is no such run, it still runs, the step to re-run is
        not a step of the flow, or the graph changed before the rerun point.
    """
    flow = request.flow
    store = stores.metadata
    run = _find_run(request, store)
    step = request.step_to_rerun
    if step is not None and step not in flow.graph:
        raise ResumeError(
            f"Cannot resume {run.pathspec} from step '{step}': {flow.name} has no such step. "
            f"Its steps are: {', '.join(node.name for node in flow.graph)}."
        )
    rerun = descendants(flow.graph, step) if step is not None else frozenset()
    tasks: dict[_TaskKey, OriginTask] = {}
    max_task_id = 0
    parameter_shas: dict[str, str] | None = None
    signature: list[Any] | None = None
    # The whole run in a few queries: a 10,000-item foreach is 10,000 tasks.
    snapshots = store.list_task_snapshots(flow.name, run.run_id)
    started = {snapshot.task.pathspec for snapshot in snapshots}
    for step_record in store.list_steps(flow.name, run.run_id):
        for task in store.list_tasks(flow.name, run.run_id, step_record.step):
            if task.task_id.isdigit():
                max_task_id = max(max_task_id, int(task.task_id))
            if task.step == "start" and task.pathspec not in started:
                parameter_shas, signature = _start_facts(store, task, None)
    for snapshot in snapshots:
        task = snapshot.task
        origin = _finished(snapshot)
        if task.step == "start":
            parameter_shas, signature = _start_facts(store, task, origin, snapshot)
        if origin is not None and task.step not in rerun and task.step in flow.graph:
            key = (task.step, _stack_key(task.foreach_stack), _ids(task.parent_pathspecs))
            tasks[key] = origin
    if tasks and signature is not None:
        _check_graph(run, flow.graph, signature, {key[0] for key in tasks})
    parameters = _parameters(request, run, parameter_shas, stores.blobs)
    return ResumeOrigin(run, parameters, tasks, max_task_id, rerun)


def resolve_resume(request: RunRequest) -> RunRequest:
    """Check a resume request against its origin run before the new run is created.

    Returns the request with the origin's run id (the latest run when none was given) and
    the origin's parameters.

    :raises ResumeError: as :func:`load_origin` does.
    """
    with open_stores(request.config, root=request.root) as stores:
        origin = load_origin(request, stores)
    return dataclasses.replace(
        request, origin_run_id=origin.run_id, parameters=origin.parameters, origin=origin
    )


def _find_run(request: RunRequest, store: MetadataStore) -> RunRecord:
    name = request.flow.name
    mark_crashed_runs(store, request.config, name, root=request.root)
    wanted = request.origin_run_id or ""
    if not wanted:
        run = store.latest_run(name)
        if run is None:
            raise ResumeError(
                f"{name} has no run to resume in {request.root}. Start one with: "
                "python <flow file> run"
            )
    else:
        try:
            run = store.get_run(name, wanted)
        except NotFound:
            raise ResumeError(
                f"Cannot resume run '{name}/{wanted}': it does not exist in {request.root}. "
                f"See the runs of the flow with: tideflow runs {name}"
            ) from None
    if run.status == RunState.RUNNING:
        who = f"process {run.pid}" if run.pid else "its supervisor"
        raise ResumeError(
            f"Cannot resume {run.pathspec}: it is still running ({who} supervises it and is "
            "alive). Wait for it to end (or stop it), then resume it."
        )
    return run


def _finished(snapshot: TaskSnapshot) -> OriginTask | None:
    """The task with its final attempt, if that attempt succeeded or its failure was caught."""
    attempt = snapshot.attempt
    if attempt.state not in (AttemptState.SUCCEEDED, AttemptState.FAILED):
        return None
    metadata = list(snapshot.metadata)
    if attempt.state == AttemptState.FAILED and not any(m.name == "caught" for m in metadata):
        return None
    return OriginTask(snapshot.task, attempt, list(snapshot.artifacts), metadata)


def _start_facts(
    store: MetadataStore,
    task: TaskRecord,
    origin: OriginTask | None,
    snapshot: TaskSnapshot | None = None,
) -> tuple[dict[str, str] | None, list[Any] | None]:
    """The parameters' content hashes and the graph signature the start task recorded."""
    if origin is not None:
        metadata = origin.metadata
    elif snapshot is not None and snapshot.attempt.attempt == 0:
        metadata = list(snapshot.metadata)  # the task's only attempt: all its metadata
    else:
        metadata = store.list_metadata(task.flow, task.run_id, task.step, task.task_id)
    found = {m.name: m.value for m in metadata}
    shas = json.loads(found["parameters"]) if "parameters" in found else None
    if shas is None and origin is not None:
        shas = {a.name: a.sha for a in origin.artifacts}
    signature = json.loads(found["graph-signature"]) if "graph-signature" in found else None
    return shas, signature


def _shape(entry: Any) -> tuple[Any, ...]:
    name, kind, out_funcs, foreach, *cases = entry
    return (name, kind, tuple(out_funcs), foreach, *(json.dumps(c) for c in cases))


def _check_graph(run: RunRecord, graph: FlowGraph, signature: list[Any], cloned: set[str]) -> None:
    before = {entry[0]: _shape(entry) for entry in signature}
    now = {entry[0]: _shape(entry) for entry in graph.signature()}
    for step in sorted(cloned, key=list(now).index):
        old, new = before.get(step), now[step]
        if old == new:
            continue
        if old is None:
            change = f"step '{step}' is new"
        else:
            change = f"step '{step}' was {_describe(old)}; now it is {_describe(new)}"
        raise ResumeError(
            f"Cannot resume {run.pathspec}: the flow's graph changed before the rerun point "
            f"({change}). Resume works when every step it reuses is unchanged: resume from "
            f"an earlier step (python <flow file> resume {step}), or start a new run."
        )


def _describe(shape: tuple[Any, ...]) -> str:
    """``a foreach step going to body (foreach over items)``, for a graph change."""
    kind, targets, var = shape[1], ", ".join(shape[2]) or "nothing", shape[3]
    extra = ""
    if var:
        extra = f" (switch on {var})" if kind == "switch" else f" (foreach over {var})"
    return f"a {kind} step going to {targets}{extra}"


def _parameters(
    request: RunRequest, run: RunRecord, shas: dict[str, str] | None, blobs: BlobStore
) -> dict[str, Any]:
    """The origin run's parameter values; parameters it did not have get their default."""
    parameters: dict[str, Any] = {
        **request.flow.cls._tf_parameters(),
        **configs_of(request.flow.cls),
    }
    values: dict[str, Any] = {}
    missing = {}
    for attribute, parameter in parameters.items():
        sha = (shas or {}).get(attribute)
        if sha is None:
            missing[attribute] = parameter
            continue
        try:
            values[attribute] = load(blobs, sha, attribute)
        except TideflowError as exc:
            raise ResumeError(
                f"Cannot resume {run.pathspec}: the value of its parameter '{parameter.name}' "
                f"cannot be read ({exc})."
            ) from exc
    if missing:
        context = ParameterContext(request.flow.name, request.username, list(parameters))
        configs = {a: c for a, c in missing.items() if isinstance(c, Config)}
        plain = {a: p for a, p in missing.items() if a not in configs}
        try:
            values.update(resolve_configs(configs, context=context, cwd=request.cwd))
            values.update(resolve_parameters(plain, {}, from_text=False, context=context))
        except ParameterError as exc:
            raise ResumeError(
                f"Cannot resume {run.pathspec}: it has no value for a parameter the flow now "
                f"needs ({exc}). Start a new run instead."
            ) from exc
    return values


# -- once the run exists -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Clone:
    plan: TaskPlan
    origin: OriginTask


async def plan_resume(
    request: RunRequest,
    scheduler: Scheduler,
    output: Console,
    origin: ResumeOrigin | None = None,
) -> list[TaskPlan]:
    """Clone what the origin finished into the scheduler's run; return the tasks to run.

    :param origin: what :func:`load_origin` returned (by default the request's, else loaded
        here).
    :raises ResumeError: as :func:`load_origin` does.
    """
    origin = origin or request.origin
    if origin is None:
        origin = await anyio.to_thread.run_sync(load_origin, request, scheduler.stores)
    scheduler.reserve_task_ids(origin.max_task_id)
    clones: list[_Clone] = []
    first: list[TaskPlan] = []
    with scheduler.collecting() as ready:
        ready.append(TaskPlan(step="start", inputs=[]))
        while ready:
            group = _take_group(ready)
            found = [
                origin.tasks.get(
                    (plan.step, _stack_key(plan.stack), _ids([t.pathspec for t in plan.inputs]))
                )
                for plan in group
            ]
            if any(task is None for task in found):
                # The tasks of a @parallel group work together: one that did not finish
                # runs again with its whole group, never alone.
                first.extend(group)
                continue
            for plan, task in zip(group, found, strict=True):
                assert task is not None
                clones.append(_Clone(plan, task))
                splits = await _num_splits(scheduler, task)
                chosen = task.meta("switch-step")
                scheduler.clone(plan, task.record.task_id, task.refs, splits, chosen)
    writer = _CloneWriter(scheduler, origin)
    await anyio.to_thread.run_sync(writer.write_all, clones)
    await _announce(scheduler, output, origin, clones, first)
    return first


def _take_group(ready: list[TaskPlan]) -> list[TaskPlan]:
    """Take the next ready task off ``ready``, with the rest of its @parallel group (the
    tasks one ``num_parallel`` split started, queued together); a task outside a group is
    a group of one."""
    plan = ready.pop(0)
    if not is_parallel(plan):
        return [plan]
    key = group_key(plan)
    group = [plan, *(p for p in ready if is_parallel(p) and group_key(p) == key)]
    ready[:] = [p for p in ready if p not in group[1:]]
    return sorted(group, key=lambda p: p.stack[-1].index)


async def _num_splits(scheduler: Scheduler, task: OriginTask) -> int | None:
    """How many tasks a cloned foreach step started (recorded, else the variable's length)."""
    node = scheduler.graph[task.record.step]
    if node.type != "foreach":
        return None
    recorded = task.meta("foreach-num-splits")
    if recorded is not None or node.parallel:
        return int(recorded or 0)
    sha = next(a.sha for a in task.artifacts if a.name == node.foreach_param)
    blobs = scheduler.stores.blobs
    value = await anyio.to_thread.run_sync(lambda: loads(blobs.get(sha), node.foreach_param))
    return len(value)  # type: ignore[arg-type]


class _CloneWriter:
    """Writes the records and logs of cloned tasks (in a worker thread)."""

    def __init__(self, scheduler: Scheduler, origin: ResumeOrigin) -> None:
        self._plan = scheduler.plan
        self._graph = scheduler.graph
        self._store = scheduler.metadata
        self._logs = scheduler.stores.logs
        self._origin = origin

    def write_all(self, clones: list[_Clone]) -> None:
        """Record the clones, :data:`CLONE_BATCH` tasks per transaction, then link their logs."""
        for start in range(0, len(clones), CLONE_BATCH):
            batch = clones[start : start + CLONE_BATCH]
            self._store.clone_tasks([self._cloned(c.plan, c.origin) for c in batch])
        for clone in clones:
            self._link_logs(clone.plan, clone.origin)

    def _cloned(self, plan: TaskPlan, origin: OriginTask) -> TaskSnapshot:
        run = self._plan
        now = time.time()
        task = TaskRecord(
            flow=run.flow_name,
            run_id=run.run_id,
            step=plan.step,
            task_id=origin.record.task_id,
            created_at=now,
            index=plan.stack[-1].index if plan.stack else None,
            foreach_stack=origin.record.foreach_stack,
            parent_pathspecs=tuple(parent.pathspec for parent in plan.inputs),
            origin_pathspec=origin.record.pathspec,
        )
        attempt = msgspec.structs.replace(
            origin.attempt,
            run_id=run.run_id,
            attempt=0,
            started_at=now,
            finished_at=now,
            pid=None,
        )
        artifacts = tuple(
            msgspec.structs.replace(a, run_id=run.run_id, attempt=0, created_at=now)
            for a in origin.artifacts
        )
        return TaskSnapshot(
            task=task,
            attempt=attempt,
            artifacts=artifacts,
            metadata=tuple(self._metadata(task, origin, now)),
        )

    def _metadata(self, task: TaskRecord, origin: OriginTask, now: float) -> list[MetadataRecord]:
        copied = [
            msgspec.structs.replace(m, run_id=task.run_id, attempt=0, created_at=now)
            for m in origin.metadata
            if m.name not in _NOT_COPIED
        ]
        own = {
            "attempt": "0",
            "attempt-ok": str(origin.attempt.state == AttemptState.SUCCEEDED),
            "origin-run-id": self._origin.run_id,
            "origin-task-id": origin.record.task_id,
            "origin-pathspec": origin.record.pathspec,
            "origin-attempt": str(origin.attempt.attempt),
        }
        if task.step == "start":
            own["graph-signature"] = json.dumps(self._graph.signature())
        return copied + [
            MetadataRecord(
                flow=task.flow,
                run_id=task.run_id,
                step=task.step,
                task_id=task.task_id,
                attempt=0,
                name=name,
                value=value,
                type=name,
                created_at=now,
            )
            for name, value in own.items()
        ]

    def _link_logs(self, plan: TaskPlan, origin: OriginTask) -> None:
        run = self._plan
        task_id = origin.record.task_id
        for stream in STREAMS:
            source = LogKey(
                flow=run.flow_name,
                run_id=self._origin.run_id,
                step=plan.step,
                task_id=task_id,
                attempt=origin.attempt.attempt,
                stream=stream,
            )
            target = LogKey(
                flow=run.flow_name,
                run_id=run.run_id,
                step=plan.step,
                task_id=task_id,
                attempt=0,
                stream=stream,
            )
            self._logs.copy(source, target)


async def _announce(
    scheduler: Scheduler,
    output: Console,
    origin: ResumeOrigin,
    clones: list[_Clone],
    first: list[TaskPlan],
) -> None:
    run = scheduler.plan
    now = stamp()
    lines = [
        f"{now} {task_prefix(run.run_id, c.plan.step, c.origin.record.task_id, None)} "
        f"Cloned from {c.origin.record.pathspec}."
        for c in clones
    ]
    steps = list(dict.fromkeys(plan.step for plan in first))
    if steps:
        what = ", ".join(f"'{s}'" for s in steps)
        lines.append(
            f"{now} Resuming {run.flow_name}/{origin.run_id}: {len(clones)} task(s) "
            f"cloned; running again from step(s) {what}."
        )
    else:
        lines.append(
            f"{now} Resuming {run.flow_name}/{origin.run_id}: every task was cloned; "
            "nothing is left to run."
        )
    await output.write("stdout", lines)
