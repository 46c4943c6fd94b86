"""The client's core for flows, runs and steps, and how a pathspec is opened.

See ``_node`` for what a node is and caches; tasks and artifacts are in ``_task_nodes``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._exceptions import NotFound
from .._metadata._liveness import mark_crashed_runs
from .._metadata._records import RunView
from .._metadata._tags import one_tag, some_tags
from .._states import AttemptState, RunState
from ._namespace import check_namespace, flow_namespace_mismatch, get_namespace
from ._node import UNKNOWN, Node, RecordNode, to_datetime
from ._pathspec import split_pathspec
from ._store import StoreHandle, open_location
from ._task_nodes import ArtifactNode, TaskNode
from ._views import END_STEP, RunListing

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable
    from datetime import datetime

    from .._config import Config
    from .._metadata._records import AttemptRecord, RunRecord, StepRecord, TaskView
    from ._data import TaskData

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
    node = _walk(handle, parts, attempt)
    if namespace_check and isinstance(node, FlowNode):
        ns = get_namespace()
        if not node.in_namespace(ns):
            raise flow_namespace_mismatch(node.name, ns)
    elif namespace_check:
        check_namespace(kind.KIND, node)
    return node


def _walk(handle: StoreHandle, parts: tuple[str, ...], attempt: int | None) -> Node:
    """The node of the pathspec ``parts``, found from its run down (a flow on its own).

    :raises NotFound: if a level of it does not exist.
    """
    if len(parts) == 1:
        return FlowNode.open(handle, parts[0])
    if len(parts) == 2:
        return RunNode.open(handle, parts[0], parts[1], with_end=True)
    node: Node = RunNode.open(handle, parts[0], parts[1])
    for depth, id in enumerate(parts[2:], start=3):
        node = node.child(id)
        if depth == 4 and attempt is not None:
            assert isinstance(node, TaskNode)
            node = node.at_attempt(attempt)
    return node


def list_flows(
    root: str | os.PathLike[str] | Config | None, namespace_check: bool
) -> list[FlowNode]:
    """Return every flow of the store, by name; with ``namespace_check``, only the flows
    that have a run in the current namespace."""
    handle = open_location(root)
    if not handle.exists():
        return []
    flows = [FlowNode.open(handle, name) for name in handle.metadata.list_flows()]
    ns = get_namespace() if namespace_check else None
    return [flow for flow in flows if flow.in_namespace(ns)]


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
    def open(cls, handle: StoreHandle, name: str) -> FlowNode:
        """The flow ``name``.

        :raises NotFound: if it has never run.
        """
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
        return ns is None or self.handle.metadata.has_runs(self.name, (ns,))

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
        listing = RunListing(self.handle, self.name, records)
        return [RunNode(self.handle, r, listing=listing) for r in records]

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
        run = RunNode.open(self.handle, self.name, id)
        check_namespace(RunNode.KIND, run)
        return run


class RunNode(RecordNode):
    """A run. Its record is asked for again only while the run is still running; once the
    run has ended, the newest ``end`` task (with its attempt and artifacts) is kept, here
    and in the handle's :class:`~._views.EndedRuns` for the later nodes of the same run.

    A node made from what the handle kept reads the run's user tags (all that may still
    change) when they are first asked for; the run's namespace is often one of its
    system tags, which it has already.
    """

    KIND = "Run"
    __slots__ = ("_end", "_listing", "_record", "_tags_read")
    _record: RunRecord

    def __init__(
        self,
        handle: StoreHandle,
        record: RunRecord,
        *,
        listing: RunListing | None = None,
        tags_read: bool = True,
    ) -> None:
        self.handle = handle
        self._record = record
        #: The listing the run was found in, which reads its ``end`` task with others'.
        self._listing = listing
        #: Whether the record's user tags were read for this node (else they may be old).
        self._tags_read = tags_read
        #: The ``end`` step's newest task as read once the run had ended, or UNKNOWN.
        self._end: TaskView | None | object = UNKNOWN

    @classmethod
    def open(
        cls, handle: StoreHandle, flow: str, run_id: str, *, with_end: bool = False
    ) -> RunNode:
        """The run ``flow/run_id``; ``with_end`` reads its ``end`` task in the same query
        (what ``Run(pathspec).data`` needs next: one round trip to a server for both).
        An ended run whose view the handle kept is not read at all.

        :raises NotFound: if it does not exist.
        """
        kept = handle.ended.get(flow, run_id)
        if kept is not None:
            node = cls(handle, kept.run, tags_read=False)
            node._end = kept.newest
            return node
        if not with_end:
            return cls(handle, handle.metadata.get_run(flow, run_id))
        view = handle.metadata.get_run_view(flow, run_id, END_STEP)
        node = cls(handle, view.run)
        node._take(view)
        return node

    def _take(self, view: RunView) -> None:
        """Take the record and ``end`` task of ``view`` (read together): the task is kept,
        here and in the handle, if the run had ended when they were read."""
        self._record, self._tags_read = view.run, True
        if view.run.status != RunState.RUNNING:  # read with a final run: final too
            self._end = view.newest
            self.handle.ended.keep(view)

    def other_run(self, flow: str, run_id: str) -> RunNode:
        """Another run of the same stores (where a cloned task's parents may be)."""
        return RunNode.open(self.handle, flow, run_id)

    @property
    def record(self) -> RunRecord:
        """The run's record as last read (its user tags may be older still: read them with
        :attr:`user_tags` or :meth:`current`)."""
        return self._record

    @property
    def parent(self) -> FlowNode:
        return FlowNode(self.handle, self._record.flow, None)

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags, as read for this node (when first asked, for a node made
        from what the handle kept)."""
        self._read_tags()
        return frozenset(self._record.user_tags)

    def _read_tags(self) -> None:
        """Read the record again if its user tags were not read for this node."""
        if not self._tags_read:
            self._record = self.handle.metadata.get_run(self._record.flow, self._record.run_id)
            self._tags_read = True

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
        """The run's record, read again if the cached one says it is still running (or
        its user tags were not read for this node).

        A run still marked running whose supervisor is gone is recorded as crashed first,
        so that no run reads as running forever.
        """
        self._read_tags()
        if self._record.status == RunState.RUNNING:
            flow, run_id = self._record.flow, self._record.run_id
            record = self.handle.metadata.get_run(flow, run_id)
            if record.status == RunState.RUNNING and self.handle.is_stale(record):
                mark_crashed_runs(
                    self.handle.metadata, self.handle.root, self.handle.heartbeat_timeout, flow
                )
                record = self.handle.metadata.get_run(flow, run_id)
            self._record = record
        return self._record

    def state(self) -> str:
        """The run's status, read again while the record says it is running (as
        :meth:`current` does; an ended run's status never changes)."""
        if self._record.status != RunState.RUNNING:
            return self._record.status
        return self.current().status

    def settled(self) -> bool:
        """Whether the run has ended: nothing in it changes any more but its user tags."""
        return self.state() != RunState.RUNNING

    def successful(self) -> bool:
        return self.state() == RunState.SUCCEEDED

    def status(self) -> str:
        return self.state()

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
        """The task of the ``end`` step, or ``None`` if it has not started.

        A run of a listing has its ``end`` task read with those of the next runs of the
        listing (see :class:`~._views.RunListing`); a run that was running then is read
        again on its own.
        """
        if self._end is UNKNOWN and self._record.status != RunState.RUNNING:
            kept = self.handle.ended.get(self._record.flow, self._record.run_id)
            if kept is not None:
                self._end = kept.newest
        if self._end is UNKNOWN and self._listing is not None:
            listed = self._listing.view(self._record.run_id)
            if listed is not None:
                self._take(listed)
        settled = self.settled()  # asked first: an attempt read after that is final
        if self._end is UNKNOWN:
            r = self._record
            view = self.handle.metadata.newest_task(r.flow, r.run_id, END_STEP)  # one query
            if settled:
                self._end = view
                self.handle.ended.keep(RunView(run=r, newest=view))
        else:
            view = self._end  # type: ignore[assignment]
        if view is None:
            return None
        task = TaskNode(StepNode(self, view.step), view.task, None)
        if view.attempt is not None and (settled or view.attempt.state == AttemptState.SUCCEEDED):
            task._attempt, task._final, task._artifacts = view.attempt, True, view.artifacts
        return task

    def data(self, preload: tuple[str, ...] | None = None) -> TaskData | None:
        end = self.end_task()
        return None if end is None else end.data(preload)

    def add_tag(self, tag: str) -> None:
        """Add the user tag ``tag`` (see ``Run.add_tag``)."""
        self.edit_tags((), [one_tag("add_tag", tag)])

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags (see ``Run.add_tags``)."""
        self.edit_tags((), tags)

    def remove_tag(self, tag: str) -> None:
        """Remove the user tag ``tag`` (see ``Run.remove_tag``)."""
        self.edit_tags([one_tag("remove_tag", tag)], ())

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags (see ``Run.remove_tags``)."""
        self.edit_tags(tags, ())

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove a tag, then add one, atomically (see ``Run.replace_tag``)."""
        self.edit_tags(
            [one_tag("replace_tag", tag_to_remove)], [one_tag("replace_tag", tag_to_add)]
        )

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove tags, then add tags, atomically (see ``Run.replace_tags``)."""
        self.edit_tags(*some_tags(tags_to_remove, tags_to_add))

    def edit_tags(self, remove: Iterable[str], add: Iterable[str]) -> None:
        """Remove user tags, then add some, in one transaction (the store's tag rules)."""
        flow, run_id = self._record.flow, self._record.run_id
        # A string is passed on as it is, for the store to refuse; other iterables are read
        # once here, since the store goes over them more than once.
        removed = remove if isinstance(remove, str) else list(remove)
        added = add if isinstance(add, str) else list(add)
        self._record = self.handle.metadata.replace_tags(flow, run_id, removed, added)
        self._tags_read = True


