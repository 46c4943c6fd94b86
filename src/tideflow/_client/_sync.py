"""The blocking client: ``Flow``, ``Run``, ``Step``, ``Task``, ``DataArtifact``, ``Flows``.

Each object wraps a node and calls it directly, in the caller's thread: the queries are
short indexed SQLite reads and small file reads, so they work the same in a script, a
worker thread or a coroutine (where they block the loop only for that long). The async
twins in ``_async`` call the same nodes in worker threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from .._exceptions import NamespaceMismatch, NotFound, TaskException
from .._metadata._tags import one_tag, some_tags
from ._common import ClientObject
from ._data import Metadata, TaskArtifacts, TaskData
from ._namespace import get_namespace
from ._nodes import (
    ArtifactNode,
    FlowNode,
    Node,
    RunNode,
    StepNode,
    TaskNode,
    list_flows,
    open_node,
    to_datetime,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

    from .._config import Config

__all__ = ("ChildList", "DataArtifact", "Flow", "Flows", "Run", "Step", "Task", "wrap")

T = TypeVar("T")


class ChildList(Generic[T]):
    """What ``Flow.runs``, ``Run.steps`` and ``Step.tasks`` give: call it, iterate it or
    index it.

    ``flow.runs()`` and ``flow.runs('tag')`` return an iterator, as in the reference API;
    ``for run in flow.runs``, ``flow.runs[0]`` and ``len(flow.runs)`` work too, and a
    string looks a child up by id, as ``run.steps['start']``. The list is read from the
    store when it is first used, and kept.
    """

    __slots__ = ("_fetch", "_items", "_lookup", "_owner")

    def __init__(
        self,
        owner: str,
        fetch: Callable[[tuple[str, ...]], list[T]],
        lookup: Callable[[str], T],
    ) -> None:
        self._owner = owner
        self._fetch = fetch
        self._lookup = lookup
        self._items: list[T] | None = None

    def __repr__(self) -> str:
        return f"<children of {self._owner}>"

    def __call__(self, *tags: str) -> Iterator[T]:
        """Return an iterator over the children whose run carries every tag in ``tags``."""
        return iter(self._fetch(tags))

    def _list(self) -> list[T]:
        if self._items is None:
            self._items = self._fetch(())
        return self._items

    def __iter__(self) -> Iterator[T]:
        """Iterate over every child, newest first."""
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())

    @overload
    def __getitem__(self, index: int | str) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | str | slice) -> T | list[T]:
        """The child at a position (newest first), or the child with the id ``index``.

        :raises KeyError: if ``index`` is a string that names no child.
        """
        if isinstance(index, str):
            return self._lookup(index)
        return self._list()[index]


class _Object(ClientObject):
    """A blocking client object: a node, called in the caller's thread."""

    __slots__ = ("_sync_node",)
    _sync_node: Node

    def __init__(
        self,
        pathspec: str | None = None,
        attempt: int | None = None,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        self._sync_node = open_node(
            self._NODE, pathspec, attempt, namespace_check=_namespace_check, root=_root
        )

    @classmethod
    def _from_node(cls, node: Node) -> Self:
        obj = cls.__new__(cls)
        obj._sync_node = node
        return obj

    @property
    def _node(self) -> Node:
        return self._sync_node

    def _wrap(self, node: Node) -> Any:
        return wrap(node)

    def is_in_namespace(self) -> bool:
        """Return whether this object is in the current namespace (a flow is when one of
        its runs is)."""
        return self._node.in_namespace(get_namespace())


class _Parent(_Object):
    """A blocking client object that has children: a flow, run, step or task."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the children, newest first."""
        return iter([wrap(node) for node in self._node.children()])

    def __getitem__(self, id: str) -> Any:
        """Return the child ``id``.

        :raises KeyError: if there is no such child.
        """
        try:
            return wrap(self._node.child(id))
        except NotFound as exc:
            raise KeyError(id) from exc

    def __contains__(self, id: object) -> bool:
        """Return whether the child ``id`` exists."""
        return isinstance(id, str) and self._node.has_child(id)


class Flow(_Parent):
    """A flow: every run of one ``FlowSpec`` subclass. ``Flow('HelloFlow')``.

    Iterating a flow gives its runs in the current namespace, newest first, and
    ``flow[run_id]`` checks the run against the namespace as ``Run(pathspec)`` does.

    :param pathspec: the flow's name.
    :raises NotFound: if the flow has never run.
    :raises NamespaceMismatch: if none of its runs is in the current namespace.
    """

    __slots__ = ()
    _NODE = FlowNode
    _sync_node: FlowNode

    @property
    def name(self) -> str:
        """The flow's name."""
        return self._sync_node.name

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, finished or not; ``None`` if none."""
        node = self._sync_node.latest_run()
        return None if node is None else Run._from_node(node)

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest successful run in the current namespace; ``None`` if none."""
        node = self._sync_node.latest_run(successful=True)
        return None if node is None else Run._from_node(node)

    @property
    def runs(self) -> ChildList[Run]:
        """The runs in the current namespace, newest first: ``flow.runs(*tags)`` keeps
        those that carry every tag in ``tags``."""
        return ChildList(
            self.pathspec,
            lambda tags: [Run._from_node(n) for n in self._sync_node.runs(tags)],
            self.__getitem__,
        )

    def __iter__(self) -> Iterator[Run]:
        """Iterate over the runs in the current namespace, newest first."""
        return iter(self.runs)

    def __getitem__(self, id: str) -> Run:
        """Return the run ``id`` (in any namespace).

        :raises KeyError: if there is no such run.
        """
        return super().__getitem__(id)  # type: ignore[no-any-return]


class Run(_Parent):
    """One run of a flow. ``Run('HelloFlow/1763480462110811')``.

    Iterating a run gives its steps, newest first. Properties that can change while the run
    is going (``successful``, ``finished``, ``data``...) ask the store again on each use.

    :param pathspec: ``'FlowName/RunID'``.
    :param attempt: accepted for compatibility; only tasks and artifacts have attempts.
    :raises InvalidPathspec: if ``pathspec`` does not look like ``'FlowName/RunID'``.
    :raises NotFound: if the run does not exist.
    :raises NamespaceMismatch: if the run is not in the current namespace.
    """

    __slots__ = ()
    _NODE = RunNode
    _sync_node: RunNode

    @property
    def data(self) -> TaskData | None:
        """The artifacts of the ``end`` task (``run.data.my_var``); ``None`` before it runs."""
        return self._sync_node.data()

    @property
    def successful(self) -> bool:
        """Whether the run ended successfully."""
        return self._sync_node.successful()

    @property
    def status(self) -> str:
        """The run's stored state (beyond the reference): ``running``, ``succeeded``,
        ``failed``, ``cancelled``, ``timeout`` or ``crashed`` (its supervisor vanished)."""
        return self._sync_node.status()

    @property
    def finished(self) -> bool:
        """Whether the run's ``end`` step completed (successfully or not).

        A run that failed, crashed or was cancelled before ``end`` is not finished; its
        ``status`` says which.
        """
        return self._sync_node.finished()

    @property
    def finished_at(self) -> datetime | None:
        """When the ``end`` task completed (UTC): exactly its ``finished_at``; ``None``
        until ``end`` has completed."""
        return self._sync_node.finished_at()

    @property
    def end_task(self) -> Task | None:
        """The task of the ``end`` step; ``None`` before it starts."""
        node = self._sync_node.end_task()
        return None if node is None else Task._from_node(node)

    @property
    def code(self) -> None:
        """The run's code package: always ``None``, tideflow runs code where it is."""
        return None

    @property
    def trigger(self) -> None:
        """The events that triggered the run: always ``None`` (runs are started by hand)."""
        return None

    @property
    def steps(self) -> ChildList[Step]:
        """The steps, newest first. ``run.steps()`` is the reference's legacy alias of
        iterating the run; its tag arguments are ignored."""
        return ChildList(
            self.pathspec,
            lambda tags: [Step._from_node(n) for n in self._sync_node.steps()],
            self.__getitem__,
        )

    def __iter__(self) -> Iterator[Step]:
        """Iterate over the steps, newest first."""
        return iter(self.steps)

    def __getitem__(self, name: str) -> Step:
        """Return the step ``name``.

        :raises KeyError: if the run has no such step.
        """
        return super().__getitem__(name)  # type: ignore[no-any-return]

    def add_tag(self, tag: str) -> None:
        """Add a user tag. Adding a tag that is already a system tag does nothing.

        :raises TagError: if the tag is not a non-empty string of at most 500 characters,
            or the run would have more than 50 user tags.
        """
        self._sync_node.edit_tags((), [one_tag("add_tag", tag)])

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags; system tags among them are left out. See :meth:`add_tag`."""
        self._sync_node.edit_tags((), tags)

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag. Removing a tag the run does not have does nothing.

        :raises TagError: if the tag is a system tag.
        """
        self._sync_node.edit_tags([one_tag("remove_tag", tag)], ())

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags. See :meth:`remove_tag`."""
        self._sync_node.edit_tags(tags, ())

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove a tag, then add one, atomically: both happen or neither does."""
        self._sync_node.edit_tags(
            [one_tag("replace_tag", tag_to_remove)], [one_tag("replace_tag", tag_to_add)]
        )

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove tags, then add tags, atomically. See :meth:`add_tag` and
        :meth:`remove_tag` for the rules.

        :raises TagError: if there is no tag to remove and none to add.
        """
        self._sync_node.edit_tags(*some_tags(tags_to_remove, tags_to_add))


class Step(_Parent):
    """A step of a run: the tasks that ran its function. ``Step('HelloFlow/1763.../start')``.

    Iterating a step gives its tasks, newest first (several for a foreach body).

    :param pathspec: ``'FlowName/RunID/StepName'``.
    :param attempt: accepted for compatibility; only tasks and artifacts have attempts.
    """

    __slots__ = ()
    _NODE = StepNode
    _sync_node: StepNode

    @property
    def name(self) -> str:
        """The step's name."""
        return self._sync_node.name

    @property
    def task(self) -> Task | None:
        """A task of the step: its only one, or the newest of a foreach body."""
        node = self._sync_node.any_task()
        return None if node is None else Task._from_node(node)

    @property
    def tasks(self) -> ChildList[Task]:
        """The tasks, newest first: ``step.tasks(*tags)``, ``for task in step.tasks``,
        ``step.tasks[0]``. With tags, none unless the run carries every one."""
        return ChildList(
            self.pathspec,
            lambda tags: [Task._from_node(n) for n in self._sync_node.tasks(tags)],
            self.__getitem__,
        )

    @property
    def finished_at(self) -> datetime | None:
        """When the last task of the step ended; ``None`` while one still runs."""
        return self._sync_node.finished_at()

    @property
    def successful(self) -> bool:
        """Whether every task of the step succeeded."""
        return self._sync_node.successful()

    @property
    def environment_info(self) -> dict[str, str]:
        """Where the step's tasks ran (see :attr:`Task.environment_info`)."""
        return self._sync_node.environment_info()

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps that come right before this one in the flow's graph (those the run
        has: the cases a switch did not take have no step)."""
        parents, _ = self._sync_node.neighbours()
        return iter([Step._from_node(node) for node in parents])

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps that come right after this one in the flow's graph (those the run
        has)."""
        _, children = self._sync_node.neighbours()
        return iter([Step._from_node(node) for node in children])

    def control_tasks(self, *tags: str) -> Iterator[Task]:
        """The control tasks of a ``@parallel`` step (node 0 of each group); with tags,
        none unless the run carries every one."""
        return iter(
            [
                Task._from_node(node)
                for node in self._sync_node.tasks(tags)
                if node.metadata_dict().get("internal_task_type") == "control"
            ]
        )

    def __iter__(self) -> Iterator[Task]:
        """Iterate over the tasks, newest first."""
        return iter(self.tasks)

    def __getitem__(self, task_id: str) -> Task:
        """Return the task ``task_id``.

        :raises KeyError: if the step has no such task.
        """
        return super().__getitem__(task_id)  # type: ignore[no-any-return]


