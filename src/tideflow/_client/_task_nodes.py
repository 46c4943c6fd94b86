"""The client's core for tasks and artifacts: ``TaskNode`` and ``ArtifactNode``.

A task node reads its attempts, artifacts, metadata and logs; see ``_node`` for what a
node caches and what it asks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._exceptions import NotFound, TaskException
from .._logs import STREAMS
from .._states import AttemptState
from ._data import TaskData
from ._node import Node, RecordNode, to_datetime

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from .._metadata._records import ArtifactRecord, AttemptRecord, MetadataRecord, TaskRecord
    from .._stores._interfaces import LogKey
    from ._nodes import StepNode

__all__ = ("ArtifactNode", "TaskNode")


class TaskNode(RecordNode):
    """A task, at a given attempt or at its latest one.

    Without a given attempt, the latest attempt is asked for again on every call until it
    can no longer change: once it succeeded, or once the run has ended.
    """

    KIND = "Task"
    __slots__ = ("_artifacts", "_attempt", "_final", "_fixed", "_record", "step")
    _record: TaskRecord

    def __init__(self, step: StepNode, record: TaskRecord, attempt: int | None) -> None:
        self.handle = step.handle
        self.step = step
        self._record = record
        self._fixed = attempt
        self._attempt: AttemptRecord | None = None
        self._final = False
        #: The final attempt's artifacts, when read with it (see RunNode.end_task).
        self._artifacts: tuple[ArtifactRecord, ...] | None = None

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
                node._final = record.state != AttemptState.RUNNING
                return node
        started = f"attempts 0 to {attempts[-1].attempt}" if attempts else "no attempt yet"
        raise NotFound(
            f"Attempt {attempt} of task '{self.pathspec}' does not exist; it has {started}"
        )

    @property
    def record(self) -> TaskRecord:
        return self._record

    @property
    def attempt(self) -> int | None:
        return self._fixed

    @property
    def parent(self) -> StepNode:
        return self.step

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
                record.state == AttemptState.SUCCEEDED
                or (self._fixed is not None and record.state != AttemptState.RUNNING)
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
        return record is not None and record.state == AttemptState.SUCCEEDED

    def status(self) -> str | None:
        record = self.attempt_record()
        return None if record is None else record.state

    def finished(self) -> bool:
        record = self.attempt_record()
        return record is not None and record.state != AttemptState.RUNNING

    def finished_at(self) -> datetime | None:
        record = self.attempt_record()
        if record is None or record.state == AttemptState.RUNNING or record.finished_at is None:
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
        records: Iterable[ArtifactRecord] | None = self._artifacts
        if records is None:
            records = self.handle.metadata.list_artifacts(
                r.flow, r.run_id, r.step, r.task_id, attempt
            )
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
        self, stream: str, as_unicode: bool = True, meta_dict: dict[str, Any] | None = None
    ) -> list[tuple[datetime, Any]]:
        """``(utc_timestamp, line)`` of each line of a log so far (``meta_dict`` is
        accepted for compatibility, unused).

        :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``.
        """
        key = self.log_key(stream)
        found = [] if key is None else self.handle.stores.logs.read_log(key)
        if not as_unicode:
            return list(found)
        return [(stamp, line.decode("utf-8", errors="replace")) for stamp, line in found]

    # -- family --------------------------------------------------------------------------

    def _sibling(self, pathspec: str, steps: dict[str, StepNode]) -> TaskNode:
        flow, run_id, step, task_id = pathspec.split("/")
        if (flow, run_id) != (self._record.flow, self._record.run_id):
            return self.step.run.other_run(flow, run_id).child(step).child(task_id)
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