# -- steps -------------------------------------------------------------------------------


class StepNode(RecordNode):
    """A step of a run: the tasks that ran its function."""

    KIND = "Step"
    __slots__ = ("_origin", "_record", "run")
    _record: StepRecord

    def __init__(self, run: RunNode, record: StepRecord) -> None:
        self.handle = run.handle
        self.run = run
        self._record = record
        self._origin: str | None | object = UNKNOWN

    @property
    def name(self) -> str:
        return self._record.step

    @property
    def parent(self) -> RunNode:
        return self.run

    @property
    def origin_pathspec(self) -> str | None:
        """The step of the origin run, when this step's tasks were cloned from it.

        Only a resumed run has one; finding out reads the step's tasks, once.
        """
        if self.run.origin_pathspec is None:
            return None
        if self._origin is UNKNOWN:
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

    def control_tasks(self, *tags: str) -> list[TaskNode]:
        """The control tasks of a ``@parallel`` step (node 0 of each group); none unless
        the run carries every tag in ``tags``."""
        return [
            task
            for task in self.tasks(tags)
            if task.metadata_dict().get("internal_task_type") == "control"
        ]

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
        ended = [a.finished_at for a in attempts if a.state != AttemptState.RUNNING]
        if count == 0 or len(ended) < count or None in ended:
            return None
        return to_datetime(max(ts for ts in ended if ts is not None))

    def successful(self) -> bool:
        """Whether every task of the step succeeded (at its last attempt)."""
        count, attempts = self._last_attempts()
        return (
            count > 0
            and len(attempts) == count
            and all(a.state == AttemptState.SUCCEEDED for a in attempts)
        )

    def environment_info(self) -> dict[str, str]:
        task = self.any_task()
        return {} if task is None else task.environment_info()