class Task(_Parent):
    """One task of a step, at its latest attempt or at ``attempt``.

    ``Task('HelloFlow/1763.../start/1')``. Iterating a task gives its artifacts as
    :class:`DataArtifact` objects. Without ``attempt``, the status, logs and artifacts are
    those of the latest attempt that started, asked for again while it may still change.

    :param pathspec: ``'FlowName/RunID/StepName/TaskID'``.
    :param attempt: the attempt to describe (0 is the first); default: the latest.
    :raises NotFound: if the task, or that attempt of it, does not exist.
    """

    __slots__ = ()
    _NODE = TaskNode
    _sync_node: TaskNode

    @property
    def data(self) -> TaskData:
        """The artifact values: ``task.data.my_var`` (a missing name raises
        :exc:`AttributeError`)."""
        return self._sync_node.data()

    @property
    def artifacts(self) -> TaskArtifacts[DataArtifact]:
        """The artifacts as :class:`DataArtifact` objects: ``task.artifacts.my_var.sha``."""
        return TaskArtifacts(
            self.pathspec,
            {a.name: DataArtifact._from_node(a) for a in self._sync_node.artifacts()},
        )

    @property
    def metadata(self) -> list[Metadata]:
        """The metadata events of every attempt (of the given attempt only, if one was)."""
        return [
            Metadata(r.name, r.value, to_datetime(r.created_at), r.type, self)
            for r in self._sync_node.metadata()
        ]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The latest value of each metadata name, such as ``ds-root`` or ``attempt``."""
        return self._sync_node.metadata_dict()

    @property
    def successful(self) -> bool:
        """Whether the attempt succeeded."""
        return self._sync_node.successful()

    @property
    def status(self) -> str | None:
        """The attempt's stored state (beyond the reference): ``running``, ``succeeded``,
        ``failed``, ``cancelled``, ``timeout`` or ``crashed``; ``None`` before it starts."""
        return self._sync_node.status()

    @property
    def finished(self) -> bool:
        """Whether the attempt has ended, successfully or not."""
        return self._sync_node.finished()

    @property
    def finished_at(self) -> datetime | None:
        """When the attempt ended (UTC); ``None`` while it runs."""
        return self._sync_node.finished_at()

    @property
    def exception(self) -> TaskException | None:
        """What the attempt raised, if it failed: ``.type``, ``.message``, ``.traceback``."""
        return self._sync_node.exception()

    @property
    def runtime_name(self) -> str | None:
        """The runtime the task ran on: ``'dev'`` for local runs."""
        return self._sync_node.runtime_name

    @property
    def stdout(self) -> str:
        """The attempt's standard output so far (all of it once it ended)."""
        return self._sync_node.log_text("stdout")

    @property
    def stdout_size(self) -> int:
        """The size of :attr:`stdout` in bytes, so far."""
        return self._sync_node.log_size("stdout")

    @property
    def stderr(self) -> str:
        """The attempt's standard error so far (all of it once it ended)."""
        return self._sync_node.log_text("stderr")

    @property
    def stderr_size(self) -> int:
        """The size of :attr:`stderr` in bytes, so far."""
        return self._sync_node.log_size("stderr")

    @property
    def current_attempt(self) -> int:
        """The attempt described: the one given, else the latest one started (0 before
        the first)."""
        return self._sync_node.current_attempt()

    @property
    def attempt(self) -> int:
        """Same as :attr:`current_attempt`."""
        return self._sync_node.current_attempt()

    @property
    def code(self) -> None:
        """The task's code package: always ``None``, tideflow runs code where it is."""
        return None

    @property
    def environment_info(self) -> dict[str, str]:
        """Where the attempt ran: ``runtime``, ``python_version``, ``executor`` (and
        ``platform`` when recorded)."""
        return self._sync_node.environment_info()

    @property
    def index(self) -> int | None:
        """The task's index in the innermost foreach around it; ``None`` outside one."""
        return self._sync_node.index

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks whose output this task took as input."""
        return iter([Task._from_node(n) for n in self._sync_node.parent_tasks()])

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that took this task's output as input."""
        return iter([Task._from_node(n) for n in self._sync_node.child_tasks()])

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        """The pathspecs of :attr:`parent_tasks`."""
        return iter(self._sync_node.parent_task_pathspecs)

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """The pathspecs of :attr:`child_tasks`."""
        return iter(self._sync_node.child_task_pathspecs())

    def loglines(
        self, stream: str, as_unicode: bool = True, meta_dict: dict[str, Any] | None = None
    ) -> Iterator[tuple[datetime, Any]]:
        """Return an iterator over ``(utc_timestamp, line)`` of a log, so far.

        :param stream: ``'stdout'`` or ``'stderr'``.
        :param as_unicode: ``False`` gives each line as bytes.
        :param meta_dict: accepted for compatibility; unused.
        :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``.
        """
        return iter(list(self._sync_node.loglines(stream, as_unicode)))

    def __iter__(self) -> Iterator[DataArtifact]:
        """Iterate over the artifacts, by name."""
        return iter([DataArtifact._from_node(n) for n in self._sync_node.artifacts()])

    def __getitem__(self, name: str) -> DataArtifact:
        """Return the artifact ``name``.

        :raises KeyError: if the task has no such artifact.
        """
        return super().__getitem__(name)  # type: ignore[no-any-return]


