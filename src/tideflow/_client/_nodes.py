"""The client's core: one node class per kind of object, reading the stores directly.

A node is the blocking query layer behind a client object. ``Run`` calls its node's
methods in the caller's thread; ``AsyncRun`` calls the same methods in a worker thread.
Nodes know nothing about either facade.

What a node caches: the record that identifies it (a run, a step, a task), because it never
changes once final. What it asks the store again on every call: anything that may still
change while the run is going (status, attempts, artifacts, logs).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

from .._exceptions import NamespaceMismatch, NotFound, TaskException
from .._logs import STREAMS
from .._metadata._liveness import mark_crashed_runs
from ._data import TaskData
from ._namespace import check_namespace, flow_namespace_mismatch, get_namespace
from ._pathspec import split_pathspec
from ._store import StoreHandle, open_location

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator

    from .._config import Config
    from .._metadata._records import (
        ArtifactRecord,
        AttemptRecord,
        MetadataRecord,
        RunRecord,
        StepRecord,
        TaskRecord,
    )
    from .._stores._interfaces import LogKey

__all__ = (
    "ArtifactNode",
    "FlowNode",
    "Node",
    "RunNode",
    "StepNode",
    "TaskNode",
    "list_flows",
    "open_node",
    "to_datetime",
)

_NO_TAGS: Final[frozenset[str]] = frozenset()
#: A value not read from the store yet.
_UNKNOWN: Final = object()


def to_datetime(ts: float) -> datetime:
    """A timestamp of the stores (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def open_node(
    kind: type[Node],
    pathspec: object,
    attempt: int | None = None,
    *,
    namespace_check: bool = True,
    root: str | os.PathLike[str] | Config | None = None,
) -> Node:
    """Find the object ``pathspec`` names and return its node.

    :raises InvalidPathspec: if ``pathspec`` does not have the shape of a ``kind`` pathspec.
    :raises NotFound: if the object does not exist.
    :raises NamespaceMismatch: if ``namespace_check`` and the object's run is not in the
        current namespace (for a flow: if none of its runs is).
    """
    parts = split_pathspec(kind.KIND, pathspec)
    if attempt is not None and (
        isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0
    ):
        raise ValueError(f"attempt must be None or an integer >= 0; got {attempt!r}.")
    handle = open_location(root)
    handle.require(f"{kind.KIND} '{pathspec}'")
    node = kind.open(handle, parts, attempt)
    if namespace_check and isinstance(node, FlowNode):
        ns = get_namespace()
        if not node.in_namespace(ns):
            raise flow_namespace_mismatch(node.name, ns)
    elif namespace_check:
        check_namespace(kind.KIND, node.pathspec, node.tags)
    return node


def list_flows(
    root: str | os.PathLike[str] | Config | None, namespace_check: bool
) -> list[FlowNode]:
    """Return every flow of the store, by name; with ``namespace_check``, only the flows
    that have a run in the current namespace."""
    handle = open_location(root)
    if not handle.exists():
        return []
    flows = [FlowNode.open(handle, (name,), None) for name in handle.metadata.list_flows()]
    ns = get_namespace() if namespace_check else None
    return [flow for flow in flows if flow.in_namespace(ns)]


class Node:
    """What every node has: a pathspec, a parent, tags and children."""

    KIND: ClassVar[str]
    __slots__ = ("handle",)
    handle: StoreHandle

    @classmethod
    def open(cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> Node:
        """Look up the object named by the pathspec ``parts``.

        :raises NotFound: if it does not exist.
        """
        raise NotImplementedError

    @property
    def pathspec(self) -> str:
        raise NotImplementedError

    @property
    def attempt(self) -> int | None:
        """The attempt the node was opened at (tasks and artifacts only)."""
        return None

    @property
    def id(self) -> str:
        return self.pathspec.rsplit("/", 1)[-1]

    @property
    def created_at(self) -> datetime:
        raise NotImplementedError

    @property
    def parent(self) -> Node | None:
        raise NotImplementedError

    @property
    def user_tags(self) -> frozenset[str]:
        return _NO_TAGS

    @property
    def system_tags(self) -> frozenset[str]:
        return _NO_TAGS

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        return None

    def in_namespace(self, ns: str | None) -> bool:
        """Whether this object is in the namespace ``ns`` (``None``: every namespace)."""
        return ns is None or ns in self.tags

    def children(self) -> list[Node]:
        """The children, newest first (in the current namespace, for a flow)."""
        raise NotImplementedError

    def child(self, id: str) -> Node:
        """The child ``id``.

        :raises NotFound: if there is none.
        """
        raise NotImplementedError

    def has_child(self, id: str) -> bool:
        try:
            self.child(id)
        except (NotFound, NamespaceMismatch):
            return False
        return True


# -- flows and runs ----------------------------------------------------------------------


class FlowNode(Node):
    """A flow: every run of a ``FlowSpec`` subclass."""

    KIND = "Flow"
    __slots__ = ("_created_at", "name")

    def __init__(self, handle: StoreHandle, name: str, created_at: float | None) -> None:
        self.handle = handle
        self.name = name
        self._created_at = created_at

    @classmethod
    def open(cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> FlowNode:
        (name,) = parts
        created = handle.metadata.flow_created_at(name)
        if created is None:
            raise NotFound(f"Flow '{name}' does not exist")
        return cls(handle, name, created)

    @property
    def pathspec(self) -> str:
        return self.name

    @property
    def created_at(self) -> datetime:
        if self._created_at is None:
            self._created_at = self.handle.metadata.flow_created_at(self.name) or 0.0
        return to_datetime(self._created_at)

    @property
    def parent(self) -> None:
        return None

    def in_namespace(self, ns: str | None) -> bool:
        """A flow is in a namespace when one of its runs is."""
        return ns is None or bool(self.handle.metadata.list_runs(self.name, (ns,), limit=1))

    def runs(
        self,
        tags: Iterable[str] = (),
        *,
        namespace_check: bool = True,
        limit: int | None = None,
    ) -> list[RunNode]:
        """The runs carrying every tag in ``tags``, newest first, in the current namespace
        (at most ``limit`` of them)."""
        wanted = list(tags)
        ns = get_namespace() if namespace_check else None
        if ns is not None:
            wanted.append(ns)
        records = self.handle.metadata.list_runs(self.name, wanted, limit=limit)
        return [RunNode(self.handle, r) for r in records]

    def latest_run(self, *, successful: bool = False) -> RunNode | None:
        """The newest run in the current namespace (the newest successful one)."""
        ns = get_namespace()
        record = self.handle.metadata.latest_run(
            self.name, () if ns is None else (ns,), successful=successful
        )
        return None if record is None else RunNode(self.handle, record)

    def children(self) -> list[Node]:
        return list(self.runs())

    def child(self, id: str) -> RunNode:
        """The run ``id``, checked against the current namespace as ``Run(pathspec)`` is.

        :raises NotFound: if there is no such run.
        :raises NamespaceMismatch: if it is outside the current namespace.
        """
        run = RunNode.open(self.handle, (self.name, id), None)
        check_namespace(RunNode.KIND, run.pathspec, run.tags)
        return run


class RunNode(Node):
    """A run. Its record is asked for again only while the run is still running."""

    KIND = "Run"
    __slots__ = ("_record",)

    def __init__(self, handle: StoreHandle, record: RunRecord) -> None:
        self.handle = handle
        self._record = record

    @classmethod
    def open(cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> RunNode:
        flow, run_id = parts
        return cls(handle, handle.metadata.get_run(flow, run_id))

    @property
    def record(self) -> RunRecord:
        """The run's record as last read (its tags are those of that moment)."""
        return self._record

    @property
    def pathspec(self) -> str:
        return self._record.pathspec

    @property
    def created_at(self) -> datetime:
        return to_datetime(self._record.created_at)

    @property
    def parent(self) -> FlowNode:
        return FlowNode(self.handle, self._record.flow, None)

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self._record.user_tags)

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset(self._record.system_tags)

    @property
    def origin_pathspec(self) -> str | None:
        origin = self._record.origin_run_id
        return None if origin is None else f"{self._record.flow}/{origin}"

    @property
    def runtime_name(self) -> str | None:
        """The value of the run's ``runtime:`` system tag."""
        for tag in self._record.system_tags:
            if tag.startswith("runtime:"):
                return tag.partition(":")[2]
        return None

    def current(self) -> RunRecord:
        """The run's record, read again if the cached one says it is still running.

        A run still marked running whose supervisor is gone is recorded as crashed first,
        so that no run reads as running forever.
        """
        if self._record.status == "running":
            flow, run_id = self._record.flow, self._record.run_id
            record = self.handle.metadata.get_run(flow, run_id)
            if record.status == "running" and self.handle.is_stale(record):
                mark_crashed_runs(
                    self.handle.metadata, self.handle.root, self.handle.heartbeat_timeout, flow
                )
                record = self.handle.metadata.get_run(flow, run_id)
            self._record = record
        return self._record

    def settled(self) -> bool:
        """Whether the run has ended: nothing in it changes any more."""
        return self.current().status != "running"

    def successful(self) -> bool:
        return self.current().status == "succeeded"

    def status(self) -> str:
        return self.current().status

    def finished(self) -> bool:
        """Whether the ``end`` task completed (successfully or not), as the reference says.

        A run that failed, crashed or was cancelled before its ``end`` step is not finished;
        :meth:`status` tells those states apart.
        """
        end = self.end_task()
        return end is not None and end.finished()

    def finished_at(self) -> datetime | None:
        """When the ``end`` task completed (its ``finished_at``); ``None`` until then."""
        end = self.end_task()
        return None if end is None else end.finished_at()

    def steps(self) -> list[StepNode]:
        records = self.handle.metadata.list_steps(self._record.flow, self._record.run_id)
        return [StepNode(self, record) for record in records]

    def children(self) -> list[Node]:
        return list(self.steps())

    def child(self, id: str) -> StepNode:
        for step in self.steps():
            if step.name == id:
                return step
        raise NotFound(f"Step '{self.pathspec}/{id}' does not exist")

    def end_task(self) -> TaskNode | None:
        """The task of the ``end`` step, or ``None`` if it has not started."""
        try:
            return self.child("end").any_task()
        except NotFound:
            return None

    def data(self, preload: tuple[str, ...] | None = None) -> TaskData | None:
        end = self.end_task()
        return None if end is None else end.data(preload)

    def edit_tags(self, remove: Iterable[str], add: Iterable[str]) -> None:
        """Remove user tags, then add some, in one transaction (the store's tag rules)."""
        flow, run_id = self._record.flow, self._record.run_id
        # A string is passed on as it is, for the store to refuse; other iterables are read
        # once here, since the store goes over them more than once.
        removed = remove if isinstance(remove, str) else list(remove)
        added = add if isinstance(add, str) else list(add)
        self._record = self.handle.metadata.replace_tags(flow, run_id, removed, added)


# -- steps -------------------------------------------------------------------------------


class StepNode(Node):
    """A step of a run: the tasks that ran its function."""

    KIND = "Step"
    __slots__ = ("_origin", "_record", "run")

    def __init__(self, run: RunNode, record: StepRecord) -> None:
        self.handle = run.handle
        self.run = run
        self._record = record
        self._origin: str | None | object = _UNKNOWN

    @classmethod
    def open(cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> StepNode:
        run = RunNode.open(handle, parts[:2], None)
        return run.child(parts[2])

    @property
    def name(self) -> str:
        return self._record.step

    @property
    def pathspec(self) -> str:
        return self._record.pathspec

    @property
    def created_at(self) -> datetime:
        return to_datetime(self._record.created_at)

    @property
    def parent(self) -> RunNode:
        return self.run

    @property
    def user_tags(self) -> frozenset[str]:
        return self.run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.run.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        """The step of the origin run, when this step's tasks were cloned from it.

        Only a resumed run has one; finding out reads the step's tasks, once.
        """
        if self.run.origin_pathspec is None:
            return None
        if self._origin is _UNKNOWN:
            task = self.any_task()
            cloned = task is not None and task.origin_pathspec is not None
            self._origin = f"{self.run.origin_pathspec}/{self.name}" if cloned else None
        return self._origin  # type: ignore[return-value]

    def tasks(self, tags: Iterable[str] = ()) -> list[TaskNode]:
        """The tasks, newest first; none unless the run carries every tag in ``tags``."""
        if not set(tags) <= self.tags:
            return []
        records = self.handle.metadata.list_tasks(
            self.run.record.flow, self.run.record.run_id, self.name
        )
        return [TaskNode(self, record, None) for record in records]

    def neighbours(self) -> tuple[list[StepNode], list[StepNode]]:
        """The steps before and after this one in the flow's graph that exist in the run
        (a switch's cases that were not taken, for example, do not)."""
        try:
            start = self.run.child("start").tasks()
        except NotFound:
            return [], []
        shape: list[list[Any]] = []
        for task in start[-1:]:
            found = next((m.value for m in task.metadata() if m.name == "graph-signature"), None)
            shape = json.loads(found) if found else []
        following = {entry[0]: list(entry[2]) for entry in shape}
        present = {step.name: step for step in self.run.steps()}
        parents = [
            present[name]
            for name, targets in following.items()
            if self.name in targets and name in present
        ]
        children = [present[name] for name in following.get(self.name, ()) if name in present]
        return parents, children

    def any_task(self) -> TaskNode | None:
        """One task of the step (the newest), or ``None``."""
        tasks = self.tasks()
        return tasks[0] if tasks else None

    def children(self) -> list[Node]:
        return list(self.tasks())

    def child(self, id: str) -> TaskNode:
        record = self.handle.metadata.get_task(
            self.run.record.flow, self.run.record.run_id, self.name, id
        )
        return TaskNode(self, record, None)

    def _last_attempts(self) -> tuple[int, list[AttemptRecord]]:
        count = len(self.tasks())
        record = self.run.record
        return count, self.handle.metadata.latest_attempts(record.flow, record.run_id, self.name)

    def finished_at(self) -> datetime | None:
        """When the last task ended, once every task has ended; else ``None``."""
        count, attempts = self._last_attempts()
        ended = [a.finished_at for a in attempts if a.state != "running"]
        if count == 0 or len(ended) < count or None in ended:
            return None
        return to_datetime(max(ts for ts in ended if ts is not None))

    def successful(self) -> bool:
        """Whether every task of the step succeeded (at its last attempt)."""
        count, attempts = self._last_attempts()
        return (
            count > 0 and len(attempts) == count and all(a.state == "succeeded" for a in attempts)
        )

    def environment_info(self) -> dict[str, str]:
        task = self.any_task()
        return {} if task is None else task.environment_info()


# -- tasks and artifacts -------------------------------------------------------------------


class TaskNode(Node):
    """A task, at a given attempt or at its latest one.

    Without a given attempt, the latest attempt is asked for again on every call until it
    can no longer change: once it succeeded, or once the run has ended.
    """

    KIND = "Task"
    __slots__ = ("_attempt", "_final", "_fixed", "_record", "step")

    def __init__(self, step: StepNode, record: TaskRecord, attempt: int | None) -> None:
        self.handle = step.handle
        self.step = step
        self._record = record
        self._fixed = attempt
        self._attempt: AttemptRecord | None = None
        self._final = False

    @classmethod
    def open(cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> TaskNode:
        task = StepNode.open(handle, parts[:3], None).child(parts[3])
        if attempt is not None:
            task = task.at_attempt(attempt)
        return task

    def at_attempt(self, attempt: int) -> TaskNode:
        """This task at ``attempt``.

        :raises NotFound: if the task has not started that attempt.
        """
        r = self._record
        attempts = self.handle.metadata.list_attempts(r.flow, r.run_id, r.step, r.task_id)
        for record in attempts:
            if record.attempt == attempt:
                node = TaskNode(self.step, r, attempt)
                node._attempt = record
                node._final = record.state != "running"
                return node
        started = f"attempts 0 to {attempts[-1].attempt}" if attempts else "no attempt yet"
        raise NotFound(
            f"Attempt {attempt} of task '{self.pathspec}' does not exist; it has {started}"
        )

    @property
    def record(self) -> TaskRecord:
        return self._record

    @property
    def pathspec(self) -> str:
        return self._record.pathspec

    @property
    def attempt(self) -> int | None:
        return self._fixed

    @property
    def created_at(self) -> datetime:
        return to_datetime(self._record.created_at)

    @property
    def parent(self) -> StepNode:
        return self.step

    @property
    def user_tags(self) -> frozenset[str]:
        return self.step.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.step.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        return self._record.origin_pathspec

    @property
    def index(self) -> int | None:
        return self._record.index

    @property
    def runtime_name(self) -> str | None:
        return self.step.run.runtime_name

    @property
    def parent_task_pathspecs(self) -> tuple[str, ...]:
        return self._record.parent_pathspecs

    # -- the attempt -------------------------------------------------------------------

    def attempt_record(self) -> AttemptRecord | None:
        """The attempt this node describes, as it is now; ``None`` before the first one."""
        if self._final:
            return self._attempt
        # Whether the run had ended is asked first: an attempt read after that is final.
        settled = self.step.run.settled()
        r = self._record
        if self._fixed is None:
            record = self.handle.metadata.latest_attempt(r.flow, r.run_id, r.step, r.task_id)
        else:
            attempts = self.handle.metadata.list_attempts(r.flow, r.run_id, r.step, r.task_id)
            record = next(a for a in attempts if a.attempt == self._fixed)
        self._attempt = record
        self._final = settled or (
            record is not None
            and (
                record.state == "succeeded"
                or (self._fixed is not None and record.state != "running")
            )
        )
        return record

    def current_attempt(self) -> int:
        if self._fixed is not None:
            return self._fixed
        record = self.attempt_record()
        return 0 if record is None else record.attempt

    def successful(self) -> bool:
        record = self.attempt_record()
        return record is not None and record.state == "succeeded"

    def status(self) -> str | None:
        record = self.attempt_record()
        return None if record is None else record.state

    def finished(self) -> bool:
        record = self.attempt_record()
        return record is not None and record.state != "running"

    def finished_at(self) -> datetime | None:
        record = self.attempt_record()
        if record is None or record.state == "running" or record.finished_at is None:
            return None
        return to_datetime(record.finished_at)

    def exception(self) -> TaskException | None:
        record = self.attempt_record()
        if record is None or record.exception is None:
            return None
        r = self._record
        metadata = self.handle.metadata.list_metadata(
            r.flow, r.run_id, r.step, r.task_id, record.attempt
        )
        if any(m.name == "caught" for m in metadata):
            return None  # @catch handled the failure
        info = record.exception
        return TaskException(info.type, info.message, info.traceback)

    # -- artifacts -----------------------------------------------------------------------

    def _artifact_records(self) -> list[ArtifactRecord]:
        r = self._record
        attempt = self.current_attempt()
        records = self.handle.metadata.list_artifacts(r.flow, r.run_id, r.step, r.task_id, attempt)
        return [a for a in records if not a.name.startswith("_")]

    def artifacts(self) -> list[ArtifactNode]:
        return [ArtifactNode(self, record) for record in self._artifact_records()]

    def children(self) -> list[Node]:
        return list(self.artifacts())

    def child(self, id: str) -> ArtifactNode:
        for artifact in self.artifacts():
            if artifact.name == id:
                return artifact
        where = f" at attempt {self._fixed}" if self._fixed is not None else ""
        raise NotFound(f"Artifact '{self.pathspec}/{id}' does not exist{where}")

    def data(self, preload: tuple[str, ...] | None = None) -> TaskData:
        """The artifact values; those named in ``preload`` (all for ``()``) are read now."""
        refs = {a.name: a for a in self._artifact_records()}
        data = TaskData(self.pathspec, refs, lambda ref: self.handle.load(ref.sha, ref.name))
        if preload is not None:
            data._preload(preload)
        return data

    # -- metadata ------------------------------------------------------------------------

    def metadata(self) -> list[MetadataRecord]:
        """Every attempt's metadata events (only this attempt's, for a given attempt)."""
        r = self._record
        return self.handle.metadata.list_metadata(r.flow, r.run_id, r.step, r.task_id, self._fixed)

    def metadata_dict(self) -> dict[str, str]:
        """The latest value of each metadata name (``python_version`` too for a run written
        when it was named ``python-version``)."""
        values = {record.name: record.value for record in self.metadata()}
        for name, old in _RENAMED.items():
            if old in values:
                values.setdefault(name, values[old])
        return values

    def environment_info(self) -> dict[str, str]:
        """Where the current attempt ran: runtime, Python version, executor, platform."""
        r = self._record
        events = self.handle.metadata.list_metadata(
            r.flow, r.run_id, r.step, r.task_id, self.current_attempt()
        )
        values = {record.name: record.value for record in events}
        info = {"runtime": values.get("runtime") or self.runtime_name}
        for key, name in _ENVIRONMENT.items():
            info[key] = values.get(name, values.get(_RENAMED.get(name, "")))
        return {key: value for key, value in info.items() if value is not None}

    # -- logs ----------------------------------------------------------------------------

    def log_key(self, stream: str) -> LogKey | None:
        """The log of ``stream`` for the current attempt; ``None`` before the first one.

        :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``.
        """
        if stream not in STREAMS:
            raise ValueError(f"Unknown log stream {stream!r}: use 'stdout' or 'stderr'.")
        if self._fixed is None and self.attempt_record() is None:
            return None
        r = self._record
        return self.handle.log_key(
            r.flow, r.run_id, r.step, r.task_id, self.current_attempt(), stream
        )

    def log_text(self, stream: str) -> str:
        key = self.log_key(stream)
        return "" if key is None else self.handle.stores.logs.read_text(key)

    def log_size(self, stream: str) -> int:
        key = self.log_key(stream)
        return 0 if key is None else self.handle.stores.logs.log_size(key)

    def loglines(
        self, stream: str, as_unicode: bool = True
    ) -> Iterator[tuple[datetime, str | bytes]]:
        key = self.log_key(stream)
        for stamp, line in [] if key is None else self.handle.stores.logs.read_log(key):
            yield stamp, line.decode("utf-8", errors="replace") if as_unicode else line

    # -- family --------------------------------------------------------------------------

    def _sibling(self, pathspec: str, steps: dict[str, StepNode]) -> TaskNode:
        flow, run_id, step, task_id = pathspec.split("/")
        if (flow, run_id) != (self._record.flow, self._record.run_id):
            return TaskNode.open(self.handle, (flow, run_id, step, task_id), None)
        return steps[step].child(task_id)

    def parent_tasks(self) -> list[TaskNode]:
        steps = {step.name: step for step in self.step.run.steps()}
        return [self._sibling(p, steps) for p in self._record.parent_pathspecs]

    def child_task_pathspecs(self) -> list[str]:
        r = self._record
        return [
            c.pathspec for c in self.handle.metadata.child_tasks(r.flow, r.run_id, self.pathspec)
        ]

    def child_tasks(self) -> list[TaskNode]:
        r = self._record
        records = self.handle.metadata.child_tasks(r.flow, r.run_id, self.pathspec)
        steps = {step.name: step for step in self.step.run.steps()} if records else {}
        return [TaskNode(steps[c.step], c, None) for c in records]


#: Metadata names older runs wrote under another name: the name now, the name then.
_RENAMED: Final = {"python_version": "python-version"}
_ENVIRONMENT: Final = {
    "python_version": "python_version",
    "executor": "executor",
    "platform": "platform",
}


class ArtifactNode(Node):
    """An artifact of a task attempt: a name and the key of its value in the datastore."""

    KIND = "DataArtifact"
    __slots__ = ("_record", "task")

    def __init__(self, task: TaskNode, record: ArtifactRecord) -> None:
        self.handle = task.handle
        self.task = task
        self._record = record

    @classmethod
    def open(
        cls, handle: StoreHandle, parts: tuple[str, ...], attempt: int | None
    ) -> ArtifactNode:
        return TaskNode.open(handle, parts[:4], attempt).child(parts[4])

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def pathspec(self) -> str:
        return f"{self.task.pathspec}/{self.name}"

    @property
    def attempt(self) -> int | None:
        return self.task.attempt

    @property
    def created_at(self) -> datetime:
        return to_datetime(self._record.created_at)

    @property
    def finished_at(self) -> datetime:
        return self.created_at

    @property
    def parent(self) -> TaskNode:
        return self.task

    @property
    def user_tags(self) -> frozenset[str]:
        return self.task.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.task.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        origin = self.task.origin_pathspec
        return None if origin is None else f"{origin}/{self.name}"

    @property
    def sha(self) -> str:
        return self._record.sha

    @property
    def size(self) -> int:
        return self._record.size

    def value(self) -> object:
        return self.handle.load(self._record.sha, self._record.name)

    def children(self) -> list[Node]:
        return []

    def child(self, id: str) -> Node:
        raise NotFound(f"An artifact has no children; '{self.pathspec}/{id}' does not exist")
