"""The records a task's events carry, built from the run's plan (pure functions).

The scheduler decides what happens to a task; these say how it is recorded: the task
record, its attempts, the metadata every attempt gets, and the spec its process is given.
"""

from __future__ import annotations

import json
import platform
import time
from typing import TYPE_CHECKING, TypedDict

import msgspec

from .._messages import TaskSpec
from .._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    TaskRecord,
)
from .._metadata._writes import EndAttempt
from .._states import AttemptState
from ._plan import is_parallel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._flow._decorators import StepDecorator
    from .._flow._graph import FlowGraph
    from .._messages import ArtifactRef, ErrorInfo, Transition
    from ._plan import RunPlan, TaskPlan
    from ._resources import Request

__all__ = (
    "AttemptKey",
    "artifact_records",
    "attempt_key",
    "attempt_record",
    "end_attempt",
    "metadata_records",
    "start_facts",
    "static_metadata",
    "task_record",
    "task_spec",
    "transition_metadata",
)

_frames = msgspec.msgpack.Encoder()


class AttemptKey(TypedDict):
    """The fields that name one attempt in the records."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int


def attempt_key(run: RunPlan, step: str, task_id: str, attempt: int) -> AttemptKey:
    """The fields naming attempt ``attempt`` of task ``step/task_id`` of the run."""
    return {
        "flow": run.flow_name,
        "run_id": run.run_id,
        "step": step,
        "task_id": task_id,
        "attempt": attempt,
    }


def task_record(run: RunPlan, plan: TaskPlan, task_id: str) -> TaskRecord:
    """The record of a new task of ``plan``."""
    return TaskRecord(
        flow=run.flow_name,
        run_id=run.run_id,
        step=plan.step,
        task_id=task_id,
        created_at=time.time(),
        index=plan.stack[-1].index if plan.stack else None,
        foreach_stack=_frames.encode(list(plan.stack)) if plan.stack else b"",
        parent_pathspecs=tuple(task.pathspec for task in plan.inputs),
    )


def attempt_record(run: RunPlan, step: str, task_id: str, attempt: int) -> AttemptRecord:
    """The record of an attempt that starts now."""
    return AttemptRecord(
        **attempt_key(run, step, task_id, attempt),
        state=AttemptState.RUNNING,
        started_at=time.time(),
    )


def metadata_records(
    run: RunPlan, step: str, task_id: str, attempt: int, meta: dict[str, str], now: float
) -> list[MetadataRecord]:
    """Metadata events of an attempt, one per entry of ``meta``."""
    key = attempt_key(run, step, task_id, attempt)
    return [
        MetadataRecord(**key, name=name, value=value, type=name, created_at=now)
        for name, value in meta.items()
    ]


def artifact_records(
    run: RunPlan, step: str, task_id: str, attempt: int, refs: Sequence[ArtifactRef], now: float
) -> list[ArtifactRecord]:
    """The artifact index of an attempt."""
    key = attempt_key(run, step, task_id, attempt)
    return [
        ArtifactRecord(**key, name=ref.name, sha=ref.sha, size=ref.size, created_at=now)
        for ref in refs
    ]


def end_attempt(
    run: RunPlan,
    step: str,
    task_id: str,
    attempt: int,
    *,
    state: AttemptState,
    error: ErrorInfo | None,
    artifacts: Sequence[ArtifactRef],
    pid: int | None,
    returncode: int | None,
    executor: str,
    meta: dict[str, str],
) -> EndAttempt:
    """How an attempt ended, with its artifact index and its metadata."""
    now = time.time()
    meta = {
        "attempt": str(attempt),
        "attempt-ok": str(state == AttemptState.SUCCEEDED),
        "ds-root": run.root,
        "runtime": "dev",
        "python_version": platform.python_version(),
        "executor": executor,
        "pid": str(pid),
        **meta,
    }
    if run.origin_run_id:
        meta["origin-run-id"] = run.origin_run_id
    return EndAttempt(
        **attempt_key(run, step, task_id, attempt),
        state=state,
        finished_at=now,
        exit_code=returncode if returncode is not None and returncode >= 0 else None,
        signal=-returncode if returncode is not None and returncode < 0 else None,
        exception=(
            ExceptionInfo(type=error.type, message=error.message, traceback=error.traceback)
            if error is not None
            else None
        ),
        artifacts=artifact_records(run, step, task_id, attempt, artifacts, now),
        metadata=metadata_records(run, step, task_id, attempt, meta, now),
        pid=pid,
    )


def static_metadata(
    plan: TaskPlan,
    decorators: dict[str, StepDecorator],
    request: Request,
) -> dict[str, str]:
    """Metadata every attempt of the task records: its decorators, resources, graph."""
    meta = {}
    if decorators:
        meta["step-decorators"] = json.dumps([d.spec for d in decorators.values()])
    if "resources" in decorators:
        meta["resources"] = json.dumps(
            {"cpu": request.cpu, "memory": request.memory, "gpu": request.gpu}
        )
    if is_parallel(plan):
        frame = plan.stack[-1]
        meta["parallel-world-size"] = str(frame.num_splits)
        meta["parallel-node-index"] = str(frame.index)
        if frame.index == 0:
            meta["internal_task_type"] = "control"
    return meta


def start_facts(
    run: RunPlan, graph: FlowGraph, step: str, task_id: str, attempt: int
) -> list[MetadataRecord]:
    """What a resume of the run checks and reuses, recorded when each attempt of the start
    task starts: so it is there whatever becomes of the attempt, a killed supervisor
    included."""
    if step != "start":
        return []
    facts = {
        "graph-signature": json.dumps(graph.signature()),
        "parameters": json.dumps({r.name: r.sha for r in run.parameters_refs}),
    }
    return metadata_records(run, step, task_id, attempt, facts, time.time())


def transition_metadata(transition: Transition | None) -> dict[str, str]:
    """What a finished attempt records of its transition, for resume and the client."""
    if transition is None:
        return {}
    if transition.condition is not None:
        return {"switch-step": transition.targets[0]}
    if transition.num_splits is not None:
        return {"foreach-num-splits": str(transition.num_splits)}
    return {}


def task_spec(
    run: RunPlan,
    plan: TaskPlan,
    task_id: str,
    attempt: int,
    catch: StepDecorator | None = None,
    timeout: float | None = None,
    parallel_control: str | None = None,
    resources: Request | None = None,
) -> TaskSpec:
    """What the task process of an attempt is given."""
    return TaskSpec(
        flow_name=run.flow_name,
        flow_source=run.flow_source,
        flow_class=run.flow_class,
        root=run.root,
        datastore_url=run.datastore_url,
        run_id=run.run_id,
        step=plan.step,
        task_id=task_id,
        attempt=attempt,
        parameters=run.parameters,
        parameters_refs=run.parameters_refs,
        inputs=plan.inputs,
        stack=list(plan.stack),
        username=run.username,
        namespace=run.namespace,
        origin_run_id=run.origin_run_id,
        tags=list(run.tags),
        max_num_splits=run.max_num_splits,
        sys_path=run.sys_path,
        decospecs=[d.spec for d in run.decospecs],
        catch_var=catch.attributes["var"] if catch is not None else None,
        timeout=timeout,
        resources=msgspec.structs.asdict(resources) if resources is not None else {},
        parallel_control=parallel_control,
    )
