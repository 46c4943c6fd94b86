"""What the pages show, read through the client layer: blocking, called in worker threads.

Each function opens client nodes (every namespace: the UI shows the whole store) and
returns plain records for the templates, so a template never touches the store. Nothing
here writes.
"""

from __future__ import annotations

import json
import reprlib
from typing import TYPE_CHECKING, Final

import msgspec

from .._client._nodes import (
    ArtifactNode,
    FlowNode,
    RunNode,
    StepNode,
    TaskNode,
    list_flows,
    open_node,
)
from .._states import AttemptState, RunState
from ._graph import WAITING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from .._metadata._records import AttemptRecord

__all__ = (
    "PREVIEW_LIMIT",
    "ArtifactRow",
    "FlowRow",
    "RunPage",
    "RunRow",
    "RunView",
    "StepState",
    "TaskRow",
    "TaskView",
    "artifact_blob",
    "compare_runs",
    "flows",
    "log_lines",
    "preview",
    "run_page",
    "run_states",
    "run_view",
    "task_view",
)

#: Artifacts larger than this many bytes (pickled) are not loaded for a preview.
PREVIEW_LIMIT: Final = 64 * 1024
#: The longest preview text shown.
PREVIEW_CHARS: Final = 2000
#: The tasks of a step listed on the run page (a large foreach has a link to the rest).
TASKS_SHOWN: Final = 200
#: Statuses a run can be filtered by.
STATUSES: Final = tuple(RunState)


def _short_repr(value: object) -> str:
    """``repr(value)`` cut short: long strings, deep or large containers are elided."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = PREVIEW_CHARS
    shortener.maxlevel = 4
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 50
    return shortener.repr(value)


class FlowRow(msgspec.Struct, frozen=True, kw_only=True):
    """A flow on the flows page."""

    name: str
    created_at: float | None


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    """A run on the runs page."""

    run_id: str
    status: str
    user: str
    tags: tuple[str, ...]
    created_at: float
    finished_at: float | None

    @property
    def duration(self) -> float | None:
        """Seconds from creation to the end (``None`` while running)."""
        return None if self.finished_at is None else self.finished_at - self.created_at


class RunPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a flow's runs after filtering.

    ``total`` and ``pages`` are ``None`` when counting them would mean reading every run
    (no filter, and more runs than the pages up to this one hold).
    """

    flow: str
    rows: tuple[RunRow, ...]
    page: int
    more: bool
    total: int | None
    pages: int | None


class StepState(msgspec.Struct, frozen=True, kw_only=True):
    """A step's tasks counted by the state of their latest attempt."""

    name: str
    state: str
    total: int
    done: int
    running: int
    failed: int

    @property
    def label(self) -> str:
        """The caption under the step's name in the graph."""
        if self.total > 1:
            return f"{self.done}/{self.total} done" + (
                f", {self.failed} failed" if self.failed else ""
            )
        return self.state


class TaskRow(msgspec.Struct, frozen=True, kw_only=True):
    """A task in a run's list of tasks."""

    step: str
    task_id: str
    index: int | None
    status: str