class DataArtifact(_Object):
    """One artifact of a task attempt: ``DataArtifact('HelloFlow/1763.../start/1/x')``.

    :param pathspec: ``'FlowName/RunID/StepName/TaskID/ArtifactName'``.
    :param attempt: the task attempt; default: the latest.
    """

    __slots__ = ()
    _NODE = ArtifactNode
    _sync_node: ArtifactNode

    @property
    def data(self) -> Any:
        """The artifact's value, read from the datastore."""
        return self._sync_node.value()

    @property
    def sha(self) -> str:
        """The SHA-256 key of the stored value."""
        return self._sync_node.sha

    @property
    def size(self) -> int:
        """The size of the stored value, in bytes."""
        return self._sync_node.size

    @property
    def finished_at(self) -> datetime:
        """When the artifact was stored (UTC)."""
        return self._sync_node.finished_at


class Flows:
    """Every flow of the store, as :class:`Flow` objects: ``for flow in Flows()``.

    Iteration gives the flows, by name, that have a run in the current namespace
    (every flow under ``namespace(None)``). ``Metaflow`` is another name for this class.

    :param _namespace_check: ``False`` lists every flow whatever the namespace.
    :param _root: the store folder (default: found as for every client object).
    """

    __slots__ = ("_namespace_check", "_root")

    def __init__(
        self,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        self._namespace_check = _namespace_check
        self._root = _root

    def __repr__(self) -> str:
        return "Flows()"

    @property
    def flows(self) -> list[Flow]:
        """The flows, by name."""
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        """Iterate over the flows, by name."""
        return iter([Flow._from_node(n) for n in list_flows(self._root, self._namespace_check)])

    def __getitem__(self, name: str) -> Flow:
        """Return the flow ``name``.

        :raises KeyError: if there is no such flow (in the current namespace, unless the
            listing skips the check).
        """
        try:
            return Flow(name, _namespace_check=self._namespace_check, _root=self._root)
        except (NotFound, NamespaceMismatch) as exc:
            raise KeyError(name) from exc

    def __contains__(self, name: object) -> bool:
        """Return whether the flow ``name`` is listed: it has a run in the namespace."""
        try:
            self[name]  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return False
        return True


_FACADES: dict[type[Node], type[_Object]] = {
    FlowNode: Flow,
    RunNode: Run,
    StepNode: Step,
    TaskNode: Task,
    ArtifactNode: DataArtifact,
}


def wrap(node: Node) -> Any:
    """The blocking client object for ``node``."""
    return _FACADES[type(node)]._from_node(node)