class RunView(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the run page shows."""

    row: RunRow
    flow: str
    signature: list[list[object]]
    steps: tuple[StepState, ...]
    tasks: dict[str, list[TaskRow]]
    parameters: dict[str, str]
    system_tags: tuple[str, ...]
    origin: str | None


class ArtifactRow(msgspec.Struct, frozen=True, kw_only=True):
    """An artifact on the task page, with its preview when it is small."""

    name: str
    type: str
    size: int
    sha: str
    preview: str | None


class AttemptRow(msgspec.Struct, frozen=True, kw_only=True):
    """An attempt of a task."""

    attempt: int
    state: str
    started_at: float
    finished_at: float | None
    exit_code: int | None
    pid: int | None


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the task page shows."""

    pathspec: str
    flow: str
    run_id: str
    step: str
    task_id: str
    index: int | None
    status: str
    attempt: int
    attempts: tuple[AttemptRow, ...]
    artifacts: tuple[ArtifactRow, ...]
    metadata: dict[str, str]
    exception: str | None
    run_finished: bool


def _row(node: RunNode) -> RunRow:
    record = node.current()
    return RunRow(
        run_id=record.run_id,
        status=record.status,
        user=record.user,
        tags=tuple(sorted(record.user_tags)),
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


def flows(root: Path) -> list[FlowRow]:
    """Every flow of the store, by name."""
    return [
        FlowRow(name=flow.name, created_at=flow.created_at.timestamp())
        for flow in list_flows(root, namespace_check=False)
    ]


def run_page(
    root: Path,
    flow: str,
    *,
    status: str = "",
    tag: str = "",
    user: str = "",
    search: str = "",
    page: int = 1,
    per_page: int = 50,
) -> RunPage:
    """One page of the runs of ``flow``, newest first, filtered.

    Tag and user filters are the store's own query; without a status or search filter
    only the runs up to this page are read, so the first pages stay fast however many
    runs there are.

    :param search: keep the runs whose id contains this text.
    :raises NotFound: if the flow does not exist.
    """
    node = open_node(FlowNode, flow, root=root, namespace_check=False)
    assert isinstance(node, FlowNode)
    tags = [t for t in (tag, f"user:{user}" if user else "") if t]
    page = max(1, page)
    scan = bool(status or search)
    limit = None if scan else page * per_page + 1
    runs = node.runs(tags, namespace_check=False, limit=limit)
    if search:
        runs = [run for run in runs if search in run.record.run_id]
    if status:
        # Only a run recorded as running can have changed since it was read.
        runs = [run for run in runs if _status(run) == status]
    counted = limit is None or len(runs) < limit
    pages = max(1, -(-len(runs) // per_page)) if counted else None
    if pages is not None:
        page = min(page, pages)
    chosen = runs[(page - 1) * per_page : page * per_page]
    return RunPage(
        flow=flow,
        rows=tuple(_row(run) for run in chosen),
        page=page,
        more=len(runs) > page * per_page,
        total=len(runs) if counted else None,
        pages=pages,
    )


def _status(run: RunNode) -> str:
    return run.status() if run.record.status == RunState.RUNNING else run.record.status


def _run(root: Path, flow: str, run_id: str) -> RunNode:
    node = open_node(RunNode, f"{flow}/{run_id}", root=root, namespace_check=False)
    assert isinstance(node, RunNode)
    return node


def _step_state(
    step: StepNode, run_status: str, tasks: int, attempts: Sequence[AttemptRecord]
) -> StepState:
    states = [a.state for a in attempts]
    done = states.count(AttemptState.SUCCEEDED)
    running = states.count(AttemptState.RUNNING) if run_status == RunState.RUNNING else 0
    failed = sum(1 for s in states if s not in (AttemptState.SUCCEEDED, AttemptState.RUNNING))
    total = max(tasks, len(states))
    state: str
    if failed:
        state = AttemptState.FAILED
    elif running or (run_status == RunState.RUNNING and done < total):
        state = AttemptState.RUNNING
    elif total and done == total:
        state = AttemptState.SUCCEEDED
    else:
        state = AttemptState.CANCELLED if run_status != RunState.RUNNING else WAITING
    return StepState(
        name=step.name, state=state, total=total, done=done, running=running, failed=failed
    )


def _steps(
    run: RunNode, status: str, limit: int
) -> tuple[list[StepState], dict[str, list[TaskRow]]]:
    """Every step's state and its first ``limit`` tasks, with one query per step."""
    states, tasks = [], {}
    for step in run.steps():
        records = step.tasks()
        attempts = step._last_attempts()[1]
        latest = {a.task_id: a.state for a in attempts}
        states.append(_step_state(step, status, len(records), attempts))
        tasks[step.name] = [
            TaskRow(
                step=step.name,
                task_id=task.id,
                index=task.index,
                status=latest.get(task.id, WAITING),
            )
            for task in list(reversed(records))[:limit]
        ]
    return states, tasks


def run_states(root: Path, flow: str, run_id: str) -> tuple[str, list[StepState]]:
    """The run's status and the state of every step that has a task."""
    run = _run(root, flow, run_id)
    status = run.status()
    return status, _steps(run, status, 0)[0]


def _start_metadata(run: RunNode) -> tuple[StepNode | None, dict[str, str]]:
    for step in run.steps():
        if step.name == "start":
            task = step.any_task()
            return step, ({} if task is None else task.metadata_dict())
    return None, {}


def _parameters(start: StepNode | None, meta: dict[str, str]) -> dict[str, str]:
    names = json.loads(meta.get("parameters", "{}"))
    task = start.any_task() if start is not None else None
    if not names or task is None:
        return {}
    values = {artifact.name: artifact for artifact in task.artifacts()}
    return {name: preview(values[name]) or "(too large)" for name in names if name in values}


def run_view(root: Path, flow: str, run_id: str, *, parameters: bool = True) -> RunView:
    """The run page's content (without the parameters' values unless ``parameters``).

    :raises NotFound: if the run does not exist.
    """
    run = _run(root, flow, run_id)
    row = _row(run)
    steps = run.steps()
    start, meta = _start_metadata(run)
    signature = json.loads(meta["graph-signature"]) if "graph-signature" in meta else []
    if not signature:  # the start task has not ended: draw the steps seen so far, in a line
        names = [step.name for step in reversed(steps)]
        signature = [[n, "linear", names[i + 1 : i + 2], None] for i, n in enumerate(names)]
    states, tasks = _steps(run, row.status, TASKS_SHOWN)
    return RunView(
        row=row,
        flow=flow,
        signature=signature,
        steps=tuple(states),
        tasks=tasks,
        parameters=_parameters(start, meta) if parameters else {},
        system_tags=tuple(sorted(run.system_tags)),
        origin=run.origin_pathspec,
    )


def _task(root: Path, pathspec: str, attempt: int | None = None) -> TaskNode:
    node = open_node(TaskNode, pathspec, attempt, root=root, namespace_check=False)
    assert isinstance(node, TaskNode)
    return node


def preview(artifact: ArtifactNode) -> str | None:
    """A short text of a small artifact's value; ``None`` for a large one.

    The value is loaded only when its pickle is at most :data:`PREVIEW_LIMIT` bytes, and
    shown with :mod:`reprlib`, so a large container never makes a huge page.
    """
    if artifact.size > PREVIEW_LIMIT:
        return None
    try:
        value = artifact.value()
    except Exception as exc:  # noqa: BLE001 - a preview that cannot be made says why
        return f"(cannot load: {exc})"
    try:
        text = _short_repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ of a user class
        text = f"(repr failed: {type(exc).__name__}: {exc})"
    return text[:PREVIEW_CHARS]


def _type_name(artifact: ArtifactNode) -> str:
    if artifact.size > PREVIEW_LIMIT:
        return "?"
    try:
        value = artifact.value()
    except Exception:  # noqa: BLE001 - the preview says why
        return "?"
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def task_view(root: Path, pathspec: str, attempt: int | None = None) -> TaskView:
    """The task page's content (at ``attempt``, or the latest one).

    :raises NotFound: if the task (or that attempt) does not exist.
    """
    task = _task(root, pathspec, attempt)
    flow, run_id, step, task_id = pathspec.split("/")
    store = task.handle.metadata
    attempts = tuple(
        AttemptRow(
            attempt=a.attempt,
            state=a.state,
            started_at=a.started_at,
            finished_at=a.finished_at,
            exit_code=a.exit_code,
            pid=a.pid,
        )
        for a in store.list_attempts(flow, run_id, step, task_id)
    )
    exception = task.exception()
    return TaskView(
        pathspec=pathspec,
        flow=flow,
        run_id=run_id,
        step=step,
        task_id=task_id,
        index=task.index,
        status=task.status() or WAITING,
        attempt=task.current_attempt(),
        attempts=attempts,
        artifacts=tuple(
            ArtifactRow(
                name=a.name, type=_type_name(a), size=a.size, sha=a.sha, preview=preview(a)
            )
            for a in sorted(task.artifacts(), key=lambda a: a.name)
        ),
        metadata=task.metadata_dict(),
        exception=None if exception is None else str(exception),
        run_finished=task.step.run.settled(),
    )


def artifact_blob(root: Path, pathspec: str) -> bytes:
    """The pickled value of an artifact, as stored.

    :raises NotFound: if the artifact does not exist.
    """
    node = open_node(ArtifactNode, pathspec, root=root, namespace_check=False)
    assert isinstance(node, ArtifactNode)
    return node.handle.stores.blobs.get(node.sha)


def log_lines(
    root: Path, pathspec: str, stream: str, position: int, attempt: int | None = None
) -> tuple[list[tuple[int, str]], bool]:
    """The lines of a task's log after ``position`` and whether the task has ended.

    The end is read before the lines, so a reader that sees ``True`` has every line.

    :raises ValueError: for a bad stream or a position that is not just after a line.
    """
    task = _task(root, pathspec, attempt)
    ended = task.finished() or task.step.run.settled()
    key = task.log_key(stream)
    if key is None:
        return [], ended
    lines = task.handle.stores.logs.read_from(key, position)
    return [(line.position, line.text.decode("utf-8", "replace")) for line in lines], ended


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    """A value that differs between two runs (``None``: missing in that run)."""

    where: str
    name: str
    left: str | None
    right: str | None


def _values(run: RunNode) -> dict[str, tuple[str, ArtifactNode]]:
    """Each artifact name with the first step (in run order) of one task that set it."""
    found: dict[str, tuple[str, ArtifactNode]] = {}
    for step in reversed(run.steps()):  # oldest first
        tasks = step.tasks()
        if len(tasks) != 1:  # a foreach's tasks have no counterpart to compare with
            continue
        for artifact in tasks[0].artifacts():
            if artifact.name not in found or found[artifact.name][1].sha != artifact.sha:
                found[artifact.name] = (step.name, artifact)
    return found


def _shown(artifact: ArtifactNode | None) -> str | None:
    if artifact is None:
        return None
    return preview(artifact) or f"({artifact.size} bytes)"


def compare_runs(root: Path, flow: str, left: str, right: str) -> list[Difference]:
    """The parameters and artifacts whose last values differ between two runs.

    An artifact is compared at the last step of one task that changed it (so a value
    passed on unchanged from step to step is listed once), by its content hash: nothing
    large is loaded.

    :raises NotFound: if either run does not exist.
    """
    runs = [_run(root, flow, left), _run(root, flow, right)]
    sides = [_values(run) for run in runs]
    parameters: set[str] = set()
    for run in runs:
        parameters |= set(json.loads(_start_metadata(run)[1].get("parameters", "{}")))
    differences = []
    for name in sorted(set(sides[0]) | set(sides[1])):
        a, b = sides[0].get(name), sides[1].get(name)
        if a is not None and b is not None and a[1].sha == b[1].sha:
            continue
        where = "parameter" if name in parameters else (a or b or ("", None))[0]
        differences.append(
            Difference(
                where=where,
                name=name,
                left=_shown(a[1] if a else None),
                right=_shown(b[1] if b else None),
            )
        )
    differences.sort(key=lambda d: (d.where != "parameter", d.where, d.name))
    return differences


def page_numbers(page: int, pages: int | None, more: bool) -> Sequence[int]:
    """The page links to show around ``page`` (``pages`` unknown: up to the next one)."""
    last = pages if pages is not None else page + (1 if more else 0)
    shown = {1, last, *range(max(1, page - 2), min(last, page + 2) + 1)}
    return sorted(shown)
